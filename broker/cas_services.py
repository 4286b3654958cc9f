"""Which service URLs may ask the broker for a CAS ticket: the registered CAS resources'.

A service URL is accepted when it has exactly the origin (scheme, host, port) of a resource
declared with protocol ``cas`` and a path equal to, or below, that resource's access URL path;
its query is free (``sso_id=GAR``, ``grain``). Anything else is refused, never guessed: a
ticket is a credential, and a service URL is where it goes.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from broker.errors import FlowError
from broker.models import Provider, Resource

MAX_SERVICE = 2048


@dataclass(frozen=True)
class Service:
    url: str
    resource_id: str
    provider_entity_id: str


def checked_url(service: str) -> str:
    """The service URL if it is one a browser could be sent to safely; FlowError otherwise."""
    parts = urlsplit(service)
    if (
        len(service) > MAX_SERVICE
        or not service.isprintable()
        or " " in service
        or "\\" in service
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or "@" in parts.netloc
        or parts.fragment
        or "#" in service
        or any(segment in (".", "..") for segment in parts.path.split("/"))
    ):
        raise FlowError("cas.service_invalid", service[:100])
    return service


def find(session: Session, service: str) -> Service:
    """The registered CAS resource ``service`` belongs to (the longest access URL wins)."""
    url = checked_url(service)
    rows = session.execute(
        select(Resource.id, Resource.access_url, Provider.entity_id)
        .join(Provider, Provider.id == Resource.provider_id)
        .where(Resource.protocol == "cas")
    ).all()
    for resource_id, access_url, entity_id in sorted(rows, key=lambda r: len(r[1]), reverse=True):
        if within(url, access_url):
            return Service(url, resource_id, entity_id)
    raise FlowError("cas.service_unregistered", service[:100], 403)


def within(url: str, access_url: str) -> bool:
    """Same origin as ``access_url`` and a path at or below its path (segment boundary)."""
    got, base = urlsplit(url), urlsplit(access_url)
    if (got.scheme, _origin(got.netloc)) != (base.scheme, _origin(base.netloc)):
        return False
    root = base.path.rstrip("/")
    return got.path == base.path or got.path == root or got.path.startswith(root + "/")


def _origin(netloc: str) -> str:
    return netloc.lower()


def service_for_access(access_url: str) -> str:
    """The service URL the mediacentre opens a CAS resource with: its access URL, ``sso_id=GAR``."""
    separator = "&" if "?" in access_url else "?"
    return f"{access_url}{separator}sso_id=GAR"


def with_ticket(service: str, ticket: str) -> str:
    separator = "&" if "?" in service else "?"
    return f"{service}{separator}ticket={ticket}"
