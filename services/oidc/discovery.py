"""OpenID Provider discovery documents: the ones we publish and the ones we trust."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from services.oidc.errors import OidcError

WELL_KNOWN = "/.well-known/openid-configuration"
REQUIRED = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")


def url_for(issuer: str) -> str:
    return issuer.rstrip("/") + WELL_KNOWN


def provider_metadata(
    issuer: str,
    *,
    authorization_endpoint: str,
    token_endpoint: str,
    userinfo_endpoint: str,
    jwks_uri: str,
    auth_methods: tuple[str, ...] = ("client_secret_basic",),
    scopes: tuple[str, ...] = ("openid",),
    claims: tuple[str, ...] = (),
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "issuer": issuer,
        "authorization_endpoint": authorization_endpoint,
        "token_endpoint": token_endpoint,
        "userinfo_endpoint": userinfo_endpoint,
        "jwks_uri": jwks_uri,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": list(auth_methods),
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": list(scopes),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", *claims],
        "authorization_response_iss_parameter_supported": True,
    }
    document.update(extra or {})
    return document


def read_provider_metadata(document: object, *, expected_issuer: str | None) -> dict[str, Any]:
    """A fetched discovery document, refused unless complete and naming the issuer asked for."""
    if not isinstance(document, dict):
        raise OidcError("oidc.discovery.invalid", "not a JSON object")
    for name in REQUIRED:
        value = document.get(name)
        if not isinstance(value, str) or urlsplit(value).scheme not in ("http", "https"):
            raise OidcError("oidc.discovery.invalid", f"{name} is missing or not a URL")
    if expected_issuer is not None and document["issuer"] != expected_issuer:
        raise OidcError("oidc.discovery.invalid", "issuer differs from the discovery URL's")
    if "S256" not in document.get("code_challenge_methods_supported", ["S256"]):
        raise OidcError("oidc.discovery.invalid", "the provider does not support PKCE S256")
    return document


def issuer_of(discovery_url: str) -> str:
    """The issuer a discovery URL must describe (OIDC Discovery §4.3)."""
    if not discovery_url.endswith(WELL_KNOWN):
        raise OidcError("oidc.discovery.invalid", f"URL must end with {WELL_KNOWN}")
    return discovery_url[: -len(WELL_KNOWN)]
