"""Assignment rights and actions: who may assign in an establishment, and assign/withdraw.

The assignment officers of an establishment are the ``RA`` (declared by the ENT in
``GAR-ENT-RespAff``) and the ``RAD`` an RA delegated the role to (GAR_REFERENCE §6); in a
primary school every teacher is one (DESIGN "Assignment officer"). Only an RA delegates.

Each action checks the actor's right in ``uai`` first, then takes the subscription's lock
(:func:`broker.licences.lock`) and only then reads counts and targets, so concurrent actions
serialise and counts never exceed what the subscription grants. Every refusal is a
:class:`~broker.licences.LicenceError` raised before anything is written; the caller owns the
transaction (nothing here commits).

Withdrawal: a transferable licence comes back unless another assignment of the subscription
still covers the person; a non-transferable one stays consumed (the row stays held), and the
person gets it again, at no extra cost, if a later assignment covers them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broker.licences import (
    LicenceError,
    Member,
    allocate,
    canonical_target,
    holders,
    is_transferable,
    lock,
    members,
    place,
    plan,
    target_audience,
    top_up,
)
from broker.models import (
    Assignment,
    Establishment,
    LicenceAllocation,
    PersonProfile,
    Resource,
    RespAff,
    Subscription,
)

_PRIMARY = "ecole"
_TEACHER = "national_ens"


def officer_establishments(session: Session, person_pk: int) -> dict[str, str]:
    """The establishments where the person is an officer: uai -> ``"RA"`` or ``"RAD"``."""
    result = {
        uai: "RAD" if (role or "").strip().upper() == "RAD" else "RA"
        for uai, role in session.execute(
            select(RespAff.uai, RespAff.role).where(RespAff.person_pk == person_pk))
    }
    primary_teaching = session.scalars(
        select(PersonProfile.uai)
        .join(Establishment, Establishment.uai == PersonProfile.uai)
        .where(PersonProfile.person_pk == person_pk, Establishment.kind == _PRIMARY,
               func.lower(PersonProfile.profile) == _TEACHER)
    ).all()
    for uai in primary_teaching:
        result.setdefault(uai, "RA")
    return dict(sorted(result.items()))


def require_officer(session: Session, actor_pk: int, uai: str) -> str:
    """The actor's role in ``uai``; ``licence.not_officer`` when they have none there."""
    role = officer_establishments(session, actor_pk).get(uai)
    if role is None:
        raise LicenceError("licence.not_officer", uai[:45])
    return role


def assign(
    session: Session,
    *,
    subscription_id: str,
    target_kind: str,
    target_value: str,
    uai: str,
    actor_pk: int,
    now: datetime,
) -> Assignment:
    """Give the subscription's licences to a person, a division, a group or a whole profile.

    One licence per person covered (students of a division or group; everyone with the
    profile), none for a person already holding one of this subscription.
    """
    require_officer(session, actor_pk, uai)
    subscription = lock(session, subscription_id)
    _check_assignable(session, subscription, uai, now)
    value = canonical_target(target_kind, target_value)
    if session.scalar(select(Assignment.id).where(
            Assignment.subscription_id == subscription.id,
            Assignment.target_kind == target_kind, Assignment.target_value == value)):
        raise LicenceError("licence.already_assigned", f"{target_kind} {value[:64]}")
    covered = members(session, uai, target_kind, value)
    audience = target_audience(target_kind, value, covered)
    if audience is not None and audience not in (subscription.audience or ()):
        raise LicenceError("licence.not_in_audience", audience)
    new = plan(session, subscription, target_kind, value)  # exhausted: raised before writing
    assignment = Assignment(subscription_id=subscription.id, target_kind=target_kind,
                            target_value=value, created_at=now, created_by=actor_pk)
    session.add(assignment)
    session.flush()
    allocate(session, subscription, assignment, new, now=now, actor_pk=actor_pk)
    return assignment


def refresh(session: Session, *, assignment_id: int, uai: str, actor_pk: int,
            now: datetime) -> int:
    """Cover the people who joined the assignment's target since; how many licences that took."""
    require_officer(session, actor_pk, uai)
    assignment, subscription = _locked_assignment(session, assignment_id, uai)
    _check_assignable(session, subscription, uai, now)
    return top_up(session, subscription, assignment, now=now, actor_pk=actor_pk)


