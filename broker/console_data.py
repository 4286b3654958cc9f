"""What the assignment console shows: an establishment's subscriptions, counts and targets.

Read-only views over the store, shared by the console's pages and its JSON API so both say the
same thing. Licence counts come from :mod:`broker.licences` (the one place that counts);
nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select, true
from sqlalchemy.orm import Session

from broker import licences
from broker.models import (
    Assignment,
    Establishment,
    Group,
    LicenceAllocation,
    Person,
    PersonProfile,
    Resource,
    RespAff,
    Subscription,
)
from services.attributes import PROFILES, audience_of

#: French labels of the subscription audiences (``publicCible``).
AUDIENCE_LABELS = {
    "ELEVE": "Élèves",
    "ENSEIGNANT": "Enseignants",
    "DOCUMENTALISTE": "Professeurs documentalistes",
    "AUTRE PERSONNEL": "Autres personnels",
}
#: French labels of assignment targets, by ``target_kind``.
TARGET_LABELS = {"person": "Personne", "division": "Classe", "group": "Groupe",
                 "profile": "Profil entier"}
PROFILE_LABELS = {"National_elv": "Tous les élèves", "National_ens": "Tous les enseignants",
                  "National_doc": "Tous les professeurs documentalistes"}
ROLE_LABELS = {"RA": "Responsable d'affectation", "RAD": "Responsable d'affectation délégué"}


@dataclass(frozen=True)
class Counter:
    """Licences of one audience: ``left`` None means unlimited."""

    audience: str
    label: str
    used: int
    left: int | None


@dataclass(frozen=True)
class SubscriptionView:
    id: str
    resource_id: str
    resource_title: str
    start_at: datetime
    end_at: datetime
    type: str  # INDIV | ETABL
    category: str
    audience: tuple[str, ...]
    counters: tuple[Counter, ...]

    @property
    def needs_assignment(self) -> bool:
        return self.type == "INDIV"


@dataclass(frozen=True)
class AssignmentView:
    id: int
    target_kind: str
    target_value: str
    target_label: str
    created_at: datetime


@dataclass(frozen=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True)
class Targets:
    """What an officer may pick as the target of an assignment in one establishment."""

    persons: tuple[Option, ...]
    divisions: tuple[Option, ...]
    groups: tuple[Option, ...]
    profiles: tuple[Option, ...]


def establishment_name(session: Session, uai: str) -> str:
    name = session.scalar(select(Establishment.name).where(Establishment.uai == uai))
    return name or uai


def person_name(session: Session, person_pk: int) -> str:
    person = session.get(Person, person_pk)
    return "" if person is None else f"{person.first_name} {person.last_name}"


def counters(session: Session, subscription: Subscription) -> tuple[Counter, ...]:
    """Used and left per audience of the subscription (ETABL: nothing is counted)."""
    if subscription.type != "INDIV":
        return ()
    used = licences.used(session, subscription.id)
    left = licences.available(session, subscription.id)
    return tuple(
        Counter(audience, AUDIENCE_LABELS.get(audience, audience), used.get(audience, 0),
                left.get(audience))
        for audience in subscription.audience or ()
    )


def _view(session: Session, subscription: Subscription, title: str) -> SubscriptionView:
    return SubscriptionView(
        id=subscription.id,
        resource_id=subscription.resource_id,
        resource_title=subscription.resource_label or title,
        start_at=subscription.start_at,
        end_at=subscription.end_at,
        type=subscription.type,
        category=subscription.category,
        audience=tuple(subscription.audience or ()),
        counters=counters(session, subscription),
    )


def subscriptions(session: Session, uai: str) -> list[SubscriptionView]:
    """The establishment's live subscriptions, by resource title."""
    rows = session.execute(
        select(Subscription, Resource.title)
        .join(Resource, Resource.id == Subscription.resource_id)
        .where(Subscription.uai == uai, Subscription.deleted.is_(False))
        .order_by(Resource.title, Subscription.id)
    ).all()
    return [_view(session, subscription, title) for subscription, title in rows]


