"""What a person may open today in one establishment, as data: the mediacentre's list.

The answer must agree exactly with :func:`broker.access.decide` for every resource (the
tests check it resource by resource on the whole synthetic academy), but is computed as a
few set-based queries rather than one decision per catalogue entry, so the list stays cheap
with a national catalogue:

- every resource delivered automatically (free institutional resources);
- the resources of the establishment's subscriptions valid today whose audience holds the
  person's profile there, when the subscription covers the whole establishment (``ETABL``);
- the resources of its individual (``INDIV``) ones for which an assignment reaches the
  person (directly, through the whole profile, or — students only — their division or
  group) and the person holds a licence (``broker.licences``: coverage is fixed when the
  assignment is made);
- with each resource granted by a subscription, the members of its family
  (``broker.resource_families``);

and of these only the ``affichable`` ones (``Resource.displayable``): a non-displayable
resource still opens (the access decision grants it) but is not listed.

Looking the person up (:func:`find`) is also here, with the refusals the list API names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Row, Text, bindparam, cast, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import CompoundSelect

from broker.access import REACHES, reaching
from broker.directory import OF_ENT, load_person
from broker.domain import PersonView
from broker.licences import HELD
from broker.models import (
    Assignment,
    Establishment,
    Person,
    Provider,
    Resource,
    Subscription,
    table,
)
from services.attributes import audience_of
from services.scolomfr import VOCABULARIES, Term, terms


@dataclass(frozen=True)
class Openable:
    """A resource the person may open, with what the mediacentre shows of it."""

    id: str
    title: str
    editor_id: str
    editor_name: str
    distributor_id: str
    thumbnail_url: str | None
    presentation: str | None
    levels: tuple[Term, ...]
    subjects: tuple[Term, ...]
    pedagogical_types: tuple[Term, ...]
    document_types: tuple[Term, ...]


class NotListable(Exception):
    """Why no list can be given; ``code`` is stable (see ``broker.mediacentre_wire``)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def find(session: Session, ent_id: str, uai: str, person_id: str) -> PersonView:
    """The person ``person_id`` fed by ENT ``ent_id``, who must belong to establishment ``uai``.

    Raises :class:`NotListable`: ``mediacentre.unknown_establishment``,
    ``mediacentre.establishment_of_another_ent`` (the establishment is fed by another ENT),
    ``mediacentre.unknown_person`` (no such person *of this ENT*: another ENT's people are
    not disclosed), ``mediacentre.person_not_in_establishment``.
    """
    found = session.execute(_ESTABLISHMENT_AND_PERSON,
                            {"uai": uai, "ent_id": ent_id, "person_id": person_id}).first()
    if found is None:
        raise NotListable("mediacentre.unknown_establishment")
    establishment_ent, row = found
    if establishment_ent is not None and establishment_ent != ent_id:
        raise NotListable("mediacentre.establishment_of_another_ent")
    if row is None:
        raise NotListable("mediacentre.unknown_person")
    person = load_person(session, row.id)  # the row stays in the session: no second SELECT
    if uai not in person.profiles:
        raise NotListable("mediacentre.person_not_in_establishment")
    return person


def openable(session: Session, person: PersonView, uai: str, *, today: date) -> list[Openable]:
    """The resources ``person`` may open in ``uai`` today, by title; empty outside ``uai``."""
    if uai not in person.profiles:
        return []
    eligible = _eligible_subscriptions(session, person, uai, today)
    # Every resource the establishment could list, described, in one statement: the automatic
    # ones, those of its subscriptions and their families' members; then chosen here.
    candidates = list({row.id: row for row in session.execute(_CANDIDATES, {"uai": uai})}.values())
    automatic = {row.id for row in candidates if row.delivery == "automatic"}
    granted = {s.resource_id for s in eligible if s.type == "ETABL"}
    individual = {s.id: s.resource_id for s in eligible
                  if s.type == "INDIV" and s.resource_id not in granted | automatic}
    if individual:
        chosen = session.scalars(_REACHED_AND_HELD,
                                 {"uai": uai, "person_pk": person.pk, **reaching(person, uai)})
        granted |= {individual[sid] for sid in chosen if sid in individual}
    listed = [_describe(row) for row in candidates
              if row.id in automatic or row.id in granted or row.family_id in granted]
    return sorted(listed, key=lambda item: (item.title.casefold(), item.id))


