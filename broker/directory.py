"""From what the identity provider says to our directory record of the person.

Two shapes are accepted (GAR_REFERENCE §4a), and nothing else the provider sends is read:
- ENT-style: exactly one ``idEnt`` and one ``GARPersonIdentifiant``; the person is the record
  with that id fed by that ENT.
- ÉduConnect-style: ``FrEduCtRefId`` values; those of the form ``{AAF}<academy>:<join key>``
  (built by :func:`educonnect_ref_id`, the one place that format lives) name the record with
  that join key, provided one of its establishments belongs to that academy. Several values
  naming different people is ambiguous and matches no one.
When both shapes are present the ENT one wins: it names the record directly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, String, and_, bindparam, cast, literal, null, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import Label
from sqlalchemy.sql.selectable import CompoundSelect

from broker.domain import Authentication, PersonView
from broker.models import (
    Establishment,
    Group,
    GroupMember,
    Person,
    PersonLevel,
    PersonProfile,
    PersonSubject,
    RespAff,
    Subject,
    table,
)
from services.attributes import normalise_profile

AAF_PREFIX = "{AAF}"
_MAX_VALUE = 256
_MAX_REF_VALUES = 16


def educonnect_ref_id(academy: str, join_key: str) -> str:
    """The ``FrEduCtRefId`` value carrying an academy code and a join key."""
    if not academy or ":" in academy or not join_key:
        raise ValueError("an academy code without ':' and a non-empty join key are needed")
    return f"{AAF_PREFIX}{academy}:{join_key}"


def parse_educonnect_ref_id(value: str) -> tuple[str, str] | None:
    """(academy, join key) from an ``{AAF}`` value; None for any other value."""
    if not isinstance(value, str) or len(value) > _MAX_VALUE or not value.startswith(AAF_PREFIX):
        return None
    academy, colon, join_key = value[len(AAF_PREFIX):].partition(":")
    if not colon or not academy or not join_key or len(join_key) > 64:
        return None
    if not (academy.isprintable() and join_key.isprintable()):
        return None
    return academy, join_key


def _single(values: Sequence[str] | None) -> str | None:
    """The one value of an attribute; None when absent, repeated, empty or oversized."""
    if values is None or isinstance(values, str) or len(values) != 1:
        return None
    value = values[0]
    if not isinstance(value, str) or not value or len(value) > 64:
        return None
    return value


def find_person(session: Session, auth: Authentication) -> PersonView | None:
    attributes = auth.attributes
    ent_id = _single(attributes.get("idEnt"))
    person_id = _single(attributes.get("GARPersonIdentifiant"))
    if ent_id is not None and person_id is not None:
        person = person_of_ent(session, ent_id, person_id)
        return None if person is None else load_person(session, person.id)
    refs = attributes.get("FrEduCtRefId")
    if refs is None or isinstance(refs, str):
        return None
    found: set[int] = set()
    for value in list(refs)[:_MAX_REF_VALUES]:
        parsed = parse_educonnect_ref_id(value)
        if parsed is None:
            continue
        academy, join_key = parsed
        pk = session.scalar(_BY_JOIN_KEY, {"join_key": join_key, "academy": academy})
        if pk is not None:
            found.add(pk)
    if len(found) != 1:
        return None
    return load_person(session, found.pop())


def person_of_ent(session: Session, ent_id: str, person_id: str) -> Person | None:
    """The record of ``person_id`` fed by ENT ``ent_id``.

    Keep the row while :func:`load_person` runs: its ``session.get`` is then answered from
    the identity map instead of a second SELECT.
    """
    return session.scalars(_BY_ENT_ID, {"person_id": person_id, "ent_id": ent_id}).first()


def load_person(session: Session, pk: int) -> PersonView:
    """The directory view of person ``pk``; LookupError when there is none."""
    person = session.get(Person, pk)
    if person is None:
        raise LookupError(f"no person {pk}")
    profiles: dict[str, str] = {}
    divisions: dict[str, list[tuple[str, str]]] = defaultdict(list)
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    levels: dict[str, list[str]] = defaultdict(list)
    subjects: dict[str, list[str]] = defaultdict(list)
    respaff: list[str] = []
    for kind, uai, first, second, third in session.execute(_PERSON_FACTS, {"pk": pk}):
        if kind == "profile":
            try:
                profiles[uai] = normalise_profile(first)
            except ValueError:
                continue  # an unknown profile grants nothing in that establishment
        elif kind == "group":
            (divisions if third == "DIVISION" else groups)[uai].append((first, second))
        elif kind == "level":
            levels[uai].append(first)
        elif kind == "subject":
            subjects[uai].append(first)
        else:
            respaff.append(uai)
    return PersonView(
        pk=person.id,
        person_id=person.person_id,
        ent_id=person.ent_id,
        profiles=profiles,
        last_name=person.last_name,
        first_name=person.first_name,
        civility=person.civility,
        emails=tuple(person.emails or ()),
        divisions={uai: tuple(sorted(v)) for uai, v in divisions.items()},
        groups={uai: tuple(sorted(v)) for uai, v in groups.items()},
        levels={uai: tuple(sorted(v)) for uai, v in levels.items()},
        subjects={uai: tuple(sorted(v)) for uai, v in subjects.items()},
        respaff=tuple(sorted(respaff)),
    )


def _person_facts() -> CompoundSelect[Any]:
    """Everything the view needs beyond the person row, in one round trip.

    One UNION ALL of (kind, uai, up to three values) rows instead of one SELECT per table:
    the SSO path runs this for every login, and the statements, not the database's work,
    were its cost.
    """
    def kind(name: str) -> Label[str]:
        return literal(name, String).label("kind")

    pk = bindparam("pk", type_=Integer)
    nothing = cast(null(), String)
    profiles, groups, members = table(PersonProfile), table(Group), table(GroupMember)
    levels, subjects, taught = table(PersonLevel), table(Subject), table(PersonSubject)
    respaff = table(RespAff)
    return union_all(
        select(kind("profile"), profiles.c.uai, profiles.c.profile, nothing, nothing)
        .where(profiles.c.person_pk == pk),
        select(kind("group"), groups.c.uai, groups.c.code, groups.c.label, groups.c.status)
        .join(members, members.c.group_id == groups.c.id)
        .where(members.c.person_pk == pk),
        select(kind("level"), levels.c.uai, levels.c.mefstat4, nothing, nothing)
        .where(levels.c.person_pk == pk),
        select(kind("subject"), subjects.c.uai, subjects.c.code, nothing, nothing)
        .join(taught, taught.c.subject_id == subjects.c.id)
        .where(taught.c.person_pk == pk),
        select(kind("respaff"), respaff.c.uai, nothing, nothing, nothing)
        .where(respaff.c.person_pk == pk),
    )


# Built once, at import: building a statement and its cache key on every login cost more than
# running it.
_PERSON_FACTS = _person_facts()
#: SQL condition: the person ``:person_id`` fed by ENT ``:ent_id`` (also joined on by the
#: mediacentre list, which checks the establishment in the same statement).
OF_ENT = and_(Person.person_id == bindparam("person_id"), Person.ent_id == bindparam("ent_id"))
_BY_ENT_ID = select(Person).where(OF_ENT)
_BY_JOIN_KEY = (
    select(Person.id)
    .join(PersonProfile, PersonProfile.person_pk == Person.id)
    .join(Establishment, Establishment.uai == PersonProfile.uai)
    .where(Person.join_key == bindparam("join_key"),
           Establishment.academy == bindparam("academy"))
    .limit(1)
)
