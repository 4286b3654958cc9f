"""The broker's relying party refuses every unfit ID token at its real callback.

A fake upstream OpenID Provider (tests/oidc/fake_op.py), registered in the trust registry as
an ENT would be, answers the broker's authorisation request at once and hands a forged ID
token out of its token endpoint. The person's browser goes the whole way: provider mock →
broker → fake provider → ``/oidc/rp/callback``; each refusal must end on the broker's French
page with its stable code, with nothing written: no audit record, no replay-cache entry, the
login state still unused.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import lxml.html
import pytest
from sqlalchemy import create_engine, func, select

from broker import oidc_providers, oidc_rp
from broker.db import make_engine, session_factory
from broker.models import AuditRecord, ConsumedAssertion, LoginState
from services import dataset
from services.keys import KeyPair, generate
from services.oidc import jose
from services.settings import Settings
from tests.flows.harness import error_code, verdict, walk
from tests.oidc.conftest import _browser
from tests.oidc.fake_op import FakeOP
from tests.oidc.forgery import FORGERIES, signed_under_kid
from tests.oidc.test_oidc_flows import ATLAS, MATHS, _pick

pytestmark = pytest.mark.anyio

FAKE_ISSUER = "http://127.0.0.1:8009/ent/oidc"


@pytest.fixture(scope="module")
def another_key() -> KeyPair:
    return generate("not the provider's key")


def register(settings: Settings, op: FakeOP) -> None:
    engine = make_engine(settings.sqlalchemy_url)
    with session_factory(engine).begin() as session:
        oidc_providers.register(session, op.metadata(), jose.jwks([op.keypair]),
                                client_id=op.client_id, client_secret="fake-op-secret",
                                source="test: fake upstream provider")
    engine.dispose()


@pytest.fixture
def fake_op(testbed_settings: Settings) -> FakeOP:
    """An ENT speaking OIDC that vouches for the pupil eleve.assigne, ENT-style."""
    data = dataset.build(provider_base=testbed_settings.provider_base)
    op = FakeOP(FAKE_ISSUER, generate("fake upstream provider"),
                client_id=oidc_rp.client_id(testbed_settings),
                person={"idEnt": data.ent_id,
                        "GARPersonIdentifiant": data.person("eleve.assigne").person_id})
    register(testbed_settings, op)
    return op


@pytest.fixture
async def browser(testbed_settings: Settings, fake_op: FakeOP
                  ) -> AsyncIterator[httpx.AsyncClient]:
    async for client, _ in _browser(testbed_settings, {fake_op.origin: fake_op.app()}):
        yield client


async def log_in_through(browser: httpx.AsyncClient, settings: Settings,
                         op: FakeOP) -> httpx.Response:
    """Open the maths textbook over SAML and pick the fake provider on the discovery page."""
    page = await walk(browser, await browser.get(f"{settings.provider_base}/resource/{MATHS}"))
    return await _pick(browser, page, op.issuer)


def written(settings: Settings) -> dict[str, Any]:
    """What a login may write: audit records, replay-cache entries, consumed login states."""
    engine = create_engine(settings.sqlalchemy_url)
    with engine.connect() as connection:
        counts = {
            "audit": connection.scalar(select(func.count()).select_from(AuditRecord)),
            "replay": connection.scalar(select(func.count()).select_from(ConsumedAssertion)),
            "consumed_states": connection.scalar(select(func.count()).select_from(LoginState)
                                                 .where(LoginState.consumed_at.is_not(None))),
        }
    engine.dispose()
    return counts


def assert_refused_on_the_brokers_page(page: httpx.Response, settings: Settings,
                                       code: str) -> None:
    assert str(page.url).startswith(f"{settings.broker_base}/oidc/rp/callback")
    assert (page.status_code, error_code(page)) == (400, code), page.text[:1000]
    document = lxml.html.fromstring(page.text)
    assert document.get("lang") == "fr"
    assert document.xpath("//h1")[0].text_content().strip()  # a title a person can read


async def test_an_honest_provider_logs_the_person_in(
    browser: httpx.AsyncClient, testbed_settings: Settings, fake_op: FakeOP
) -> None:
    """The baseline every refusal below differs from in exactly one way."""
    page = await log_in_through(browser, testbed_settings, fake_op)
    assert verdict(page) == "ok", page.text[:1000]
    assert written(testbed_settings) == {"audit": 1, "replay": 1, "consumed_states": 1}


@pytest.mark.parametrize("forgery", list(FORGERIES))
async def test_a_forged_id_token_from_the_token_endpoint_is_refused_at_the_callback(
    browser: httpx.AsyncClient, testbed_settings: Settings, fake_op: FakeOP,
    another_key: KeyPair, forgery: str,
) -> None:
    forge, expected = FORGERIES[forgery]
    fake_op.forge = lambda claims: forge(claims, fake_op.keypair, another_key)
    before = written(testbed_settings)
    page = await log_in_through(browser, testbed_settings, fake_op)
    assert_refused_on_the_brokers_page(page, testbed_settings, expected)
    after = written(testbed_settings)
    # An unknown key id may take the once-a-window JWKS refresh lease (a replay-cache row);
    # nothing else is written.
    lease = 1 if forgery == "signed-by-another-key" else 0
    assert after == {**before, "replay": before["replay"] + lease}


async def test_an_id_token_replayed_into_a_second_login_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings, fake_op: FakeOP
) -> None:
    """The same ID token (hence the first login's nonce) handed out for a new login state."""
    first = await log_in_through(browser, testbed_settings, fake_op)
    assert verdict(first) == "ok"
    replayed = fake_op.issued[-1]
    fake_op.forge = lambda claims: replayed
    before = written(testbed_settings)
    page = await log_in_through(browser, testbed_settings, fake_op)
    assert_refused_on_the_brokers_page(page, testbed_settings, "oidc.token.nonce")
    assert written(testbed_settings) == before


async def test_an_authorisation_response_naming_another_issuer_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings, fake_op: FakeOP
) -> None:
    """RFC 9207: the ``iss`` parameter names the provider that answered (mix-up defence)."""
    fake_op.iss_parameter = "https://evil.test/op"
    before = written(testbed_settings)
    page = await log_in_through(browser, testbed_settings, fake_op)
    assert_refused_on_the_brokers_page(page, testbed_settings, "oidc.token.issuer")
    assert written(testbed_settings) == before
    assert fake_op.issued == []  # refused before the code was ever exchanged