def _eligible_subscriptions(
    session: Session, person: PersonView, uai: str, today: date
) -> list[Row[str, str, str, datetime, datetime, str]]:
    """Subscriptions of ``uai`` valid today whose audience holds the person's profile there.

    Validity is compared on UTC dates in Python, exactly as the access decision does: the
    establishment's subscriptions are few, and SQL date arithmetic differs between stores.
    """
    audience = audience_of(person.profiles[uai])
    rows = session.execute(_SUBSCRIPTIONS, {"uai": uai}).all()
    return [s for s in rows
            if s.start_at.date() <= today <= s.end_at.date() and audience in _listed(s.audience)]


def _describe(row: Row[*tuple[Any, ...]]) -> Openable:
    return Openable(
        id=row.id,
        title=row.title,
        editor_id=row.editor_id,
        editor_name=row.editor_name,
        distributor_id=row.distributor_id or row.editor_id,
        thumbnail_url=row.thumbnail_url,
        presentation=row.presentation,
        levels=_terms("levels", row.levels),
        subjects=_terms("subjects", row.subjects),
        pedagogical_types=_terms("pedagogical_types", row.pedagogical_types),
        document_types=_terms("document_types", row.document_types),
    )


# The JSON lists (audiences, ScoLOMFR terms) are read as their text and parsed through a
# cache: a list repeats the same few texts, and decoding some 160 JSON values per list was
# the largest part of its CPU. Statements are built once (see broker.trust).
@lru_cache(maxsize=4096)
def _listed(text: str | None) -> tuple[str, ...]:
    value = json.loads(text) if text else None
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


@lru_cache(maxsize=4096)
def _terms(field: str, text: str | None) -> tuple[Term, ...]:
    return tuple(terms(VOCABULARIES[field], _listed(text)))


# The establishment's ENT and the person, in one round trip: the person row (None when this
# ENT feeds no such person) is loaded into the session for load_person.
_ESTABLISHMENT_AND_PERSON = (
    select(Establishment.ent_id, Person)
    .select_from(Establishment)
    .outerjoin(Person, OF_ENT)
    .where(Establishment.uai == bindparam("uai"))
)
# The list's statements are built on the tables (broker.models.table): Core, no ORM layer.
_SUBSCRIPTION, _RESOURCE, _PROVIDER = table(Subscription).c, table(Resource).c, table(Provider).c
_ASSIGNMENT = table(Assignment).c
_SUBSCRIPTIONS = select(
    _SUBSCRIPTION.id, _SUBSCRIPTION.resource_id, _SUBSCRIPTION.type, _SUBSCRIPTION.start_at,
    _SUBSCRIPTION.end_at, cast(_SUBSCRIPTION.audience, Text).label("audience"),
).where(_SUBSCRIPTION.uai == bindparam("uai"), _SUBSCRIPTION.deleted.is_(False))


def _candidates() -> CompoundSelect[Any]:
    """Every resource the establishment could list, described: three indexed lookups.

    One ``UNION ALL`` (duplicates dropped by the caller) rather than one ``WHERE`` with ``OR``:
    PostgreSQL answers the ``OR`` of two subqueries with a scan of the whole catalogue.
    """
    resource, provider, subscription = _RESOURCE, _PROVIDER, _SUBSCRIPTION
    described = select(
        resource.id, resource.title, resource.editor_id, resource.editor_name,
        provider.distributor_id, resource.thumbnail_url, resource.presentation,
        resource.delivery, resource.family_id,
        *(cast(column, Text).label(column.key) for column in (
            resource.levels, resource.subjects, resource.pedagogical_types,
            resource.document_types)),
    ).join(table(Provider), provider.id == resource.provider_id)
    establishment = (subscription.uai == bindparam("uai"), subscription.deleted.is_(False))
    return union_all(
        described.where(resource.delivery == "automatic", resource.displayable.is_(True)),
        described.join(table(Subscription), subscription.resource_id == resource.id)
        .where(*establishment, resource.displayable.is_(True)),
        described.join(table(Subscription), subscription.resource_id == resource.family_id)
        .where(*establishment, resource.displayable.is_(True)),
    )


_CANDIDATES = _candidates()
# The establishment's subscriptions with an assignment reaching the person and a licence the
# person holds: the access decision's two tests (broker.access, broker.licences), in one trip.
_REACHED_AND_HELD = (
    select(_SUBSCRIPTION.id)
    .join(table(Assignment), _ASSIGNMENT.subscription_id == _SUBSCRIPTION.id)
    .where(_SUBSCRIPTION.uai == bindparam("uai"), REACHES, _SUBSCRIPTION.id.in_(HELD))
    .distinct()
)
