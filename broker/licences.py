"""Licence accounting: what a subscription grants, what is used, who holds a licence.

The ledger is ``LicenceAllocation``: one row per person holding a licence of a subscription
(GAR_REFERENCE §3 counts, DESIGN "Assignment"). A person holds at most one licence of a
subscription however many assignments cover them, so the counts are exact and each one can be
traced to a person, an assignment, an officer and a date.

Coverage is fixed at assignment time: an assignment allocates a licence to every person its
target covers *then*. Someone joining a class later is not covered until an officer tops the
assignment up (:func:`broker.assignments.refresh`), and the access decision requires a held
licence (:func:`held_subscriptions`), so access and counts always agree.

Every change to a subscription's licences first takes :func:`lock`, and counts are read only
after it: concurrent assignments (or a distributor lowering a count) serialise on the
subscription row and can never oversell. The caller owns the transaction; nothing here commits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from broker.models import (
    Assignment,
    Group,
    GroupMember,
    LicenceAllocation,
    Person,
    PersonProfile,
    Subscription,
    table,
)
from services.attributes import AUDIENCES, audience_of, normalise_profile

TARGET_KINDS: tuple[str, ...] = ("person", "division", "group", "profile")
_GROUP_STATUS = {"division": "DIVISION", "group": "GROUPE"}
_STUDENT = "National_elv"

#: Stable error codes with the French sentence shown to the officer.
MESSAGES: Mapping[str, str] = {
    "licence.unknown_subscription": "Cet abonnement n'existe pas.",
    "licence.unknown_assignment": "Cette affectation n'existe pas (ou plus).",
    "licence.unknown_target": "La personne, la classe, le groupe ou le profil visé est inconnu "
                              "dans cet établissement.",
    "licence.not_in_audience": "Le public visé n'est pas couvert par cet abonnement.",
    "licence.not_assignable": "Cette ressource ne s'affecte pas : l'abonnement couvre tout "
                              "l'établissement, ou la ressource est distribuée automatiquement.",
    "licence.subscription_expired": "Cet abonnement est échu : il ne peut plus être affecté.",
    "licence.exhausted": "Il ne reste pas assez de licences pour cette affectation.",
    "licence.already_assigned": "Cette affectation existe déjà.",
    "licence.wrong_establishment": "Cet abonnement ou cette affectation relève d'un autre "
                                   "établissement.",
    "licence.not_officer": "Vous n'êtes pas responsable d'affectation de cet établissement.",
    "licence.delegation_refused": "Seul le responsable d'affectation (et non un délégué) peut "
                                  "déléguer ce rôle.",
    "licence.already_officer": "Cette personne est déjà responsable d'affectation ou déléguée "
                               "dans cet établissement.",
}


class LicenceError(Exception):
    """A refused licence operation, with a stable ``code`` and a short (non-secret) detail."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail

    @property
    def message(self) -> str:
        """The French sentence for the officer."""
        return MESSAGES.get(self.code, "Opération refusée.")

    @property
    def status(self) -> int:
        """The HTTP status an API answers with: 403 rights, 404 unknown, 409 state, 422 input."""
        return _STATUS.get(self.code, 422)


_STATUS: Mapping[str, int] = {
    "licence.not_officer": 403,
    "licence.wrong_establishment": 403,
    "licence.delegation_refused": 403,
    "licence.unknown_subscription": 404,
    "licence.unknown_assignment": 404,
    "licence.exhausted": 409,
    "licence.already_assigned": 409,
    "licence.already_officer": 409,
}


@dataclass(frozen=True)
class Member:
    """A person an assignment target covers, and the audience their licence counts in."""

    person_pk: int
    audience: str