def subscription(session: Session, uai: str, subscription_id: str) -> SubscriptionView | None:
    """One live subscription of the establishment; None for any other (or another's)."""
    row = session.execute(
        select(Subscription, Resource.title)
        .join(Resource, Resource.id == Subscription.resource_id)
        .where(Subscription.id == subscription_id, Subscription.uai == uai,
               Subscription.deleted.is_(False))
    ).first()
    return None if row is None else _view(session, row[0], row[1])


def subscription_uai(session: Session, subscription_id: str) -> str | None:
    """The establishment of a subscription, whoever it belongs to (for authorisation)."""
    return session.scalar(select(Subscription.uai).where(Subscription.id == subscription_id))


def assignment_place(session: Session, assignment_id: int) -> tuple[str, str] | None:
    """(subscription id, establishment) of an assignment, or None when there is none."""
    row = session.execute(
        select(Subscription.id, Subscription.uai)
        .join(Assignment, Assignment.subscription_id == Subscription.id)
        .where(Assignment.id == assignment_id)
    ).first()
    return None if row is None or row[1] is None else (row[0], row[1])


def assignments(session: Session, uai: str, subscription_id: str) -> list[AssignmentView]:
    rows = session.scalars(
        select(Assignment).where(Assignment.subscription_id == subscription_id)
        .order_by(Assignment.id)
    ).all()
    labels = _target_labels(session, uai, [a.target_value for a in rows
                                           if a.target_kind == "person"])
    return [
        AssignmentView(a.id, a.target_kind, a.target_value,
                       labels.get((a.target_kind, a.target_value), a.target_value), a.created_at)
        for a in rows
    ]


def _target_labels(session: Session, uai: str,
                   person_ids: list[str]) -> dict[tuple[str, str], str]:
    """Labels of the establishment's classes, groups, profiles and of these persons only."""
    targets = targets_of(session, uai, audience=None)
    labels: dict[tuple[str, str], str] = {}
    persons = _persons(session, uai, None, Person.person_id.in_(person_ids), None)
    for kind, options in (("person", persons), ("division", targets.divisions),
                          ("group", targets.groups), ("profile", targets.profiles)):
        labels.update({(kind, o.value): o.label for o in options})
    return labels


#: At most this many persons answer a search: the picker never lists a whole establishment.
PERSON_RESULTS = 20
MIN_QUERY, MAX_QUERY = 2, 100


@dataclass(frozen=True)
class PersonSearch:
    """A name search in one establishment: the first matches, and whether there were more."""

    query: str
    persons: tuple[Option, ...]
    truncated: bool

    @property
    def valid(self) -> bool:
        return MIN_QUERY <= len(self.query) <= MAX_QUERY


def _persons(session: Session, uai: str, audience: tuple[str, ...] | None,
             condition: ColumnElement[bool], limit: int | None) -> tuple[Option, ...]:
    found: list[Option] = []
    for person_id, first, last, profile in session.execute(
        select(Person.person_id, Person.first_name, Person.last_name, PersonProfile.profile)
        .join(PersonProfile, PersonProfile.person_pk == Person.id)
        .where(PersonProfile.uai == uai, condition)
        .order_by(Person.last_name, Person.first_name, Person.person_id)
    ):
        if _in(audience, profile):
            found.append(Option(person_id, f"{last} {first} ({_profile_short(profile)})"))
            if limit is not None and len(found) >= limit:
                break
    return tuple(found)


