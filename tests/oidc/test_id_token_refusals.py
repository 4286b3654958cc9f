"""Every forged or unfit ID token is refused, by the broker's relying party (joserfc) and by
the provider mock's (PyJWT): two independent implementations, the same refusals.

Also the rollover overlap: a token signed by a second key the broker publishes verifies
through its JWKS, on both sides.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from provider_mock import oidc_rp as provider_oidc
from services.keys import KeyPair, generate
from services.oidc import jose
from services.oidc.errors import OidcError
from tests.oidc.forgery import b64, hs256_with_public_key, unsigned

ISSUER, CLIENT, NONCE = "https://gar.test/oidc", "https://provider.test/oidc", "n-123"
SKEW = 120


@pytest.fixture(scope="module")
def current() -> KeyPair:
    return generate("current")


@pytest.fixture(scope="module")
def other() -> KeyPair:
    return generate("other")


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "a" * 128, "aud": CLIENT, "iat": now, "exp": now + 300,
              "nonce": NONCE}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _broker(token: str, keys: dict[str, Any]) -> str | None:
    try:
        jose.verify_id_token(token, keys=keys, algorithms=["RS256"], issuer=ISSUER,
                             client_id=CLIENT, nonce=NONCE, now=datetime.now(UTC),
                             skew=timedelta(seconds=SKEW))
    except OidcError as error:
        return error.code
    return None


def _provider(token: str, keys: dict[str, Any]) -> str | None:
    try:
        provider_oidc.verify_id_token(token, jwks=keys, issuer=ISSUER, audience=CLIENT,
                                      nonce=NONCE, leeway=SKEW)
    except provider_oidc.Refused as error:
        return error.code
    return None


VERIFIERS = [pytest.param(_broker, id="broker-joserfc"),
             pytest.param(_provider, id="provider-pyjwt")]
Forge = Callable[[KeyPair, KeyPair], str]

FORGED: list[Any] = [
    pytest.param(lambda k, o: unsigned({"alg": "none"}, _claims()), "oidc.token.algorithm",
                 id="alg-none"),
    pytest.param(lambda k, o: hs256_with_public_key(k, _claims()), "oidc.token.algorithm",
                 id="hs256-keyed-with-the-public-key"),
    pytest.param(lambda k, o: jose.sign(_claims(aud="https://another.test/oidc"), k),
                 "oidc.token.audience", id="another-audience"),
    pytest.param(lambda k, o: jose.sign(_claims(iat=int(time.time()) - 4000,
                                                exp=int(time.time()) - SKEW - 1), k),
                 "oidc.token.expired", id="expired"),
    pytest.param(lambda k, o: jose.sign(_claims(iss="https://evil.test/oidc"), k),
                 "oidc.token.issuer", id="wrong-issuer"),
    pytest.param(lambda k, o: jose.sign(_claims(nonce="from-an-earlier-login"), k),
                 "oidc.token.nonce", id="nonce-replay"),
    pytest.param(lambda k, o: jose.sign(_claims(nonce=None), k), "oidc.token.nonce",
                 id="nonce-missing"),
    pytest.param(lambda k, o: jose.sign(_claims(iat=int(time.time()) + 3600,
                                                exp=int(time.time()) + 4000), k),
                 "oidc.token.not_yet_valid", id="issued-in-the-future"),
    pytest.param(lambda k, o: jose.sign(_claims(), o), "oidc.token.signature",
                 id="signed-by-an-unpublished-key"),
    pytest.param(lambda k, o: jose.sign(_claims(), k)[:-8] + "AAAAAAAA",
                 "oidc.token.signature", id="signature-altered"),
    pytest.param(lambda k, o: jose.sign(_claims(pad="x" * 20_000), k), "oidc.token.too_large",
                 id="oversized"),
    pytest.param(lambda k, o: "not.a-jwt", "oidc.token.malformed", id="malformed"),
    pytest.param(lambda k, o: "%%%.%%%.%%%", "oidc.token.malformed", id="not-base64"),
    pytest.param(lambda k, o: jose.sign(_claims(exp=None), k), "oidc.token.malformed",
                 id="no-expiry"),
]


@pytest.mark.parametrize("verify", VERIFIERS)
@pytest.mark.parametrize(("forge", "expected"), FORGED)
def test_a_forged_or_unfit_id_token_is_refused(
    verify: Callable[[str, dict[str, Any]], str | None], forge: Forge, expected: str,
    current: KeyPair, other: KeyPair,
) -> None:
    assert verify(forge(current, other), jose.jwks([current])) == expected


@pytest.mark.parametrize("verify", VERIFIERS)
def test_a_fit_id_token_is_accepted(
    verify: Callable[[str, dict[str, Any]], str | None], current: KeyPair
) -> None:
    assert verify(jose.sign(_claims(), current), jose.jwks([current])) is None


@pytest.mark.parametrize("verify", VERIFIERS)
def test_a_token_signed_by_the_second_published_key_verifies_during_the_overlap(
    verify: Callable[[str, dict[str, Any]], str | None], current: KeyPair, other: KeyPair
) -> None:
    published = jose.jwks([current, other])  # what /oidc/jwks serves during a rollover
    assert verify(jose.sign(_claims(), other), published) is None
    assert verify(jose.sign(_claims(), current), published) is None


def test_the_key_id_is_the_rfc7638_thumbprint(current: KeyPair) -> None:
    jwk = jose.public_jwk(current)
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"))
    assert jwk["kid"] == b64(hashlib.sha256(canonical.encode()).digest())
