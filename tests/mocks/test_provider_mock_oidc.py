"""The provider mock's OpenID Connect relying party (PyJWT), driven by a fake broker.

The fake OpenID Provider of tests/oidc/fake_op.py stands at the broker's issuer URL; the
provider mock starts its login, the browser comes back to ``/oidc/callback`` with a code, and
the fake token endpoint answers with the ID token each test forges. Every unfit token ends
on the provider's French page with its stable code, and the provider shows no attribute.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import lxml.html
import pytest

from provider_mock import oidc_rp as provider_oidc
from provider_mock.app import create_app
from services.keys import KeyPair, generate
from services.settings import Settings
from tests.flows.harness import Router, error_code, received_attributes, verdict
from tests.oidc.fake_op import FakeOP
from tests.oidc.forgery import FORGERIES

pytestmark = pytest.mark.anyio

MATHS = "manuel-maths-4e"
RELEASE = {"IDO": ["b" * 128], "UAI": ["0359901X"], "PRO": ["National_elv"]}


@pytest.fixture(scope="module")
def another_key() -> KeyPair:
    return generate("not the broker's key")


@pytest.fixture
def fake_broker(settings: Settings) -> FakeOP:
    return FakeOP(provider_oidc.broker_issuer(settings), generate("fake broker"),
                  client_id=provider_oidc.client_id(settings), person=dict(RELEASE))


@pytest.fixture
async def browser(settings: Settings, fake_broker: FakeOP) -> AsyncIterator[httpx.AsyncClient]:
    broker_app = fake_broker.app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=broker_app)) as peer:
        apps = {settings.provider_base: create_app(settings, http=peer),
                fake_broker.origin: broker_app}
        async with httpx.AsyncClient(transport=Router(apps)) as client:
            yield client


async def open_resource(browser: httpx.AsyncClient, settings: Settings) -> httpx.Response:
    """The provider's login, through the fake broker's authorisation, back to the callback."""
    response = await browser.get(f"{settings.provider_base}/oidc/resource/{MATHS}")
    for _ in range(4):
        if response.status_code != 303:
            return response
        response = await browser.get(urljoin(str(response.url), response.headers["location"]))
    raise AssertionError("too many hops")


def assert_refused(page: httpx.Response, settings: Settings, code: str) -> None:
    assert str(page.url).startswith(f"{settings.provider_base}/oidc/callback")
    assert (page.status_code, error_code(page)) == (400, code), page.text[:1000]
    assert lxml.html.fromstring(page.text).get("lang") == "fr"
    assert received_attributes(page) == {}


async def test_a_fit_id_token_shows_what_the_broker_released(
    browser: httpx.AsyncClient, settings: Settings
) -> None:
    page = await open_resource(browser, settings)
    assert verdict(page) == "ok", page.text[:1000]
    assert received_attributes(page) == RELEASE


@pytest.mark.parametrize("forgery", list(FORGERIES))
async def test_a_forged_id_token_from_the_token_endpoint_is_refused_at_the_callback(
    browser: httpx.AsyncClient, settings: Settings, fake_broker: FakeOP, another_key: KeyPair,
    forgery: str,
) -> None:
    forge, expected = FORGERIES[forgery]
    fake_broker.forge = lambda claims: forge(claims, fake_broker.keypair, another_key)
    assert_refused(await open_resource(browser, settings), settings, expected)


async def test_an_id_token_replayed_into_a_second_login_is_refused(
    browser: httpx.AsyncClient, settings: Settings, fake_broker: FakeOP
) -> None:
    assert verdict(await open_resource(browser, settings)) == "ok"
    replayed = fake_broker.issued[-1]
    fake_broker.forge = lambda claims: replayed
    assert_refused(await open_resource(browser, settings), settings, "oidc.token.nonce")


async def test_the_login_asks_for_pkce_s256_a_nonce_and_the_resource(
    browser: httpx.AsyncClient, settings: Settings, fake_broker: FakeOP
) -> None:
    await open_resource(browser, settings)
    sent = fake_broker.requests[-1]
    assert sent["code_challenge_method"] == "S256" and len(sent["code_challenge"]) == 43
    assert sent["nonce"] and sent["state"] and sent["scope"] == "openid scope.gar"
    assert sent["idRessource"] == "ark:/99999/r10001"


async def test_an_authorisation_response_naming_another_issuer_is_refused(
    browser: httpx.AsyncClient, settings: Settings, fake_broker: FakeOP
) -> None:
    fake_broker.iss_parameter = "https://evil.test/oidc"
    assert_refused(await open_resource(browser, settings), settings, "oidc.token.issuer")
    assert fake_broker.issued == []


async def test_an_authorisation_response_without_the_promised_issuer_is_refused(
    browser: httpx.AsyncClient, settings: Settings, fake_broker: FakeOP
) -> None:
    fake_broker.iss_parameter = ""  # discovery says authorization_response_iss_parameter_supported
    assert_refused(await open_resource(browser, settings), settings, "oidc.token.issuer")
    assert fake_broker.issued == []


async def test_a_state_the_provider_never_sent_is_refused(
    browser: httpx.AsyncClient, settings: Settings, fake_broker: FakeOP
) -> None:
    start = await browser.get(f"{settings.provider_base}/oidc/resource/{MATHS}")
    answer = await browser.get(start.headers["location"])
    query: dict[str, Any] = {k: v[0] for k, v in parse_qs(urlsplit(
        answer.headers["location"]).query).items()}
    query["state"] = "forged-state"
    page = await browser.get(f"{settings.provider_base}/oidc/callback", params=query)
    assert (page.status_code, error_code(page)) == (400, "provider.oidc.state_unknown")
    assert fake_broker.issued == []


async def test_userinfo_about_someone_else_is_refused(
    browser: httpx.AsyncClient, settings: Settings, fake_broker: FakeOP
) -> None:
    fake_broker.forge = lambda claims: fake_broker.sign({**claims, "sub": "someone-else"})
    assert_refused(await open_resource(browser, settings), settings, "provider.oidc.userinfo")
