"""Finding the resource a flow is about: by its id, or by the URL a provider put in RelayState.

The real GAR requires the RelayState of a provider's AuthnRequest to carry the resource URL
of its catalogue record; the broker refuses a URL that matches none of that provider's
resources rather than guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from broker.errors import FlowError
from broker.models import Provider, Resource, ResourceAttribute

MAX_RELAY_STATE = 1024
# Built once (every SP-initiated login runs the first): see broker.trust.
_OF_PROVIDER = (
    select(Resource)
    .join(Provider, Provider.id == Resource.provider_id)
    .where(Provider.entity_id == bindparam("provider"))
)
_EXACT = _OF_PROVIDER.where(Resource.access_url == bindparam("url")).order_by(Resource.id).limit(1)


@dataclass(frozen=True)
class Listed:
    id: str
    title: str
    access_url: str
    provider: str
    attributes: tuple[str, ...]


def get(session: Session, resource_id: str) -> Resource:
    resource = session.get(Resource, resource_id)
    if resource is None:
        raise FlowError("sso.unknown_resource", resource_id, 404)
    return resource


def provider_entity_id(session: Session, resource: Resource) -> str:
    return session.scalars(
        select(Provider.entity_id).where(Provider.id == resource.provider_id)
    ).one()


def for_relay_state(session: Session, provider_entity_id: str, relay_state: str | None) -> Resource:
    """The provider's resource whose access URL the RelayState is (or a deep link under it)."""
    if not relay_state:
        raise FlowError("sso.unknown_resource", "RelayState is empty")
    parts = urlsplit(relay_state)
    if (
        len(relay_state) > MAX_RELAY_STATE
        or parts.scheme not in ("http", "https")
        or not parts.netloc
        or not relay_state.isprintable()
    ):
        raise FlowError("sso.relay_state_invalid", relay_state[:100])
    # The usual RelayState is exactly the access URL: one row, not the provider's catalogue.
    # An exact match is the longest base the RelayState lies within, as the scan would pick.
    exact = session.scalars(_EXACT, {"provider": provider_entity_id, "url": relay_state}).first()
    if exact is not None:
        return exact
    candidates = session.scalars(_OF_PROVIDER, {"provider": provider_entity_id}).all()
    for resource in sorted(candidates, key=lambda r: len(r.access_url), reverse=True):
        if _within(relay_state, resource.access_url):
            return resource
    raise FlowError("sso.unknown_resource", relay_state[:100])


def _within(url: str, base: str) -> bool:
    """Exactly the base URL, or a deep link below it (path boundary, same origin)."""
    if url == base:
        return True
    return url.startswith(base.rstrip("/") + "/") or url.startswith(base + "?")


def listing(session: Session) -> list[Listed]:
    rows = session.execute(
        select(Resource, Provider.entity_id)
        .join(Provider, Provider.id == Resource.provider_id)
        .order_by(Resource.title)
    ).all()
    declared: dict[str, list[str]] = {}
    for resource_id, code in session.execute(
        select(ResourceAttribute.resource_id, ResourceAttribute.code).order_by(ResourceAttribute.id)
    ):
        declared.setdefault(resource_id, []).append(code)
    return [
        Listed(r.id, r.title, r.access_url, entity, tuple(declared.get(r.id, ())))
        for r, entity in rows
    ]
