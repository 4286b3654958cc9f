"""The broker's assertion consumer service refuses every bad Response, and changes nothing.

Each case plays a real flow to the identity provider's login page, then answers with a
Response broken in one way. The refusal is a page with a stable code; the database holds
exactly what it held before (no audit record, no consumed state, no remembered assertion).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from lxml import etree
from sqlalchemy import create_engine, text

from services import dataset
from services.keys import generate
from services.saml import signing
from services.saml.constants import ALG_RSA_SHA1, NS
from services.settings import Settings
from tests.flows import forge
from tests.flows.harness import error_code

pytestmark = pytest.mark.anyio

ACS_TABLES = ("audit_records", "consumed_assertions")


def _person_id(settings: Settings, login: str) -> str:
    data = dataset.build(provider_base=settings.provider_base)
    return next(p.person_id for p in data.persons if p.login == login)


def _snapshot(settings: Settings) -> dict[str, int]:
    engine = create_engine(
        settings.sqlalchemy_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as connection:
        counts = {t: connection.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                  for t in ACS_TABLES}
        counts["consumed_states"] = connection.execute(
            text("SELECT count(*) FROM login_states WHERE consumed_at IS NOT NULL")).scalar_one()
    engine.dispose()
    return counts


async def _answer(
    browser: httpx.AsyncClient, pending: forge.Pending, message: bytes | etree._Element, *,
    relay_state: str | None = None,
) -> httpx.Response:
    """Post a Response to the broker's ACS as the identity provider's page would."""
    return await browser.post(pending.acs_url, data={
        "SAMLResponse": forge.encode(message), "RelayState": relay_state or pending.relay_state})


Forger = Callable[[Settings, forge.Pending, dict[str, list[str]]], bytes | etree._Element]


def _good(settings: Settings, pending: forge.Pending,
          attrs: dict[str, list[str]]) -> etree._Element:
    key = forge.idp_key(settings)
    signed = forge.sign(forge.assertion(settings, pending, attrs), key)
    return forge.response(settings, pending, signed)


def _unsigned(settings, pending, attrs):
    return forge.response(settings, pending, forge.assertion(settings, pending, attrs))


def _signed_by_another_key(settings, pending, attrs):
    stranger = generate("stranger")
    return forge.response(settings, pending,
                          forge.sign(forge.assertion(settings, pending, attrs), stranger))


def _attribute_changed_after_signing(settings, pending, attrs):
    root = _good(settings, pending, attrs)
    value = root.find(".//saml:Attribute[@Name='GARPersonIdentifiant']/saml:AttributeValue", NS)
    value.text = "someone-else"
    return root


def _wrapped(settings, pending, attrs):
    """XSW: the signed assertion hidden in Extensions, an unsigned evil one in its place."""
    root = _good(settings, pending, attrs)
    signed = root.find("saml:Assertion", NS)
    evil = copy.deepcopy(signed)
    evil.remove(evil.find("ds:Signature", NS))
    evil.set("ID", "_evil")
    evil.find(".//saml:Attribute[@Name='GARPersonIdentifiant']/saml:AttributeValue", NS).text = "x"
    extensions = etree.SubElement(root, f"{{{NS['samlp']}}}Extensions")
    root.remove(signed)
    extensions.append(signed)
    root.insert(1, extensions)
    root.append(evil)
    return root


def _expired(settings, pending, attrs):
    past = datetime.now(UTC) - timedelta(hours=1)
    return forge.response(settings, pending, forge.sign(
        forge.assertion(settings, pending, attrs, now=past, lifetime=300), forge.idp_key(settings)))


def _not_yet_valid(settings, pending, attrs):
    future = datetime.now(UTC) + timedelta(hours=1)
    return forge.response(settings, pending, forge.sign(
        forge.assertion(settings, pending, attrs, now=future), forge.idp_key(settings)))


def _wrong_audience(settings, pending, attrs):
    return forge.response(settings, pending, forge.sign(
        forge.assertion(settings, pending, attrs, audience="https://other.invalid/sp"),
        forge.idp_key(settings)))


def _wrong_destination(settings, pending, attrs):
    return forge.response(settings, pending, forge.sign(
        forge.assertion(settings, pending, attrs), forge.idp_key(settings)),
        destination="https://other.invalid/acs")


def _wrong_recipient(settings, pending, attrs):
    return forge.response(settings, pending, forge.sign(
        forge.assertion(settings, pending, attrs, recipient="https://other.invalid/acs"),
        forge.idp_key(settings)))


def _unknown_issuer(settings, pending, attrs):
    issuer = "https://unknown-idp.invalid/metadata"
    stranger = generate("unknown idp")
    return forge.response(settings, pending, forge.sign(
        forge.assertion(settings, pending, attrs, issuer=issuer), stranger), issuer=issuer)


def _in_response_to_mismatch(settings, pending, attrs):
    return forge.response(settings, pending, forge.sign(
        forge.assertion(settings, pending, attrs, in_response_to="_another_request"),
        forge.idp_key(settings)), in_response_to="_another_request")


def _unsolicited(settings, pending, attrs):
    return forge.response(settings, pending, forge.sign(
        forge.assertion(settings, pending, attrs, in_response_to=None), forge.idp_key(settings)),
        in_response_to=None)


def _signed_with_sha1(settings, pending, attrs):
    assertion = forge.assertion(settings, pending, attrs)
    return forge.response(settings, pending,
                          signing.sign(assertion, forge.idp_key(settings), algorithm=ALG_RSA_SHA1))


def _with_doctype(settings, pending, attrs):
    body = etree.tostring(_good(settings, pending, attrs))
    return b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "x">]>' + body


def _with_external_entity(settings, pending, attrs):
    return (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            b'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&e;'
            b'</samlp:Response>')


def _oversized(settings, pending, attrs):
    root = _good(settings, pending, attrs)
    root.append(etree.Comment("x" * (settings.max_xml_bytes + 1)))
    return root


CASES: dict[str, tuple[Forger, str]] = {
    "unsigned": (_unsigned, "saml.signature.missing"),
    "signed by another key": (_signed_by_another_key, "saml.signature.invalid"),
    "attribute changed after signing": (_attribute_changed_after_signing, "saml.signature.invalid"),
    "signature wrapping": (_wrapped, "saml.message.unexpected"),
    "expired": (_expired, "saml.time.expired"),
    "not yet valid": (_not_yet_valid, "saml.time.not_yet_valid"),
    "wrong audience": (_wrong_audience, "saml.audience.mismatch"),
    "wrong destination": (_wrong_destination, "saml.destination.mismatch"),
    "wrong recipient": (_wrong_recipient, "saml.recipient.mismatch"),
    "unknown issuer": (_unknown_issuer, "saml.issuer.unknown"),
    "InResponseTo mismatch": (_in_response_to_mismatch, "saml.in_response_to.mismatch"),
    "unsolicited": (_unsolicited, "saml.in_response_to.mismatch"),
    "signed with RSA-SHA1": (_signed_with_sha1, "saml.signature.algorithm"),
    "DTD with an entity": (_with_doctype, "saml.xml.dtd_forbidden"),
    "external entity": (_with_external_entity, "saml.xml.dtd_forbidden"),
    "oversized": (_oversized, "saml.xml.too_large"),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_bad_response_is_refused_with_its_code_and_changes_nothing(
    case: str, browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    make, code = CASES[case]
    pending = await forge.start(browser, testbed_settings, "manuel-maths-4e")
    before = _snapshot(testbed_settings)
    attrs = forge.ent_attributes(_person_id(testbed_settings, "eleve.assigne"))
    message = make(testbed_settings, pending, attrs)
    page = await _answer(browser, pending, message)
    assert page.status_code == 400
    assert error_code(page) == code
    assert "Traceback" not in page.text
    assert _snapshot(testbed_settings) == before


async def test_a_good_forged_response_is_accepted_so_the_rejections_mean_something(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    pending = await forge.start(browser, testbed_settings, "manuel-maths-4e")
    attrs = forge.ent_attributes(_person_id(testbed_settings, "eleve.assigne"))
    page = await _answer(browser, pending, _good(testbed_settings, pending, attrs))
    assert page.status_code == 200
    assert 'id="saml-post"' in page.text


async def test_replayed_response_is_refused_and_changes_nothing(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    pending = await forge.start(browser, testbed_settings, "manuel-maths-4e")
    attrs = forge.ent_attributes(_person_id(testbed_settings, "eleve.assigne"))
    form = {"SAMLResponse": forge.encode(_good(testbed_settings, pending, attrs)),
            "RelayState": pending.relay_state}
    first = await browser.post(pending.acs_url, data=form)
    assert first.status_code == 200
    before = _snapshot(testbed_settings)
    again = await browser.post(pending.acs_url, data=form)
    assert again.status_code == 400
    assert error_code(again) == "sso.state_unknown"
    assert _snapshot(testbed_settings) == before


async def test_a_refused_response_leaves_the_login_state_to_the_right_one(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    """The ACS consumes the state before reading the Response; a refusal rolls that back."""
    pending = await forge.start(browser, testbed_settings, "manuel-maths-4e")
    attrs = forge.ent_attributes(_person_id(testbed_settings, "eleve.assigne"))
    assert (await _answer(browser, pending, _unsigned(testbed_settings, pending, attrs))
            ).status_code == 400
    page = await _answer(browser, pending, _good(testbed_settings, pending, attrs))
    assert (page.status_code, 'id="saml-post"' in page.text) == (200, True)


async def test_response_without_a_login_state_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    pending = await forge.start(browser, testbed_settings, "manuel-maths-4e")
    attrs = forge.ent_attributes(_person_id(testbed_settings, "eleve.assigne"))
    page = await _answer(browser, pending, _good(testbed_settings, pending, attrs),
                         relay_state="forged-state")
    assert page.status_code == 400
    assert error_code(page) == "sso.state_unknown"


async def test_response_that_is_not_base64_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    pending = await forge.start(browser, testbed_settings, "manuel-maths-4e")
    page = await browser.post(pending.acs_url, data={
        "SAMLResponse": "%%%not base64%%%", "RelayState": pending.relay_state})
    assert page.status_code == 400
    assert error_code(page) == "saml.binding.invalid"



async def test_comment_inside_a_signed_identifier_does_not_shorten_it(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    """`elv-000001<!---->x` is the identifier `elv-000001x`, not `elv-000001` (no such person)."""
    pending = await forge.start(browser, testbed_settings, "manuel-maths-4e")
    person_id = _person_id(testbed_settings, "eleve.assigne")
    assertion = forge.assertion(testbed_settings, pending, forge.ent_attributes(person_id + "x"))
    value = assertion.find(
        ".//saml:Attribute[@Name='GARPersonIdentifiant']/saml:AttributeValue", NS)
    value.text = person_id
    value.append(etree.Comment(""))
    value[-1].tail = "x"
    signed = forge.sign(assertion, forge.idp_key(testbed_settings))
    page = await _answer(browser, pending, forge.response(testbed_settings, pending, signed))
    assert page.status_code == 403
    assert error_code(page) == "access.unknown_person"


async def test_expired_login_state_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    pending = await forge.start(browser, testbed_settings, "manuel-maths-4e")
    engine = create_engine(testbed_settings.sqlalchemy_url.replace(
        "postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        connection.execute(text("UPDATE login_states SET expires_at = created_at"))
    engine.dispose()
    attrs = forge.ent_attributes(_person_id(testbed_settings, "eleve.assigne"))
    page = await _answer(browser, pending, _good(testbed_settings, pending, attrs))
    assert page.status_code == 400
    assert error_code(page) == "sso.state_unknown"


async def test_rsa_sha1_is_accepted_only_from_a_peer_allowed_to_use_it(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    from broker.bootstrap import trust_add

    trust_add(testbed_settings, str(testbed_settings.data_dir / "metadata" / "idp_mock.xml"),
              allow_sha1=True)
    pending = await forge.start(browser, testbed_settings, "manuel-maths-4e")
    attrs = forge.ent_attributes(_person_id(testbed_settings, "eleve.assigne"))
    page = await _answer(browser, pending, _signed_with_sha1(testbed_settings, pending, attrs))
    assert page.status_code == 200
    assert 'id="saml-post"' in page.text