def lock(session: Session, subscription_id: str) -> Subscription:
    """Take the subscription's row lock for the rest of the caller's transaction.

    PostgreSQL: ``SELECT … FOR UPDATE``. SQLite has no row locks: a no-op UPDATE takes the
    database write lock, which serialises writers the same way. Take it before reading counts.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(Subscription)
            .where(Subscription.id == subscription_id)
            .values(deleted=Subscription.deleted)
            .execution_options(synchronize_session=False)
        )
        query = select(Subscription).where(Subscription.id == subscription_id)
    else:
        query = select(Subscription).where(Subscription.id == subscription_id).with_for_update()
    found = session.scalars(query.execution_options(populate_existing=True)).one_or_none()
    if found is None:
        raise LicenceError("licence.unknown_subscription", subscription_id[:64])
    return found


def used(session: Session, subscription_id: str) -> dict[str, int]:
    """Licences held per audience (locked and non-transferable withdrawn ones included)."""
    counts = dict.fromkeys(AUDIENCES, 0)
    rows = session.execute(
        select(LicenceAllocation.audience, func.count())
        .where(LicenceAllocation.subscription_id == subscription_id,
               LicenceAllocation.released_at.is_(None))
        .group_by(LicenceAllocation.audience)
    ).all()
    for audience, count in rows:
        counts[audience] = counts.get(audience, 0) + int(count)
    return counts


def available(session: Session, subscription_id: str) -> dict[str, int | None]:
    """Licences left per audience; None means unlimited, 0 for an audience not targeted.

    With a global count the audiences share one pool: each shows what is left of it.
    """
    subscription = session.get(Subscription, subscription_id)
    if subscription is None:
        raise LicenceError("licence.unknown_subscription", subscription_id[:64])
    return left(subscription, used(session, subscription_id))


def granted(subscription: Subscription) -> dict[str, int | None]:
    """What the subscription grants per audience (None: unlimited; a global count repeated)."""
    result: dict[str, int | None] = {}
    per_audience = {
        "ELEVE": subscription.licences_student,
        "ENSEIGNANT": subscription.licences_teacher,
        "DOCUMENTALISTE": subscription.licences_librarian,
        "AUTRE PERSONNEL": subscription.licences_other,
    }
    for audience in AUDIENCES:
        if audience not in (subscription.audience or ()):
            result[audience] = 0
        elif subscription.licences_unlimited:
            result[audience] = None
        elif subscription.licences_global is not None:
            result[audience] = subscription.licences_global
        else:
            result[audience] = per_audience[audience] or 0
    return result


def left(subscription: Subscription, counts: Mapping[str, int]) -> dict[str, int | None]:
    """Licences left given ``counts`` in use (pure: the console may reuse fetched counts)."""
    total = sum(counts.values())
    shared = subscription.licences_global is not None and not subscription.licences_unlimited
    result: dict[str, int | None] = {}
    for audience, limit in granted(subscription).items():
        if limit is None:
            result[audience] = None
        else:
            result[audience] = max(0, limit - (total if shared else counts.get(audience, 0)))
    return result


def check_room(subscription: Subscription, counts: Mapping[str, int],
               needed: Mapping[str, int]) -> None:
    """Raise ``licence.exhausted`` unless ``needed`` more licences fit in what is granted."""
    if not any(needed.values()):
        return
    room = left(subscription, counts)
    shared = subscription.licences_global is not None and not subscription.licences_unlimited
    if shared:
        first = next(iter(room.values()))
        total = sum(needed.values())
        if first is not None and total > first:
            raise LicenceError("licence.exhausted", f"{total} demandées, {first} disponibles")
        return
    for audience, count in needed.items():
        remaining = room.get(audience, 0)
        if remaining is not None and count > remaining:
            raise LicenceError("licence.exhausted",
                               f"{audience} : {count} demandées, {remaining} disponibles")


def members(session: Session, uai: str, target_kind: str, target_value: str) -> list[Member]:
    """Who a target covers in ``uai`` now: a person, a class's or group's students, a profile.

    Raises ``licence.unknown_target`` when the target does not exist in the establishment.
    A division or group covers its students only: teachers linked to it are reached by a
    person or profile assignment, matching the per-audience counts (and ``broker.access``).
    """
    if target_kind == "person":
        rows = session.execute(
            select(Person.id, PersonProfile.profile)
            .join(PersonProfile, PersonProfile.person_pk == Person.id)
            .where(Person.person_id == target_value, PersonProfile.uai == uai)
        ).all()
        if not rows:
            raise LicenceError("licence.unknown_target", f"person {target_value[:64]}")
        return [Member(pk, audience_of(profile)) for pk, profile in rows]
    if target_kind in _GROUP_STATUS:
        group_id = session.scalar(select(Group.id).where(
            Group.uai == uai, Group.code == target_value,
            Group.status == _GROUP_STATUS[target_kind]))
        if group_id is None:
            raise LicenceError("licence.unknown_target", f"{target_kind} {target_value[:64]}")
        pks = session.scalars(
            select(GroupMember.person_pk)
            .join(PersonProfile, PersonProfile.person_pk == GroupMember.person_pk)
            .where(GroupMember.group_id == group_id, PersonProfile.uai == uai,
                   func.lower(PersonProfile.profile) == _STUDENT.lower())
            .order_by(GroupMember.person_pk)
        ).all()
        return [Member(pk, "ELEVE") for pk in pks]
    if target_kind == "profile":
        profile = canonical_target("profile", target_value)
        pks = session.scalars(
            select(PersonProfile.person_pk)
            .where(PersonProfile.uai == uai,
                   func.lower(PersonProfile.profile) == profile.lower())
            .order_by(PersonProfile.person_pk)
        ).all()
        return [Member(pk, audience_of(profile)) for pk in pks]
    raise LicenceError("licence.unknown_target", f"kind {target_kind[:16]}")


def canonical_target(target_kind: str, target_value: str) -> str:
    """The stored form of a target value (profiles in canonical case); checks its shape."""
    if target_kind not in TARGET_KINDS:
        raise LicenceError("licence.unknown_target", f"kind {target_kind[:16]}")
    value = target_value.strip() if isinstance(target_value, str) else ""
    if not value or len(value) > 255:
        raise LicenceError("licence.unknown_target", "empty or oversized value")
    if target_kind == "profile":
        try:
            return normalise_profile(value)
        except ValueError:
            raise LicenceError("licence.unknown_target", f"profile {value[:64]}") from None
    return value


def target_audience(target_kind: str, target_value: str, covered: list[Member]) -> str | None:
    """The audience a target's licences count in (None: a person known only by the target)."""
    if target_kind in _GROUP_STATUS:
        return "ELEVE"
    if target_kind == "profile":
        return audience_of(target_value)
    return covered[0].audience if covered else None


