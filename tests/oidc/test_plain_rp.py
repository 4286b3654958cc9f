"""Clients that are not ours: Authlib's OAuth 2 client as a plain relying party, knowing only
the discovery URL; and the key rollover seen through the broker's JWKS."""

from __future__ import annotations

import dataclasses
import warnings
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
import jwt
import pytest
from sqlalchemy.orm import Session

from broker import oidc_clients
from broker.app import create_app
from broker.db import make_engine, session_factory
from provider_mock import oidc_rp as provider_oidc
from services.keys import generate
from services.oidc import jose
from services.settings import Settings
from tests.flows.harness import Router
from tests.oidc.test_broker_op import _until

pytestmark = pytest.mark.anyio

REDIRECT = "http://127.0.0.1:9999/plain-rp/callback"  # never served: the test reads it


def _register_plain_client(settings: Settings) -> str:
    engine = make_engine(settings.sqlalchemy_url)
    with session_factory(engine).begin() as session:
        assert isinstance(session, Session)
        secret = oidc_clients.register(session, {
            "client_id": "plain-rp", "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "client_secret_basic",
        }, provider_id="provider-mock").secret
    engine.dispose()
    assert secret is not None
    return secret


async def test_authlib_as_a_plain_relying_party_logs_in_with_discovery_only(
    testbed: tuple[httpx.AsyncClient, Router], testbed_settings: Settings
) -> None:
    with warnings.catch_warnings():  # Authlib announces its move to httpx2; httpx is pinned
        warnings.simplefilter("ignore")
        from authlib.integrations.httpx_client import AsyncOAuth2Client
    browser, network = testbed
    secret = _register_plain_client(testbed_settings)
    discovery_url = f"{testbed_settings.broker_base}/oidc/.well-known/openid-configuration"
    async with AsyncOAuth2Client(
        "plain-rp", secret, scope="openid scope.gar", redirect_uri=REDIRECT,
        code_challenge_method="S256", transport=network,
    ) as client:
        document = (await client.request("GET", discovery_url, withhold_token=True)).json()
        verifier = "v" * 64
        url, state = client.create_authorization_url(
            document["authorization_endpoint"], code_verifier=verifier, nonce="plain-nonce",
            idRessource="ark:/99999/r10002")
        answer = await _until(browser, await browser.get(url), REDIRECT)
        token = await client.fetch_token(
            document["token_endpoint"], authorization_response=answer, code_verifier=verifier,
            state=state)
        keys = (await client.request("GET", document["jwks_uri"], withhold_token=True)).json()
        info = (await client.get(document["userinfo_endpoint"])).json()
    # The ID token checked as a plain RP would, with PyJWT (not the broker's joserfc code):
    # the key by kid from the discovered JWKS, the discovered algorithms, issuer, audience,
    # times, and the nonce this RP sent.
    kid = jwt.get_unverified_header(token["id_token"])["kid"]
    key = next(k for k in jwt.PyJWKSet.from_dict(keys).keys if k.key_id == kid)
    claims = jwt.decode(token["id_token"], key.key,
                        algorithms=document["id_token_signing_alg_values_supported"],
                        issuer=document["issuer"], audience="plain-rp", leeway=60,
                        options={"require": ["iss", "aud", "exp", "iat", "sub", "nonce"]})
    assert claims["nonce"] == "plain-nonce"
    assert info["sub"] == claims["sub"] and info["PRO"] == ["National_elv"]
    assert urlsplit(answer).netloc == "127.0.0.1:9999"


async def test_the_jwks_publishes_every_verification_key_and_both_verify(
    testbed_settings: Settings,
) -> None:
    app = create_app(testbed_settings)
    broker = app.state.broker
    following = generate("next broker key")
    app.state.broker = dataclasses.replace(broker, published=(broker.keypair, following))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=testbed_settings.broker_base) as c:
        keys = (await c.get("/oidc/jwks")).json()
    broker.sessions.kw["bind"].dispose()
    assert [k["kid"] for k in keys["keys"]] == [jose.kid(broker.keypair), jose.kid(following)]
    issuer = f"{testbed_settings.broker_base}/oidc"
    now = int(datetime.now(UTC).timestamp())
    token = jose.sign({"iss": issuer, "sub": "s", "aud": "c", "iat": now, "exp": now + 60},
                      following)
    assert provider_oidc.verify_id_token(token, jwks=keys, issuer=issuer, audience="c",
                                         nonce=None, leeway=0)["sub"] == "s"
