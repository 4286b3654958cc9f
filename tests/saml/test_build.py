"""services.saml.build: message builders and xs:dateTime handling."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.saml import build
from services.saml.constants import (
    BINDING_POST,
    CM_BEARER,
    NAMEID_TRANSIENT,
    NS,
    STATUS_REQUEST_DENIED,
    STATUS_RESPONDER,
)
from services.saml.errors import SamlError
from tests.saml.conftest import ACS, IDP, NOW, SP


def test_new_id_is_an_underscore_and_forty_hex_digits() -> None:
    assert re.fullmatch(r"_[0-9a-f]{40}", build.new_id())
    assert build.new_id() != build.new_id()


def test_instant_is_utc_with_z() -> None:
    paris = timezone(timedelta(hours=1))
    assert build.instant(datetime(2026, 11, 23, 16, 0, 0, 123, tzinfo=paris)) == (
        "2026-11-23T15:00:00Z"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-23T15:00:00Z", datetime(2026, 11, 23, 15, 0, tzinfo=UTC)),
        ("2026-11-23T15:00:00.5Z", datetime(2026, 11, 23, 15, 0, 0, 500000, tzinfo=UTC)),
        ("2026-11-23T16:00:00+01:00", datetime(2026, 11, 23, 15, 0, tzinfo=UTC)),
    ],
)
def test_parse_instant_reads_xs_datetime_as_utc(text: str, expected: datetime) -> None:
    assert build.parse_instant(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "2026-11-23", "2026-11-23T15:00:00", "2026-13-01T00:00:00Z", " 2026-11-23T15:00:00Z", "x"],
)
def test_parse_instant_refuses_anything_else(text: str) -> None:
    with pytest.raises(SamlError) as caught:
        build.parse_instant(text)
    assert caught.value.code == "saml.message.unexpected"


def test_authn_request_asks_for_post_and_transient() -> None:
    request = build.authn_request(
        issuer=SP, destination="https://idp.example.test/sso", acs_url=ACS, now=NOW
    )
    assert request.get("ProtocolBinding") == BINDING_POST
    assert request.get("AssertionConsumerServiceURL") == ACS
    assert request.get("IssueInstant") == "2026-11-23T15:00:00Z"
    policy = request.find("samlp:NameIDPolicy", NS)
    assert policy is not None
    assert policy.get("Format") == NAMEID_TRANSIENT
    assert policy.get("AllowCreate") == "true"
    assert request.findtext("saml:Issuer", namespaces=NS) == SP
    assert request.get("ForceAuthn") is None


def test_assertion_carries_conditions_confirmation_and_typed_attributes() -> None:
    assertion = build.assertion(
        issuer=IDP,
        name_id="_n",
        name_id_format=NAMEID_TRANSIENT,
        audience=SP,
        recipient=ACS,
        in_response_to="_r",
        attributes={"a": ["1", "2"]},
        session_index="_s",
        lifetime_seconds=60,
        now=NOW,
    )
    conditions = assertion.find("saml:Conditions", NS)
    assert conditions is not None
    assert conditions.get("NotOnOrAfter") == "2026-11-23T15:01:00Z"
    assert (
        assertion.findtext("saml:Conditions/saml:AudienceRestriction/saml:Audience", namespaces=NS)
        == SP
    )
    confirmation = assertion.find("saml:Subject/saml:SubjectConfirmation", NS)
    assert confirmation is not None and confirmation.get("Method") == CM_BEARER
    data = confirmation.find("saml:SubjectConfirmationData", NS)
    assert data is not None
    assert (data.get("Recipient"), data.get("InResponseTo")) == (ACS, "_r")
    values = assertion.findall("saml:AttributeStatement/saml:Attribute/saml:AttributeValue", NS)
    assert [v.text for v in values] == ["1", "2"]
    assert all(v.get(f"{{{NS['xsi']}}}type") == "xs:string" for v in values)
    statement = assertion.find("saml:AuthnStatement", NS)
    assert statement is not None and statement.get("SessionIndex") == "_s"


def test_failure_response_nests_second_level_status() -> None:
    response = build.response(
        issuer=IDP,
        destination=ACS,
        in_response_to="_r",
        assertion=None,
        status=STATUS_REQUEST_DENIED,
        status_message="refusé",
    )
    top = response.find("samlp:Status/samlp:StatusCode", NS)
    assert top is not None and top.get("Value") == STATUS_RESPONDER
    assert top.find("samlp:StatusCode", NS).get("Value") == STATUS_REQUEST_DENIED  # type: ignore[union-attr]
    assert response.findtext("samlp:Status/samlp:StatusMessage", namespaces=NS) == "refusé"
