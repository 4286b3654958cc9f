"""The broker's OpenID Connect clients: resources that receive their user by OIDC.

A client enters the trust registry from a registration document (the fields of OpenID
Connect Dynamic Client Registration, read by an administrator's command, never over an open
endpoint) and belongs to one provider of the catalogue, whose resources it may name.
Redirect URIs are compared exactly (no prefix, no wildcard, no normalisation).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from broker.models import OidcClient, Provider
from services.oidc.errors import OidcError

AUTH_METHODS = ("client_secret_basic", "none")  # none: a public client, PKCE is its proof
MAX_URIS = 20


@dataclass(frozen=True)
class Registered:
    client_id: str
    secret: str | None  # shown once; only its digest is stored


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _uri(value: object, field: str) -> str:
    if not isinstance(value, str) or len(value) > 2048 or not value.isprintable():
        raise OidcError("oidc.registration.invalid", f"{field}: not a URI")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
        raise OidcError("oidc.registration.invalid", f"{field}: absolute http(s) URI, no fragment")
    return value


def _uris(document: Mapping[str, Any], field: str, *, required: bool) -> list[str]:
    values = document.get(field, [])
    if not isinstance(values, list) or len(values) > MAX_URIS or (required and not values):
        raise OidcError("oidc.registration.invalid", f"{field}: a list of 1 to {MAX_URIS} URIs")
    return [_uri(v, field) for v in values]


def register(
    session: Session, document: Mapping[str, Any], *, provider_id: str, secret: str | None = None
) -> Registered:
    """Add or replace a client from its registration document; the caller commits.

    ``secret`` sets a known secret (the seeded mock reads it from its keys folder); None
    generates one for a confidential client.
    """
    client_id = document.get("client_id")
    if not isinstance(client_id, str) or not 1 <= len(client_id) <= 255:
        raise OidcError("oidc.registration.invalid", "client_id: 1 to 255 characters")
    method = document.get("token_endpoint_auth_method", "client_secret_basic")
    if method not in AUTH_METHODS:
        raise OidcError("oidc.registration.invalid", f"token_endpoint_auth_method: {AUTH_METHODS}")
    if session.get(Provider, provider_id) is None:
        raise OidcError("oidc.registration.invalid", f"unknown provider {provider_id!r}")
    initiate = document.get("initiate_login_uri")
    name = document.get("client_name", client_id)
    # A public client has no secret: PKCE is its proof of possession.
    secret = (secret or secrets.token_urlsafe(32)) if method == "client_secret_basic" else None
    client = session.get(OidcClient, client_id) or OidcClient(client_id=client_id)
    client.provider_id = provider_id
    client.name = str(name)[:500]
    client.auth_method = str(method)
    client.secret_sha256 = digest(secret) if secret else None
    client.redirect_uris = _uris(document, "redirect_uris", required=True)
    client.post_logout_redirect_uris = _uris(document, "post_logout_redirect_uris", required=False)
    client.initiate_login_uri = None if initiate is None else _uri(initiate, "initiate_login_uri")
    client.registered_at = datetime.now(UTC)
    session.add(client)
    session.flush()
    return Registered(client_id, secret)


def find(session: Session, client_id: str | None) -> OidcClient | None:
    if not client_id or len(client_id) > 255:
        return None
    return session.get(OidcClient, client_id)


def for_provider(session: Session, provider_id: str) -> OidcClient | None:
    return session.scalars(
        select(OidcClient).where(OidcClient.provider_id == provider_id)
        .order_by(OidcClient.client_id)
    ).first()


def listing(session: Session) -> list[OidcClient]:
    return list(session.scalars(select(OidcClient).order_by(OidcClient.client_id)))


def authenticate(
    session: Session, authorization: str | None, form: Mapping[str, str]
) -> OidcClient:
    """The client a token request comes from: HTTP Basic for a confidential one.

    A confidential client must use Basic (``client_secret_basic``, as the real GAR asks);
    a public one names itself with ``client_id`` and proves possession through PKCE.
    """
    if authorization and authorization[:6].lower() == "basic ":
        try:
            raw = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
            client_id, secret = (unquote(part) for part in raw.split(":", 1))
        except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
            raise OidcError("oidc.client.unauthenticated", "malformed Basic header") from exc
        client = find(session, client_id)
        if (
            client is None
            or client.auth_method != "client_secret_basic"
            or client.secret_sha256 is None
            or not hmac.compare_digest(digest(secret), client.secret_sha256)
        ):
            raise OidcError("oidc.client.unauthenticated", "unknown client or wrong secret")
        return client
    client = find(session, form.get("client_id"))
    if client is None or client.auth_method != "none":
        raise OidcError("oidc.client.unauthenticated", "client authentication is required")
    return client
