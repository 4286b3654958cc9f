"""Upstream OpenID Providers in the trust registry (ENTs or ÉduConnect speaking OIDC).

A provider enters by its discovery document and JWKS, fetched once at registration (or
given, for the seeded mock whose server is not up yet) and stored, so that a login never
depends on the provider's metadata endpoint. Its ID-token algorithms are pinned here.

A provider that rolls its signing key signs with a ``kid`` the stored JWKS does not know:
the relying party then re-fetches the stored ``jwks_uri`` (never a URL the token names), at
most once per ``KEY_REFRESH_INTERVAL`` per provider. The lease is a row in the store's
one-time-use table, so several broker instances agree on who fetches, and the keys fetched
are stored for all of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from broker import state as login_state
from broker.models import ConsumedAssertion, OidcProvider
from services.oidc import discovery, jose
from services.oidc.errors import OidcError

MAX_DOCUMENT_BYTES = 256 * 1024
KEY_REFRESH_INTERVAL = timedelta(minutes=5)
_REFRESH_LEASE = "jwks-refresh"  # the lease's id in the one-time-use table, per issuer


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
    row.discovery, row.jwks = dict(checked), read_jwks(keys)
    row.client_id, row.client_secret = client_id, client_secret
    row.algorithms, row.source, row.registered_at = pinned, source, datetime.now(UTC)
    session.add(row)
    session.flush()
    return row


def fetch(
    discovery_url: str, *, timeout: float = 10.0, client: httpx.Client | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A provider's discovery document (its issuer checked against the URL) and its JWKS.

    ``client`` is for a caller that routes requests itself (tests reach an in-process app).
    """
    expected = discovery.issuer_of(discovery_url)
    http = client or httpx.Client(timeout=timeout)
    try:
        document = discovery.read_provider_metadata(
            _json(http, discovery_url), expected_issuer=expected)
        keys = read_jwks(_json(http, document["jwks_uri"]))
    finally:
        if client is None:
            http.close()
    return document, keys


_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})  # RFC 7518 §6


def read_jwks(keys: object) -> dict[str, Any]:
    """A fetched JWK Set, refused unless it is an object with at least one public key object.

    A provider that publishes private key material is misconfigured: its keys are not stored.
    """
    if not isinstance(keys, Mapping):
        raise OidcError("oidc.discovery.invalid", "the JWKS is not a JSON object")
    listed = keys.get("keys")
    if not isinstance(listed, list) or not listed or not all(isinstance(k, dict) for k in listed):
        raise OidcError("oidc.discovery.invalid", "the provider publishes no key")
    if any(_PRIVATE_MEMBERS & set(k) for k in listed):
        raise OidcError("oidc.discovery.invalid", "the JWKS holds private or symmetric keys")
    return {"keys": list(listed)}


def key_ids(keys: Mapping[str, Any]) -> set[str]:
    return {k["kid"] for k in keys.get("keys", []) if isinstance(k.get("kid"), str)}


def take_refresh_lease(session: Session, issuer: str, now: datetime) -> bool:
    """Whether this caller may re-fetch ``issuer``'s JWKS now (once per interval, all instances).

    An expired lease is deleted, then a new one inserted unless another instance's is there:
    the unique (issuer, id) pair lets exactly one concurrent caller win. The caller commits.
    """
    session.execute(delete(ConsumedAssertion).where(
        ConsumedAssertion.issuer == issuer, ConsumedAssertion.assertion_id == _REFRESH_LEASE,
        ConsumedAssertion.expires_at <= now))
    return login_state.remember_assertion(session, issuer, _REFRESH_LEASE,
                                          now + KEY_REFRESH_INTERVAL)


def store_keys(session: Session, issuer: str, keys: Mapping[str, Any]) -> None:
    """Replace a registered provider's JWKS with freshly fetched keys; the caller commits."""
    row = session.get(OidcProvider, issuer)
    if row is not None:
        row.jwks = read_jwks(keys)


def _json(client: httpx.Client, url: str) -> Any:
    try:
        response = client.get(url, headers={"Accept": "application/json"},
                              follow_redirects=False)
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