def withdraw(session: Session, *, assignment_id: int, uai: str, actor_pk: int,
             now: datetime) -> None:
    """Remove an assignment; transferable licences nobody else's assignment covers come back."""
    require_officer(session, actor_pk, uai)
    assignment, subscription = _locked_assignment(session, assignment_id, uai)
    reached = {m.person_pk for m in _members_or_none(session, place(subscription), assignment)}
    reached |= set(session.scalars(select(LicenceAllocation.person_pk).where(
        LicenceAllocation.assignment_id == assignment.id,
        LicenceAllocation.released_at.is_(None),
        LicenceAllocation.person_pk.is_not(None))))
    session.delete(assignment)
    session.flush()
    if not is_transferable(subscription):
        return
    still: set[int] = set()
    for other in session.scalars(select(Assignment).where(
            Assignment.subscription_id == subscription.id)):
        still |= {m.person_pk for m in _members_or_none(session, place(subscription), other)}
    freed = (reached & holders(session, subscription.id)) - still
    for allocation in session.scalars(select(LicenceAllocation).where(
            LicenceAllocation.subscription_id == subscription.id,
            LicenceAllocation.released_at.is_(None),
            LicenceAllocation.person_pk.in_(freed))):
        allocation.released_at = now
        allocation.released_by = actor_pk
    session.flush()


def recover(session: Session, *, subscription_id: str, uai: str, actor_pk: int,
            now: datetime) -> int:
    """Take back locked transferable licences: holders who left the establishment; how many.

    A holder has left when the directory dropped them or they no longer have a profile in the
    subscription's establishment (GAR_REFERENCE §6, "recovery of locked licences").
    Non-transferable licences stay consumed.
    """
    require_officer(session, actor_pk, uai)
    subscription = lock(session, subscription_id)
    if subscription.uai != uai:
        raise LicenceError("licence.wrong_establishment", subscription.id[:64])
    if not is_transferable(subscription):
        return 0
    present = select(PersonProfile.person_pk).where(PersonProfile.uai == uai)
    locked = session.scalars(select(LicenceAllocation).where(
        LicenceAllocation.subscription_id == subscription.id,
        LicenceAllocation.released_at.is_(None),
        LicenceAllocation.person_pk.is_(None) | LicenceAllocation.person_pk.not_in(present),
    )).all()
    for allocation in locked:
        allocation.released_at = now
        allocation.released_by = actor_pk
    session.flush()
    return len(locked)


def delegate(session: Session, *, uai: str, actor_pk: int, person_pk: int) -> None:
    """An RA makes a person of the establishment a delegate (``RAD``)."""
    if require_officer(session, actor_pk, uai) != "RA":
        raise LicenceError("licence.delegation_refused", uai[:45])
    if session.scalar(select(PersonProfile.id).where(
            PersonProfile.person_pk == person_pk, PersonProfile.uai == uai)) is None:
        raise LicenceError("licence.unknown_target", f"person {person_pk}")
    if uai in officer_establishments(session, person_pk):
        raise LicenceError("licence.already_officer", f"person {person_pk}")
    session.add(RespAff(person_pk=person_pk, uai=uai, role="RAD"))
    session.flush()


def _check_assignable(session: Session, subscription: Subscription, uai: str,
                      now: datetime) -> None:
    if subscription.deleted:
        raise LicenceError("licence.unknown_subscription", subscription.id[:64])
    if subscription.uai != uai:
        raise LicenceError("licence.wrong_establishment", subscription.id[:64])
    delivery = session.scalar(select(Resource.delivery).where(
        Resource.id == subscription.resource_id))
    if subscription.type != "INDIV" or delivery == "automatic":
        raise LicenceError("licence.not_assignable", f"{subscription.type} {delivery}")
    if subscription.end_at < now:
        raise LicenceError("licence.subscription_expired", subscription.id[:64])


def _locked_assignment(session: Session, assignment_id: int,
                       uai: str) -> tuple[Assignment, Subscription]:
    """The assignment and its subscription, the subscription locked; checks the establishment."""
    found = session.get(Assignment, assignment_id)
    if found is None:
        raise LicenceError("licence.unknown_assignment", str(assignment_id))
    subscription = lock(session, found.subscription_id)
    if subscription.uai != uai:
        raise LicenceError("licence.wrong_establishment", str(assignment_id))
    # Read again under the lock: a concurrent withdrawal may have removed it meanwhile.
    assignment = session.get(Assignment, assignment_id, populate_existing=True)
    if assignment is None:
        raise LicenceError("licence.unknown_assignment", str(assignment_id))
    return assignment, subscription


def _members_or_none(session: Session, uai: str, assignment: Assignment) -> list[Member]:
    """Who the assignment covers now; nobody when its target left the directory."""
    try:
        return members(session, uai, assignment.target_kind, assignment.target_value)
    except LicenceError:
        return []