def holders(session: Session, subscription_id: str) -> set[int]:
    """Persons holding a licence of the subscription."""
    return {pk for pk in session.scalars(
        select(LicenceAllocation.person_pk)
        .where(LicenceAllocation.subscription_id == subscription_id,
               LicenceAllocation.released_at.is_(None))
    ) if pk is not None}


def held_subscriptions(session: Session, person_pk: int,
                       subscription_ids: Iterable[str]) -> set[str]:
    """Which of these subscriptions the person holds a licence of (the access decision's test)."""
    ids = list(subscription_ids)
    if not ids:
        return set()
    # Every licence the person holds (a few), intersected here: a statement built once, with
    # no list of ids to render into it.
    return set(session.scalars(HELD, {"person_pk": person_pk})) & set(ids)


#: The subscriptions the person ``:person_pk`` holds a licence of, as a statement to run or to
#: embed (the mediacentre list filters on it in SQL rather than in a second round trip).
_ALLOCATIONS = table(LicenceAllocation).c  # on the table: the mediacentre list's Core statement
HELD = select(_ALLOCATIONS.subscription_id).where(
    _ALLOCATIONS.person_pk == bindparam("person_pk"), _ALLOCATIONS.released_at.is_(None)
)


def plan(session: Session, subscription: Subscription, target_kind: str,
         target_value: str) -> list[Member]:
    """Whom a target would newly give a licence to; ``licence.exhausted`` when they do not fit.

    Reads only: call it under :func:`lock`, then :func:`allocate` what it returns.
    """
    covered = members(session, place(subscription), target_kind, target_value)
    have = holders(session, subscription.id)
    new = [m for m in dict.fromkeys(covered) if m.person_pk not in have]
    check_room(subscription, used(session, subscription.id), Counter(m.audience for m in new))
    return new


def place(subscription: Subscription) -> str:
    """The subscription's establishment; a codeNatureUAI subscription is assigned per share."""
    if subscription.uai is None:
        raise LicenceError("licence.not_assignable", subscription.id[:64])
    return subscription.uai


def allocate(session: Session, subscription: Subscription, assignment: Assignment,
             new: Iterable[Member], *, now: datetime, actor_pk: int | None) -> int:
    """Write one ledger row per member (as planned by :func:`plan`); how many."""
    count = 0
    for member in new:
        session.add(LicenceAllocation(
            subscription_id=subscription.id, person_pk=member.person_pk,
            audience=member.audience, assignment_id=assignment.id,
            allocated_at=now, allocated_by=actor_pk))
        count += 1
    session.flush()
    return count


def top_up(session: Session, subscription: Subscription, assignment: Assignment, *,
           now: datetime, actor_pk: int | None) -> int:
    """Allocate a licence to everyone the assignment covers now who holds none; how many.

    All or nothing: ``licence.exhausted`` is raised before any row is written. The caller
    holds :func:`lock` (the seed, alone in its transaction, may skip it).
    """
    new = plan(session, subscription, assignment.target_kind, assignment.target_value)
    return allocate(session, subscription, assignment, new, now=now, actor_pk=actor_pk)


def is_transferable(subscription: Subscription) -> bool:
    """``categorieAffectation``: only ``transferable`` licences come back on withdrawal."""
    return (subscription.category or "").strip().lower() == "transferable"