def search_persons(session: Session, uai: str, query: str, *,
                   audience: tuple[str, ...] | None) -> PersonSearch:
    """Persons of the establishment whose last or first name contains ``query`` (any case).

    Bounded to :data:`PERSON_RESULTS` (one more is read to know whether there were more), so a
    search in a 3,000-pupil lycée costs what it costs in a village school.
    """
    text = " ".join(query.split())
    if not MIN_QUERY <= len(text) <= MAX_QUERY or not text.isprintable():
        return PersonSearch(text[:MAX_QUERY], (), False)
    pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace(
        "_", "\\_") + "%"
    condition = or_(func.lower(Person.last_name).like(pattern, escape="\\"),
                    func.lower(Person.first_name).like(pattern, escape="\\"),
                    func.lower(Person.first_name + " " + Person.last_name)
                    .like(pattern, escape="\\"),
                    func.lower(Person.last_name + " " + Person.first_name)
                    .like(pattern, escape="\\"))
    found = _persons(session, uai, audience, condition, PERSON_RESULTS + 1)
    return PersonSearch(text, found[:PERSON_RESULTS], len(found) > PERSON_RESULTS)


def locked_licences(session: Session, uai: str, subscription_id: str) -> int:
    """Held licences of people who left the establishment (what a recovery would take back)."""
    present = select(PersonProfile.person_pk).where(PersonProfile.uai == uai)
    return int(session.scalar(
        select(func.count()).select_from(LicenceAllocation).where(
            LicenceAllocation.subscription_id == subscription_id,
            LicenceAllocation.released_at.is_(None),
            LicenceAllocation.person_pk.is_(None) | LicenceAllocation.person_pk.not_in(present))
    ) or 0)


def targets_of(session: Session, uai: str, *, audience: tuple[str, ...] | None) -> Targets:
    """Classes, groups and profiles of the establishment an assignment may name.

    With ``audience``, profiles outside it are left out (a students-only subscription offers
    no teacher). Persons are not listed here (an establishment has thousands): the picker
    searches them by name (:func:`search_persons`), so ``persons`` is always empty.
    """
    persons: list[Option] = []
    groups = session.execute(
        select(Group.code, Group.label, Group.status).where(Group.uai == uai)
        .order_by(Group.code)
    ).all()
    return Targets(
        persons=tuple(persons),
        divisions=tuple(Option(code, label) for code, label, status in groups
                        if status == "DIVISION"),
        groups=tuple(Option(code, label) for code, label, status in groups
                     if status != "DIVISION"),
        profiles=tuple(Option(p, PROFILE_LABELS[p]) for p in PROFILES if _in(audience, p)),
    )


def _in(audience: tuple[str, ...] | None, profile: str) -> bool:
    if audience is None:
        return True
    try:
        return audience_of(profile) in audience
    except ValueError:
        return False


def _profile_short(profile: str) -> str:
    try:
        return {"ELEVE": "élève", "ENSEIGNANT": "enseignant", "DOCUMENTALISTE": "documentaliste"
                }.get(audience_of(profile), "personnel")
    except ValueError:
        return "personnel"


def officers(session: Session, uai: str) -> list[tuple[str, str, str]]:
    """(person id, name, role) of the establishment's declared officers and delegates."""
    rows = session.execute(
        select(Person.person_id, Person.first_name, Person.last_name, RespAff.role)
        .join(RespAff, RespAff.person_pk == Person.id)
        .where(RespAff.uai == uai)
        .order_by(Person.last_name, Person.first_name)
    ).all()
    return [(pid, f"{first} {last}", role) for pid, first, last, role in rows]


def staff(session: Session, uai: str) -> tuple[Option, ...]:
    """Adults of the establishment, the people the role may be delegated to."""
    adults = ("ENSEIGNANT", "DOCUMENTALISTE", "AUTRE PERSONNEL")
    return _persons(session, uai, adults, true(), None)


def person_pk_in(session: Session, uai: str, person_id: str) -> int | None:
    """The internal key of a person of the establishment, by ``GARPersonIdentifiant``."""
    return session.scalar(
        select(Person.id)
        .join(PersonProfile, PersonProfile.person_pk == Person.id)
        .where(Person.person_id == person_id, PersonProfile.uai == uai)
    )
