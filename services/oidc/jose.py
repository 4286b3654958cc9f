"""Signing and verifying JWTs with joserfc: RS256 issued, algorithms always pinned.

Verification reads the header first only to refuse early, with a precise code, what the
pinned list excludes (``none``, ``HS256`` keyed with a public key, anything else); the
signature itself is checked by joserfc with the same pinned list.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from services.keys import KeyPair
from services.oidc.errors import OidcError

SIGNING_ALG = "RS256"
ALLOWED_ALGS = frozenset({"RS256", "ES256"})  # what an upstream may be pinned to
MAX_TOKEN_BYTES = 16 * 1024


@lru_cache(maxsize=32)
def _private(keypair: KeyPair) -> RSAKey:
    return RSAKey.import_key(keypair.key_pem)


def kid(keypair: KeyPair) -> str:
    """RFC 7638 thumbprint of the public key: stable, derived, never chosen by hand."""
    return str(_private(keypair).thumbprint())


def public_jwk(keypair: KeyPair) -> dict[str, Any]:
    jwk = dict(_private(keypair).as_dict(private=False))
    jwk.update({"kid": kid(keypair), "use": "sig", "alg": SIGNING_ALG})
    return jwk


def jwks(keypairs: Iterable[KeyPair]) -> dict[str, Any]:
    return {"keys": [public_jwk(k) for k in keypairs]}


def sign(claims: Mapping[str, Any], keypair: KeyPair) -> str:
    header = {"alg": SIGNING_ALG, "kid": kid(keypair), "typ": "JWT"}
    return jwt.encode(header, dict(claims), _private(keypair), algorithms=[SIGNING_ALG])


def header_of(token: str, *, max_bytes: int = MAX_TOKEN_BYTES) -> dict[str, Any]:
    """The JOSE header of a compact JWS, after size and shape checks."""
    if len(token) > max_bytes:
        raise OidcError("oidc.token.too_large", f"{len(token)} bytes")
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        raise OidcError("oidc.token.malformed", "not a compact JWS of three parts")
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise OidcError("oidc.token.malformed", "header is not base64url JSON") from exc
    if not isinstance(header, dict):
        raise OidcError("oidc.token.malformed", "header is not a JSON object")
    return header


def verify_signature(
    token: str, keys: Mapping[str, Any], algorithms: Sequence[str]
) -> dict[str, Any]:
    """The claims of ``token`` signed by one of ``keys`` (a JWKS) with a pinned algorithm."""
    header = header_of(token)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms:
        raise OidcError("oidc.token.algorithm", f"alg {alg!r} is not one of {list(algorithms)}")
    if "crit" in header or "jku" in header or "jwk" in header or "x5u" in header:
        raise OidcError("oidc.token.malformed", "header names keys or extensions we never follow")
    try:
        keyset = KeySet.import_key_set(dict(keys))  # type: ignore[arg-type]
        decoded = jwt.decode(token, keyset, algorithms=list(algorithms))
    except JoseError as exc:
        raise OidcError("oidc.token.signature", type(exc).__name__) from exc
    except (ValueError, TypeError, KeyError) as exc:
        raise OidcError("oidc.token.malformed", type(exc).__name__) from exc
    claims = decoded.claims
    if not isinstance(claims, dict):
        raise OidcError("oidc.token.malformed", "claims are not a JSON object")
    return dict(claims)


def verify_id_token(
    token: str,
    *,
    keys: Mapping[str, Any],
    algorithms: Sequence[str],
    issuer: str,
    client_id: str,
    nonce: str | None,
    now: datetime,
    skew: timedelta,
) -> dict[str, Any]:
    """An ID token's claims after OIDC Core §3.1.3.7: signature, iss, aud, azp, exp, iat, nonce."""
    claims = verify_signature(token, keys, algorithms)
    if claims.get("iss") != issuer:
        raise OidcError("oidc.token.issuer", f"iss {str(claims.get('iss'))[:200]!r}")
    check_audience(claims, client_id)
    check_times(claims, now, skew)
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise OidcError("oidc.token.malformed", "sub is missing")
    if nonce is not None and claims.get("nonce") != nonce:
        raise OidcError("oidc.token.nonce", "nonce does not match the one sent")
    return claims


def check_audience(claims: Mapping[str, Any], client_id: str) -> None:
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if client_id not in audiences:
        raise OidcError("oidc.token.audience", f"aud {str(aud)[:200]!r}")
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise OidcError("oidc.token.audience", "several audiences and azp is not this client")


def check_times(claims: Mapping[str, Any], now: datetime, skew: timedelta) -> None:
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float) or not isinstance(iat, int | float):
        raise OidcError("oidc.token.malformed", "exp and iat must be numbers")
    if isinstance(exp, bool) or isinstance(iat, bool):
        raise OidcError("oidc.token.malformed", "exp and iat must be numbers")
    instant = now.timestamp()
    if instant - skew.total_seconds() >= exp:
        raise OidcError("oidc.token.expired", "exp has passed")
    if iat > instant + skew.total_seconds():
        raise OidcError("oidc.token.not_yet_valid", "iat is in the future")
