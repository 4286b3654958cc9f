"""PKCE (RFC 7636), S256 only: ``plain`` would send the verifier's equivalent in the clear."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from services.oidc.errors import OidcError

METHOD = "S256"
_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
_CHALLENGE = re.compile(r"^[A-Za-z0-9\-_]{43}$")  # base64url of a SHA-256, unpadded


def new_verifier() -> str:
    return secrets.token_urlsafe(48)


def challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def check_challenge(value: str | None, method: str | None) -> str:
    """The code challenge of an authorisation request, refused unless S256 and well formed."""
    if not value:
        raise OidcError("oidc.pkce.missing", "code_challenge is required")
    if method != METHOD:
        raise OidcError("oidc.pkce.method", "code_challenge_method must be S256")
    if not _CHALLENGE.match(value):
        raise OidcError("oidc.pkce.malformed", "code_challenge is not a base64url SHA-256")
    return value


def verify(verifier: str | None, expected_challenge: str) -> None:
    """Refuse a token request whose verifier is missing, malformed or not the challenge's."""
    if not verifier:
        raise OidcError("oidc.pkce.missing", "code_verifier is required")
    if not _VERIFIER.match(verifier):
        raise OidcError("oidc.pkce.malformed", "code_verifier is not 43-128 unreserved chars")
    if not hmac.compare_digest(challenge(verifier), expected_challenge):
        raise OidcError("oidc.pkce.mismatch", "code_verifier does not match code_challenge")
