"""The broker's SSO endpoint refuses every AuthnRequest it cannot trust, and writes nothing.

A provider is known only by its registered metadata: its signing certificate, its assertion
consumer services, and the resource URLs of its catalogue records (carried in RelayState).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from lxml import etree
from sqlalchemy import create_engine, text

from services.keys import generate, load_or_create
from services.saml import bindings, build, signing
from services.settings import Settings
from tests.flows.harness import error_code

pytestmark = pytest.mark.anyio


def _provider(settings: Settings) -> str:
    return f"{settings.provider_base}/saml/metadata"


def _request(settings: Settings, **overrides: object) -> etree._Element:
    values: dict[str, object] = {
        "issuer": _provider(settings),
        "destination": f"{settings.broker_base}/saml/idp/sso",
        "acs_url": f"{settings.provider_base}/saml/acs",
    }
    values.update(overrides)
    return build.authn_request(**values)  # type: ignore[arg-type]


def _resource_url(settings: Settings) -> str:
    return f"{settings.provider_base}/resource/manuel-maths-4e"


def _redirect(settings: Settings, message: etree._Element, *, relay_state: str | None = "default",
              signed_by: str | None = "provider") -> str:
    key = None
    if signed_by == "provider":
        key = load_or_create(settings.keys_dir, "provider")
    elif signed_by == "stranger":
        key = generate("stranger")
    return bindings.encode_redirect(
        f"{settings.broker_base}/saml/idp/sso", message, kind="SAMLRequest",
        relay_state=_resource_url(settings) if relay_state == "default" else relay_state,
        keypair=key)


def _states(settings: Settings) -> int:
    engine = create_engine(
        settings.sqlalchemy_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM login_states")).scalar_one()
    engine.dispose()
    return int(count)


async def _refused(browser: httpx.AsyncClient, settings: Settings, url: str) -> httpx.Response:
    before = _states(settings)
    page = await browser.get(url)
    assert _states(settings) == before
    assert "Traceback" not in page.text
    return page


async def test_signed_request_for_a_catalogue_resource_starts_a_login(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    page = await browser.get(_redirect(testbed_settings, _request(testbed_settings)))
    assert page.status_code == 303
    assert page.headers["location"].startswith(f"{testbed_settings.idp_base}/saml/sso?")


async def test_unsigned_request_is_refused(
        browser: httpx.AsyncClient, testbed_settings: Settings) -> None:
    page = await _refused(browser, testbed_settings,
                          _redirect(testbed_settings, _request(testbed_settings), signed_by=None))
    assert (page.status_code, error_code(page)) == (400, "saml.signature.missing")


async def test_request_signed_by_another_key_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    page = await _refused(browser, testbed_settings,
                          _redirect(testbed_settings, _request(testbed_settings),
                                    signed_by="stranger"))
    assert (page.status_code, error_code(page)) == (400, "saml.signature.invalid")


async def test_request_from_an_unregistered_provider_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    message = _request(testbed_settings, issuer="https://unknown.invalid/sp")
    page = await _refused(browser, testbed_settings, _redirect(testbed_settings, message))
    assert (page.status_code, error_code(page)) == (403, "sso.unknown_sp")


async def test_request_asking_for_an_unregistered_acs_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    message = _request(testbed_settings, acs_url="https://attacker.invalid/acs")
    page = await _refused(browser, testbed_settings, _redirect(testbed_settings, message))
    assert (page.status_code, error_code(page)) == (400, "saml.acs.unregistered")


async def test_request_for_another_destination_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    message = _request(testbed_settings, destination="https://other-gar.invalid/sso")
    page = await _refused(browser, testbed_settings, _redirect(testbed_settings, message))
    assert (page.status_code, error_code(page)) == (400, "saml.destination.mismatch")


async def test_stale_request_is_refused(
        browser: httpx.AsyncClient, testbed_settings: Settings) -> None:
    message = _request(testbed_settings, now=datetime.now(UTC) - timedelta(hours=1))
    page = await _refused(browser, testbed_settings, _redirect(testbed_settings, message))
    assert (page.status_code, error_code(page)) == (400, "saml.time.expired")


@pytest.mark.parametrize(("relay_state", "code"), [
    (None, "sso.unknown_resource"),
    ("http://127.0.0.1:18002/resource/not-in-the-catalogue", "sso.unknown_resource"),
    ("https://attacker.invalid/resource/manuel-maths-4e", "sso.unknown_resource"),
    ("javascript:alert(1)", "sso.relay_state_invalid"),
    ("http://127.0.0.1:18002/resource/manuel-maths-4e" + "x" * 1100, "sso.relay_state_invalid"),
])
async def test_relay_state_that_is_not_one_of_the_providers_resources_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings, relay_state: str | None, code: str
) -> None:
    url = _redirect(testbed_settings, _request(testbed_settings), relay_state=relay_state)
    page = await _refused(browser, testbed_settings, url)
    assert error_code(page) == code


async def test_deep_link_under_a_resource_url_is_accepted(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    url = _redirect(testbed_settings, _request(testbed_settings),
                    relay_state=_resource_url(testbed_settings) + "/chapitre/3")
    page = await browser.get(url)
    assert page.status_code == 303


async def test_post_binding_request_with_a_dtd_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    body = b'<!DOCTYPE x [<!ENTITY a "b">]>' + etree.tostring(_request(testbed_settings))
    before = _states(testbed_settings)
    page = await browser.post(f"{testbed_settings.broker_base}/saml/idp/sso", data={
        "SAMLRequest": base64.b64encode(body).decode(),
        "RelayState": _resource_url(testbed_settings)})
    assert (page.status_code, error_code(page)) == (400, "saml.xml.dtd_forbidden")
    assert _states(testbed_settings) == before


async def test_post_binding_request_with_an_enveloped_signature_starts_a_login(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    signed = signing.sign(_request(testbed_settings),
                          load_or_create(testbed_settings.keys_dir, "provider"))
    page = await browser.post(f"{testbed_settings.broker_base}/saml/idp/sso", data={
        "SAMLRequest": base64.b64encode(etree.tostring(signed)).decode(),
        "RelayState": _resource_url(testbed_settings)})
    assert page.status_code == 303


async def test_redirect_request_with_duplicated_parameters_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    url = _redirect(testbed_settings, _request(testbed_settings))
    page = await _refused(browser, testbed_settings, url + "&RelayState=http%3A%2F%2Fevil.invalid")
    assert (page.status_code, error_code(page)) == (400, "saml.binding.invalid")
