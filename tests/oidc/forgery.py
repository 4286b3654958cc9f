"""How an attacker shapes an ID token a verifier must refuse, shared by every refusal test.

Each forger takes the claims an honest provider would sign and returns a compact JWT that
differs in exactly one way, so a test says which check it exercises.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import serialization
from joserfc import jwt
from joserfc.jwk import RSAKey

from services.keys import KeyPair
from services.oidc import jose

SKEW = 120  # the testbed's default clock skew (Settings.clock_skew_seconds)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    head = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    return head + "." + b64(signature)


def hs256_with_public_key(key: KeyPair, claims: dict[str, Any]) -> str:
    """The classic confusion: HMAC keyed with the RSA public key the verifier holds."""
    public = key.certificate.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    head = b64(json.dumps({"alg": "HS256", "kid": jose.kid(key)}).encode()) + "." + b64(
        json.dumps(claims).encode())
    return head + "." + b64(hmac.new(public, head.encode(), hashlib.sha256).digest())


def signed_under_kid(claims: dict[str, Any], key: KeyPair, kid: str) -> str:
    """RS256 by ``key``, under a key id that names another key (the verifier's own)."""
    return jwt.encode({"alg": "RS256", "kid": kid}, claims, RSAKey.import_key(key.key_pem),
                      algorithms=["RS256"])


def changed(claims: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """``claims`` with some changed; a change to None removes the claim."""
    updated = {**claims, **changes}
    return {k: v for k, v in updated.items() if v is not None}


#: (forger, expected refusal code): forger(claims, the provider's key, another key) -> token.
Forger = Callable[[dict[str, Any], KeyPair, KeyPair], str]


def _expired(claims: dict[str, Any], key: KeyPair) -> str:
    now = int(time.time())
    return jose.sign(changed(claims, iat=now - 4000, exp=now - SKEW - 1), key)


FORGERIES: dict[str, tuple[Forger, str]] = {
    "alg-none": (lambda c, k, o: unsigned({"alg": "none"}, c), "oidc.token.algorithm"),
    "hs256-keyed-with-the-public-key": (lambda c, k, o: hs256_with_public_key(k, c),
                                        "oidc.token.algorithm"),
    "another-audience": (lambda c, k, o: jose.sign(changed(c, aud="https://another.test/rp"), k),
                         "oidc.token.audience"),
    "expired": (lambda c, k, o: _expired(c, k), "oidc.token.expired"),
    "wrong-issuer": (lambda c, k, o: jose.sign(changed(c, iss="https://evil.test/op"), k),
                     "oidc.token.issuer"),
    "stale-nonce": (lambda c, k, o: jose.sign(changed(c, nonce="from-an-earlier-login"), k),
                    "oidc.token.nonce"),
    "nonce-missing": (lambda c, k, o: jose.sign(changed(c, nonce=None), k), "oidc.token.nonce"),
    "signed-by-another-key": (lambda c, k, o: jose.sign(c, o), "oidc.token.signature"),
    "signature-altered": (lambda c, k, o: jose.sign(c, k)[:-8] + "AAAAAAAA",
                          "oidc.token.signature"),
    "oversized": (lambda c, k, o: jose.sign(changed(c, pad="x" * 20_000), k),
                  "oidc.token.too_large"),
    "malformed": (lambda c, k, o: "not.a-jwt", "oidc.token.malformed"),
}