async def test_an_authorisation_response_without_the_issuer_it_promised_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings, fake_op: FakeOP
) -> None:
    """RFC 9207 §2.4: a provider advertising the ``iss`` parameter must always send it."""
    fake_op.iss_parameter = ""
    page = await log_in_through(browser, testbed_settings, fake_op)
    assert_refused_on_the_brokers_page(page, testbed_settings, "oidc.token.issuer")
    assert fake_op.issued == []


# --- the provider rolls its signing key ------------------------------------------------------


def registered_key_ids(settings: Settings, issuer: str) -> set[str]:
    engine = make_engine(settings.sqlalchemy_url)
    with session_factory(engine)() as session:
        provider = oidc_providers.find(session, issuer)
        assert provider is not None
        kids = oidc_providers.key_ids(provider.jwks)
    engine.dispose()
    return kids


async def test_a_provider_that_rolled_its_key_is_followed_through_its_registered_jwks_uri(
    browser: httpx.AsyncClient, testbed_settings: Settings, fake_op: FakeOP
) -> None:
    fake_op.keypair = generate("the provider's next key")  # signs and publishes only this one
    page = await log_in_through(browser, testbed_settings, fake_op)
    assert verdict(page) == "ok", page.text[:1000]
    assert fake_op.jwks_fetches == 1
    assert registered_key_ids(testbed_settings, fake_op.issuer) == {jose.kid(fake_op.keypair)}


async def test_the_jwks_is_fetched_again_at_most_once_per_interval(
    browser: httpx.AsyncClient, testbed_settings: Settings, fake_op: FakeOP
) -> None:
    fake_op.keypair = generate("the provider's next key")
    assert verdict(await log_in_through(browser, testbed_settings, fake_op)) == "ok"
    fake_op.keypair = generate("yet another key, minutes later")
    page = await log_in_through(browser, testbed_settings, fake_op)
    assert_refused_on_the_brokers_page(page, testbed_settings, "oidc.token.signature")
    assert fake_op.jwks_fetches == 1


