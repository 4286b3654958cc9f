"""Upstream OpenID Providers in the trust registry (ENTs or ÉduConnect speaking OIDC).

A provider enters by its discovery document and JWKS, fetched once at registration (or
given, for the seeded mock whose server is not up yet) and stored, so that a login never
depends on the provider's metadata endpoint. Its ID-token algorithms are pinned here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from broker.models import OidcProvider
from services.oidc import discovery, jose
from services.oidc.errors import OidcError

MAX_DOCUMENT_BYTES = 256 * 1024


def register(
    session: Session,
    document: Mapping[str, Any],
    keys: Mapping[str, Any],
    *,
    client_id: str,
    client_secret: str | None,
    algorithms: Sequence[str] = ("RS256",),
    source: str,
) -> OidcProvider:
    """Add or replace an upstream provider; the caller commits."""
    checked = discovery.read_provider_metadata(dict(document), expected_issuer=None)
    pinned = sorted(set(algorithms))
    if not pinned or not set(pinned) <= jose.ALLOWED_ALGS:
        raise OidcError("oidc.registration.invalid",
                        f"algorithms among {sorted(jose.ALLOWED_ALGS)}")
    if not isinstance(keys.get("keys"), list) or not keys["keys"]:
        raise OidcError("oidc.registration.invalid", "the provider publishes no key")
    row = session.get(OidcProvider, checked["issuer"]) or OidcProvider(issuer=checked["issuer"])
    row.discovery, row.jwks = dict(checked), dict(keys)
    row.client_id, row.client_secret = client_id, client_secret
    row.algorithms, row.source, row.registered_at = pinned, source, datetime.now(UTC)
    session.add(row)
    session.flush()
    return row


def fetch(discovery_url: str, *, timeout: float = 10.0) -> tuple[dict[str, Any], dict[str, Any]]:
    """A provider's discovery document (its issuer checked against the URL) and its JWKS."""
    expected = discovery.issuer_of(discovery_url)
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        document = discovery.read_provider_metadata(
            _json(client, discovery_url), expected_issuer=expected)
        keys = _json(client, document["jwks_uri"])
    if not isinstance(keys, dict):
        raise OidcError("oidc.discovery.invalid", "the JWKS is not a JSON object")
    return document, keys


def _json(client: httpx.Client, url: str) -> Any:
    try:
        response = client.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise OidcError("oidc.discovery.unreachable", f"{url}: {type(exc).__name__}") from exc
    if response.status_code != 200 or len(response.content) > MAX_DOCUMENT_BYTES:
        raise OidcError("oidc.discovery.unreachable", f"{url}: HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError as exc:
        raise OidcError("oidc.discovery.invalid", f"{url}: not JSON") from exc


def find(session: Session, issuer: str) -> OidcProvider | None:
    if not issuer or len(issuer) > 1024:
        return None
    return session.get(OidcProvider, issuer)


def listing(session: Session) -> list[OidcProvider]:
    return list(session.scalars(select(OidcProvider).order_by(OidcProvider.issuer)))
