"""The console's changes (assign, withdraw, refresh, recover, delegate), for pages and API.

Each checks its input and the officer's right over the establishment, then calls the domain
(:mod:`broker.assignments`), which counts licences under a lock. The caller owns the
transaction: on any ConsoleError it rolls back, so a refused change writes nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from broker import assignments, console_data
from broker.console_access import ConsoleError, Officer, from_licence_error
from broker.licences import LicenceError
from broker.models import Assignment

TARGET_KINDS = frozenset(console_data.TARGET_LABELS)
_MAX_ID = 64
_MAX_VALUE = 255


def _text(value: object, limit: int) -> str:
    if not isinstance(value, str) or not value or len(value) > limit or not value.isprintable():
        raise ConsoleError("console.bad_request", 400)
    return value


def _subscription_in(session: Session, uai: str, subscription_id: str) -> None:
    """Refuse a subscription that is not the establishment's (another school's is a 403)."""
    where = console_data.subscription_uai(session, subscription_id)
    if where is None:
        raise ConsoleError("console.subscription_unknown", 404, subscription_id)
    if where != uai:
        raise ConsoleError("console.establishment_forbidden", 403, subscription_id)


def assign(
    session: Session, officer: Officer, uai: str, *, subscription_id: object,
    target_kind: object, target_value: object, now: datetime,
) -> Assignment:
    officer.role_in(uai)
    sub_id = _text(subscription_id, _MAX_ID)
    kind = _text(target_kind, 16)
    if kind not in TARGET_KINDS:
        raise ConsoleError("console.bad_request", 400, "target_kind")
    value = _text(target_value, _MAX_VALUE)
    _subscription_in(session, uai, sub_id)
    try:
        return assignments.assign(session, subscription_id=sub_id, target_kind=kind,
                                  target_value=value, uai=uai, actor_pk=officer.person_pk,
                                  now=now)
    except LicenceError as error:
        raise from_licence_error(error) from None


def withdraw(
    session: Session, officer: Officer, uai: str, assignment_id: int, *, now: datetime
) -> str:
    """Withdraw an assignment of the establishment; returns its subscription id."""
    officer.role_in(uai)
    place = console_data.assignment_place(session, assignment_id)
    if place is None:
        raise ConsoleError("console.assignment_unknown", 404, str(assignment_id))
    subscription_id, where = place
    if where != uai:
        raise ConsoleError("console.establishment_forbidden", 403, str(assignment_id))
    try:
        assignments.withdraw(session, assignment_id=assignment_id, uai=uai,
                             actor_pk=officer.person_pk, now=now)
    except LicenceError as error:
        raise from_licence_error(error) from None
    return subscription_id


def refresh(
    session: Session, officer: Officer, uai: str, assignment_id: int, *, now: datetime
) -> tuple[str, int]:
    """Extend an assignment to who joined its target since; (subscription id, licences given)."""
    officer.role_in(uai)
    subscription_id = _assignment_in(session, uai, assignment_id)
    try:
        given = assignments.refresh(session, assignment_id=assignment_id, uai=uai,
                                    actor_pk=officer.person_pk, now=now)
    except LicenceError as error:
        raise from_licence_error(error) from None
    return subscription_id, given


def recover(
    session: Session, officer: Officer, uai: str, *, subscription_id: object, now: datetime
) -> tuple[str, int]:
    """Take back the licences of people who left; (subscription id, licences taken back)."""
    officer.role_in(uai)
    sub_id = _text(subscription_id, _MAX_ID)
    _subscription_in(session, uai, sub_id)
    try:
        taken = assignments.recover(session, subscription_id=sub_id, uai=uai,
                                    actor_pk=officer.person_pk, now=now)
    except LicenceError as error:
        raise from_licence_error(error) from None
    return sub_id, taken


def _assignment_in(session: Session, uai: str, assignment_id: int) -> str:
    place = console_data.assignment_place(session, assignment_id)
    if place is None:
        raise ConsoleError("console.assignment_unknown", 404, str(assignment_id))
    subscription_id, where = place
    if where != uai:
        raise ConsoleError("console.establishment_forbidden", 403, str(assignment_id))
    return subscription_id


def delegate(session: Session, officer: Officer, uai: str, *, person_id: object) -> None:
    """Make a person of the establishment a delegate (RAD); only an RA may."""
    officer.require_ra(uai)
    pid = _text(person_id, _MAX_ID)
    person_pk = console_data.person_pk_in(session, uai, pid)
    if person_pk is None:
        raise ConsoleError("console.person_unknown", 404, pid)
    try:
        assignments.delegate(session, uai=uai, actor_pk=officer.person_pk, person_pk=person_pk)
    except LicenceError as error:
        raise from_licence_error(error) from None
