"""The release policy: exactly declared ∩ allowed for the profile ∩ present, scoped.

Values come from our directory record (``PersonView``), never from what the identity
provider sent, and are scoped to the establishments of the grant: a teacher opening a
resource in the collège releases her collège classes, not her lycée ones.

``IDO`` is HMAC-SHA512 under the broker's secret over the ENT id, the person id and (scope
"provider", the default) the provider's entity id: stable for one person at one provider,
unlinkable across providers. The parts are joined with NUL bytes so that no two different
triples can produce the same message.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from broker.domain import Grant, PersonView, Release
from broker.models import ResourceAttribute, table
from services.attributes import ALLOWED, CATALOGUE, normalise_profile

IDO_SCOPES = ("provider", "global")


def ido(ido_secret: bytes, ent_id: str, person_id: str, provider_entity_id: str | None) -> str:
    """The opaque identifier (128 hex characters); ``provider_entity_id`` None means global."""
    if not ido_secret:
        raise ValueError("the IDO secret must not be empty")
    parts = [ent_id, person_id] + ([provider_entity_id] if provider_entity_id is not None else [])
    message = "\x00".join(parts).encode("utf-8")
    return hmac.new(ido_secret, message, hashlib.sha512).hexdigest()


def release(
    person: PersonView,
    grant: Grant,
    declared: Iterable[str],
    *,
    ido_secret: bytes,
    ido_scope: str = "provider",
) -> Release:
    if ido_scope not in IDO_SCOPES:
        raise ValueError(f"unknown IDO scope: {ido_scope!r}")
    profile = normalise_profile(grant.profile)
    wanted = set(declared) & ALLOWED.get(profile, frozenset())
    opaque = ido(ido_secret, person.ent_id, person.person_id,
                 grant.provider_entity_id if ido_scope == "provider" else None)
    uais = grant.uais

    def scoped_pairs(values: Mapping[str, tuple[tuple[str, str], ...]]) -> tuple[str, ...]:
        return _unique(f"{code}##{label}" for uai in uais for code, label in values.get(uai, ()))

    def scoped(values: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
        return _unique(v for uai in uais for v in values.get(uai, ()))

    producers: dict[str, Callable[[], tuple[str, ...]]] = {
        "IDO": lambda: (opaque,),
        "UAI": lambda: _unique(uais),
        "PRO": lambda: (profile,),
        "NOM": lambda: _present(person.last_name),
        "PRE": lambda: _present(person.first_name),
        "CIV": lambda: _present(person.civility),
        "DIV": lambda: scoped_pairs(person.divisions),
        "GRO": lambda: scoped_pairs(person.groups),
        "P_MS4": lambda: scoped(person.levels),
        "P_MEL": lambda: _unique(person.emails),
        "P_MAT": lambda: scoped(person.subjects),
        "IDC": lambda: (f"{grant.resource_id}_{opaque}",),
    }
    attributes: dict[str, tuple[str, ...]] = {}
    for code in CATALOGUE:  # catalogue order: stable output
        if code in wanted:
            values = producers[code]()
            if values:
                attributes[code] = values
    return Release(attributes=attributes)


_ATTRIBUTES = table(ResourceAttribute).c
_DECLARED = (  # built once, on the table: every login runs it
    select(_ATTRIBUTES.code)
    .where(_ATTRIBUTES.resource_id == bindparam("resource_id"))
    .order_by(_ATTRIBUTES.code)
)


def declared_attributes(session: Session, resource_id: str) -> list[str]:
    """The codes a resource declared when registered (empty for an unknown resource)."""
    return list(session.scalars(_DECLARED, {"resource_id": resource_id}))


def _present(value: str | None) -> tuple[str, ...]:
    return (value,) if value else ()


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))
