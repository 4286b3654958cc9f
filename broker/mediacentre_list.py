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

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from broker.access import reaching
from broker.directory import load_person
from broker.domain import PersonView
from broker.licences import held_subscriptions
from broker.models import Assignment, Establishment, Person, Provider, Resource, Subscription
from broker.resource_families import with_members
from services.attributes import audience_of
from services.scolomfr import (
    DOCUMENT_TYPES,
    LEVELS,
    PEDAGOGICAL_TYPES,
    SUBJECTS,
    Term,
    terms,
)


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
    establishment = session.get(Establishment, uai)
    if establishment is None:
        raise NotListable("mediacentre.unknown_establishment")
    if establishment.ent_id is not None and establishment.ent_id != ent_id:
        raise NotListable("mediacentre.establishment_of_another_ent")
    # The row itself, held while load_person runs: its session.get then needs no SELECT.
    row = session.scalars(
        select(Person).where(Person.person_id == person_id, Person.ent_id == ent_id)).first()
    if row is None:
        raise NotListable("mediacentre.unknown_person")
    person = load_person(session, row.id)
    if uai not in person.profiles:
        raise NotListable("mediacentre.person_not_in_establishment")
    return person


def openable(session: Session, person: PersonView, uai: str, *, today: date) -> list[Openable]:
    """The resources ``person`` may open in ``uai`` today, by title; empty outside ``uai``."""
    if uai not in person.profiles:
        return []
    automatic = set(session.scalars(select(Resource.id).where(Resource.delivery == "automatic")))
    eligible = _eligible_subscriptions(session, person, uai, today)
    granted = {s.resource_id for s in eligible if s.type == "ETABL"}
    individual = [s.id for s in eligible
                  if s.type == "INDIV" and s.resource_id not in granted | automatic]
    if individual:
        reached = {sid: resource_id for sid, resource_id in session.execute(
            select(Subscription.id, Subscription.resource_id)
            .join(Assignment, Assignment.subscription_id == Subscription.id)
            .where(Subscription.id.in_(individual), reaching(person, uai))
        )}
        held = held_subscriptions(session, person.pk, reached)
        granted |= {resource_id for sid, resource_id in reached.items() if sid in held}
    return _describe(session, automatic | with_members(session, granted))


def _eligible_subscriptions(
    session: Session, person: PersonView, uai: str, today: date
) -> list[Subscription]:
    """Subscriptions of ``uai`` valid today whose audience holds the person's profile there.

    Validity is compared on UTC dates in Python, exactly as the access decision does: the
    establishment's subscriptions are few, and SQL date arithmetic differs between stores.
    """
    audience = audience_of(person.profiles[uai])
    rows = session.scalars(
        select(Subscription).where(Subscription.uai == uai, Subscription.deleted.is_(False))
    ).all()
    return [s for s in rows
            if s.start_at.date() <= today <= s.end_at.date() and audience in (s.audience or ())]


def _describe(session: Session, resource_ids: Iterable[str]) -> list[Openable]:
    ids = sorted(set(resource_ids))
    if not ids:
        return []
    rows = session.execute(
        select(Resource, Provider.distributor_id)
        .join(Provider, Provider.id == Resource.provider_id)
        .where(Resource.id.in_(ids), Resource.displayable.is_(True))
    ).all()
    listed = [
        Openable(
            id=resource.id,
            title=resource.title,
            editor_id=resource.editor_id,
            editor_name=resource.editor_name,
            distributor_id=distributor_id or resource.editor_id,
            thumbnail_url=resource.thumbnail_url,
            presentation=resource.presentation,
            levels=tuple(terms(LEVELS, resource.levels)),
            subjects=tuple(terms(SUBJECTS, resource.subjects)),
            pedagogical_types=tuple(terms(PEDAGOGICAL_TYPES, resource.pedagogical_types)),
            document_types=tuple(terms(DOCUMENT_TYPES, resource.document_types)),
        )
        for resource, distributor_id in rows
    ]
    return sorted(listed, key=lambda item: (item.title.casefold(), item.id))