async def test_a_known_key_id_never_makes_the_broker_fetch_the_jwks(
    browser: httpx.AsyncClient, testbed_settings: Settings, fake_op: FakeOP,
    another_key: KeyPair,
) -> None:
    """A token under a known kid but another key: refused, without a fetch (no amplifier)."""
    fake_op.forge = lambda claims: signed_under_kid(claims, another_key,
                                                    jose.kid(fake_op.keypair))
    page = await log_in_through(browser, testbed_settings, fake_op)
    assert_refused_on_the_brokers_page(page, testbed_settings, "oidc.token.signature")
    assert fake_op.jwks_fetches == 0


def test_one_instance_at_a_time_holds_the_refresh_lease(testbed_settings: Settings) -> None:
    """Two instances (two engines on one store) agree: one fetches, the other waits."""
    now = datetime.now(UTC)
    engines = [make_engine(testbed_settings.sqlalchemy_url) for _ in range(2)]
    first, second = (session_factory(engine) for engine in engines)
    try:
        with first.begin() as session:
            assert oidc_providers.take_refresh_lease(session, FAKE_ISSUER, now)
        with second.begin() as session:
            assert not oidc_providers.take_refresh_lease(session, FAKE_ISSUER, now)
            assert oidc_providers.take_refresh_lease(session, "https://another.test/op", now)
        later = now + oidc_providers.KEY_REFRESH_INTERVAL
        with second.begin() as session:
            assert oidc_providers.take_refresh_lease(session, FAKE_ISSUER, later)
        with first.begin() as session:
            assert not oidc_providers.take_refresh_lease(session, FAKE_ISSUER, later)
    finally:
        for engine in engines:
            engine.dispose()


# --- a CAS publisher asks for fresh credentials (renew) ---------------------------------------


async def cas_login_with_renew(browser: httpx.AsyncClient, settings: Settings,
                               op: FakeOP) -> httpx.Response:
    service = f"{settings.provider_base}/cas/{ATLAS}?sso_id=GAR"
    login = f"{settings.broker_base}/cas/login?" + urlencode({"service": service, "renew": "true"})
    return await _pick(browser, await walk(browser, await browser.get(login)), op.issuer)


async def test_renew_asks_the_provider_to_authenticate_now_and_accepts_a_fresh_auth_time(
    browser: httpx.AsyncClient, testbed_settings: Settings, fake_op: FakeOP
) -> None:
    fake_op.person["auth_time"] = int(time.time())
    page = await cas_login_with_renew(browser, testbed_settings, fake_op)
    assert verdict(page) == "ok", page.text[:1000]
    sent = fake_op.requests[-1]
    assert (sent["prompt"], sent["max_age"]) == ("login", "0")


@pytest.mark.parametrize("auth_time", [
    pytest.param(lambda: int(time.time()) - 3600, id="an-hour-old"),
    pytest.param(lambda: None, id="missing"),
])
async def test_renew_refuses_an_authentication_the_provider_does_not_prove_fresh(
    browser: httpx.AsyncClient, testbed_settings: Settings, fake_op: FakeOP,
    auth_time: Any,
) -> None:
    if auth_time() is not None:
        fake_op.person["auth_time"] = auth_time()
    before = written(testbed_settings)
    page = await cas_login_with_renew(browser, testbed_settings, fake_op)
    assert_refused_on_the_brokers_page(page, testbed_settings, "sso.authn_not_fresh")
    assert written(testbed_settings)["audit"] == before["audit"]


async def test_a_login_without_renew_does_not_ask_the_provider_to_authenticate_again(
    browser: httpx.AsyncClient, testbed_settings: Settings, fake_op: FakeOP
) -> None:
    assert verdict(await log_in_through(browser, testbed_settings, fake_op)) == "ok"
    assert "prompt" not in fake_op.requests[-1] and "max_age" not in fake_op.requests[-1]
