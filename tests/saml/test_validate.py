"""services.saml.validate: the acceptance rules of the Web Browser SSO profile."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import pytest
from cryptography import x509
from lxml import etree

from services.keys import KeyPair
from services.saml import bindings, build, signing
from services.saml.constants import ALG_RSA_SHA1, NS, STATUS_REQUEST_DENIED
from services.saml.errors import SamlError
from services.saml.validate import validate_authn_request, validate_response
from services.saml.xml import parse, to_bytes
from tests.saml.conftest import ACS, ATTRIBUTES, IDP, NOW, REQUEST_ID, SP, MakeResponse

Trust = Callable[[str], Sequence[x509.Certificate] | None]
LIMIT = 256 * 1024


def _validate(root: etree._Element, trust: Trust, **kwargs: Any) -> Any:
    options: dict[str, Any] = {
        "certificates_for": trust,
        "sp_entity_id": SP,
        "acs_url": ACS,
        "in_response_to": REQUEST_ID,
        "now": NOW + timedelta(seconds=5),
    }
    options.update(kwargs)
    return validate_response(root, **options)


def _code(root: etree._Element, trust: Trust, **kwargs: Any) -> str:
    with pytest.raises(SamlError) as caught:
        _validate(root, trust, **kwargs)
    return caught.value.code


def _wire(root: etree._Element) -> etree._Element:
    return parse(to_bytes(root), max_bytes=LIMIT)


# --- acceptance ----------------------------------------------------------------------------


def test_post_round_trip_yields_the_signed_values(
    make_response: MakeResponse, trust: Trust
) -> None:
    page = bindings.post_form(ACS, kind="SAMLResponse", message=make_response(), relay_state="r")
    value = re.search(r'name="SAMLResponse" value="([^"]+)"', page)
    assert value is not None
    result = _validate(bindings.decode_post(value.group(1), max_bytes=LIMIT), trust)
    assert result.issuer == IDP
    assert result.name_id == "_transient42"
    assert result.session_index == "_session1"
    assert result.in_response_to == REQUEST_ID
    assert result.attributes == {k: list(v) for k, v in ATTRIBUTES.items()}
    assert result.signed_parts == ("response", "assertion")
    assert result.authn_instant == NOW
    assert result.not_on_or_after == NOW + timedelta(seconds=300) + timedelta(minutes=2)


def test_only_the_assertion_signed_is_accepted(make_response: MakeResponse, trust: Trust) -> None:
    result = _validate(_wire(make_response(sign_response=False)), trust)
    assert result.signed_parts == ("assertion",)


def test_only_the_response_signed_is_accepted(make_response: MakeResponse, trust: Trust) -> None:
    result = _validate(_wire(make_response(sign_assertion=False)), trust)
    assert result.signed_parts == ("response",)


def test_clock_skew_is_tolerated(make_response: MakeResponse, trust: Trust) -> None:
    late = NOW + timedelta(seconds=300 + 60)
    assert _validate(_wire(make_response()), trust, now=late).name_id == "_transient42"


def test_duplicate_attribute_names_are_merged(
    make_response: MakeResponse, trust: Trust, idp_keys: KeyPair
) -> None:
    root = make_response(sign_response=False, sign_assertion=False)
    statement = root.find("saml:Assertion/saml:AttributeStatement", NS)
    assert statement is not None
    extra = etree.SubElement(statement, f"{{{NS['saml']}}}Attribute", Name="profile")
    etree.SubElement(extra, f"{{{NS['saml']}}}AttributeValue").text = "National_doc"
    result = _validate(_wire(signing.sign(root, idp_keys)), trust)
    assert result.attributes["profile"] == ["National_elv", "National_ens", "National_doc"]


def test_unsolicited_response_is_accepted_when_allowed(
    make_response: MakeResponse, trust: Trust
) -> None:
    root = make_response(response_in_response_to=None, in_response_to=None)
    result = _validate(root, trust, in_response_to=None, allow_unsolicited=True)
    assert result.in_response_to is None


# --- refusals ------------------------------------------------------------------------------


def test_unsigned_response_is_refused(make_response: MakeResponse, trust: Trust) -> None:
    root = make_response(sign_response=False, sign_assertion=False)
    assert _code(_wire(root), trust) == "saml.signature.missing"


def test_response_signed_by_another_key_is_refused(
    make_response: MakeResponse, trust: Trust, attacker_keys: KeyPair
) -> None:
    assert _code(make_response(keys=attacker_keys), trust) == "saml.signature.invalid"


def test_assertion_signed_by_another_key_is_refused(
    make_response: MakeResponse, trust: Trust, attacker_keys: KeyPair
) -> None:
    root = make_response(keys=attacker_keys, sign_response=False)
    assert _code(root, trust) == "saml.signature.invalid"


def test_attribute_tampered_after_signing_is_refused(
    make_response: MakeResponse, trust: Trust
) -> None:
    data = to_bytes(make_response())
    tampered = data.replace(b"National_elv", b"National_dir")
    assert tampered != data
    assert _code(parse(tampered, max_bytes=LIMIT), trust) == "saml.signature.invalid"


def test_expired_assertion_is_refused(make_response: MakeResponse, trust: Trust) -> None:
    later = NOW + timedelta(minutes=10)
    assert _code(make_response(), trust, now=later) == "saml.time.expired"


def test_expired_subject_confirmation_is_refused(
    make_response: MakeResponse, trust: Trust, idp_keys: KeyPair
) -> None:
    root = make_response(sign_response=False, sign_assertion=False)
    data = root.find(
        "saml:Assertion/saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", NS
    )
    assert data is not None
    data.set("NotOnOrAfter", build.instant(NOW - timedelta(minutes=5)))
    root = signing.sign(root, idp_keys)
    assert _code(root, trust) == "saml.time.expired"


def test_not_yet_valid_assertion_is_refused(make_response: MakeResponse, trust: Trust) -> None:
    earlier = NOW - timedelta(minutes=10)
    assert _code(make_response(), trust, now=earlier) == "saml.time.not_yet_valid"


def test_wrong_audience_is_refused(make_response: MakeResponse, trust: Trust) -> None:
    root = make_response(audience="https://other-sp.example.test")
    assert _code(root, trust) == "saml.audience.mismatch"


def test_wrong_destination_is_refused(make_response: MakeResponse, trust: Trust) -> None:
    root = make_response(destination="https://other-sp.example.test/acs")
    assert _code(root, trust) == "saml.destination.mismatch"


def test_signed_response_without_destination_is_refused(
    make_response: MakeResponse, trust: Trust, idp_keys: KeyPair
) -> None:
    root = make_response(sign_response=False)
    del root.attrib["Destination"]
    root = signing.sign(root, idp_keys)
    assert _code(root, trust) == "saml.destination.mismatch"


def test_wrong_recipient_is_refused(make_response: MakeResponse, trust: Trust) -> None:
    root = make_response(recipient="https://other-sp.example.test/acs")
    assert _code(root, trust) == "saml.recipient.mismatch"


def test_unknown_issuer_is_refused(
    make_response: MakeResponse, trust: Trust, attacker_keys: KeyPair
) -> None:
    root = make_response(keys=attacker_keys, issuer="https://evil.example.test")
    assert _code(root, trust) == "saml.issuer.unknown"


def test_issuer_other_than_expected_is_refused(make_response: MakeResponse, trust: Trust) -> None:
    root = make_response()
    assert _code(root, trust, expected_issuer="https://other-idp.example.test") == (
        "saml.issuer.mismatch"
    )


def test_response_issuer_differing_from_assertion_issuer_is_refused(
    make_response: MakeResponse, trust: Trust
) -> None:
    root = make_response(response_issuer="https://other-idp.example.test")
    assert _code(root, trust) == "saml.issuer.mismatch"


def test_in_response_to_mismatch_is_refused(make_response: MakeResponse, trust: Trust) -> None:
    assert _code(make_response(), trust, in_response_to="_another") == (
        "saml.in_response_to.mismatch"
    )


def test_response_level_in_response_to_mismatch_is_refused(
    make_response: MakeResponse, trust: Trust
) -> None:
    root = make_response(response_in_response_to="_another")
    assert _code(root, trust) == "saml.in_response_to.mismatch"


def test_unsolicited_response_is_refused_when_not_allowed(
    make_response: MakeResponse, trust: Trust
) -> None:
    root = make_response(response_in_response_to=None, in_response_to=None)
    assert _code(root, trust, in_response_to=None) == "saml.in_response_to.unsolicited"


def test_answer_to_an_unknown_request_is_refused_even_when_unsolicited_allowed(
    make_response: MakeResponse, trust: Trust
) -> None:
    assert _code(make_response(), trust, in_response_to=None, allow_unsolicited=True) == (
        "saml.in_response_to.mismatch"
    )


def test_non_success_status_is_refused(trust: Trust) -> None:
    root = build.response(
        issuer=IDP,
        destination=ACS,
        in_response_to=REQUEST_ID,
        assertion=None,
        status=STATUS_REQUEST_DENIED,
        status_message="Compte bloqué",
    )
    with pytest.raises(SamlError) as caught:
        _validate(root, trust)
    assert caught.value.code == "saml.status.failure"
    assert "RequestDenied" in caught.value.detail
    assert "Compte bloqué" in caught.value.detail


def test_wrong_root_element_is_refused(trust: Trust) -> None:
    request = build.authn_request(issuer=SP, destination=ACS, acs_url=ACS)
    assert _code(request, trust) == "saml.message.unexpected"


def test_wrong_version_is_refused(make_response: MakeResponse, trust: Trust) -> None:
    root = make_response(sign_response=False)
    root.set("Version", "1.1")
    assert _code(root, trust) == "saml.message.unexpected"


def test_response_without_assertion_is_refused(trust: Trust) -> None:
    root = build.response(issuer=IDP, destination=ACS, in_response_to=REQUEST_ID, assertion=None)
    assert _code(root, trust) == "saml.message.unexpected"


def test_encrypted_assertion_is_refused(trust: Trust) -> None:
    root = build.response(issuer=IDP, destination=ACS, in_response_to=REQUEST_ID, assertion=None)
    etree.SubElement(root, f"{{{NS['saml']}}}EncryptedAssertion")
    assert _code(root, trust) == "saml.encrypted.unsupported"


def test_assertion_without_bearer_confirmation_is_refused(
    make_response: MakeResponse, trust: Trust, idp_keys: KeyPair
) -> None:
    root = make_response(sign_response=False, sign_assertion=False)
    confirmation = root.find("saml:Assertion/saml:Subject/saml:SubjectConfirmation", NS)
    assert confirmation is not None
    confirmation.set("Method", "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key")
    root = signing.sign(root, idp_keys)
    assert _code(root, trust) == "saml.subject.confirmation"


def test_assertion_without_audience_restriction_is_refused(
    make_response: MakeResponse, trust: Trust, idp_keys: KeyPair
) -> None:
    root = make_response(sign_response=False, sign_assertion=False)
    conditions = root.find("saml:Assertion/saml:Conditions", NS)
    assert conditions is not None
    for restriction in conditions.findall("saml:AudienceRestriction", NS):
        conditions.remove(restriction)
    root = signing.sign(root, idp_keys)
    assert _code(root, trust) == "saml.audience.mismatch"


def test_sha1_signed_response_is_refused_unless_allowed(
    make_response: MakeResponse, trust: Trust, idp_keys: KeyPair
) -> None:
    root = make_response(sign_response=False, sign_assertion=False)
    root = signing.sign(root, idp_keys, algorithm=ALG_RSA_SHA1)
    assert _code(root, trust) == "saml.signature.algorithm"
    assert _validate(root, trust, allow_sha1=True).signed_parts == ("response",)


def test_comment_injected_name_id_reads_the_full_signed_value(
    make_response: MakeResponse, trust: Trust
) -> None:
    """Comments are outside exclusive c14n, so the signature still holds; a reader that
    stopped at the comment would see another user."""
    data = to_bytes(make_response(name_id="admin@example.test.evil.test"))
    injected = data.replace(b"admin@example.test.evil.test", b"admin@example.test<!---->.evil.test")
    assert injected != data
    result = _validate(parse(injected, max_bytes=LIMIT), trust)
    assert result.name_id == "admin@example.test.evil.test"


# --- AuthnRequest --------------------------------------------------------------------------

SSO = "https://idp.example.test/saml/sso"


def _request_code(root: etree._Element, **kwargs: Any) -> str:
    with pytest.raises(SamlError) as caught:
        validate_authn_request(root, destination=SSO, **kwargs)
    return caught.value.code


def test_fresh_authn_request_is_accepted() -> None:
    request = build.authn_request(
        issuer=SP, destination=SSO, acs_url=ACS, request_id="_r1", now=NOW, force_authn=True
    )
    info = validate_authn_request(request, destination=SSO, now=NOW + timedelta(seconds=3))
    assert info.request_id == "_r1"
    assert info.issuer == SP
    assert info.acs_url == ACS
    assert info.force_authn is True
    assert info.is_passive is False
    assert info.issue_instant == NOW
    assert info.destination == SSO


def test_stale_authn_request_is_refused() -> None:
    request = build.authn_request(issuer=SP, destination=SSO, acs_url=ACS, now=NOW)
    assert _request_code(request, now=NOW + timedelta(minutes=13)) == "saml.time.expired"


def test_authn_request_from_the_future_is_refused() -> None:
    request = build.authn_request(issuer=SP, destination=SSO, acs_url=ACS, now=NOW)
    assert _request_code(request, now=NOW - timedelta(minutes=3)) == "saml.time.not_yet_valid"


def test_authn_request_for_another_destination_is_refused() -> None:
    request = build.authn_request(issuer=SP, destination="https://x.test/sso", acs_url=ACS, now=NOW)
    assert _request_code(request, now=NOW) == "saml.destination.mismatch"


def test_authn_request_without_issuer_is_refused() -> None:
    request = build.authn_request(issuer=SP, destination=SSO, acs_url=ACS, now=NOW)
    issuer = request.find("saml:Issuer", NS)
    assert issuer is not None
    request.remove(issuer)
    assert _request_code(request, now=NOW) == "saml.message.unexpected"


def test_authn_request_with_bad_boolean_is_refused() -> None:
    request = build.authn_request(issuer=SP, destination=SSO, acs_url=ACS, now=NOW)
    request.set("IsPassive", "yes")
    assert _request_code(request, now=NOW) == "saml.message.unexpected"
