"""Licence accounting under 50 concurrent assignments, each in its own session and thread.

Exactly the granted number succeed, every other one is refused with ``licence.exhausted``,
and the counts equal the ledger: the subscription lock serialises writers on both stores.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from broker.assignments import assign
from broker.db import session_factory
from broker.licences import LicenceError, used
from broker.models import Assignment, LicenceAllocation, Person
from services.dataset import COLLEGE_UAI, Dataset
from tests.licences.builders import NOW, add_students, add_subscription, pk_of

ATTEMPTS = 50
GRANTED = 17


def _prepare(session: Session, academy: Dataset) -> tuple[int, list[str]]:
    add_subscription(session, "ABO-CONCURRENT", licences_student=GRANTED)
    pks = add_students(session, ATTEMPTS, prefix="concurrent")
    person_ids = list(session.scalars(select(Person.person_id).where(Person.id.in_(pks))))
    head = pk_of(session, academy, "chef.etablissement")
    session.commit()
    return head, person_ids


def _assign_in_own_session(engine: Engine, barrier: threading.Barrier, head: int,
                           person_id: str) -> str:
    barrier.wait()
    with session_factory(engine)() as own:
        try:
            assign(own, subscription_id="ABO-CONCURRENT", target_kind="person",
                   target_value=person_id, uai=COLLEGE_UAI, actor_pk=head, now=NOW)
        except LicenceError as error:
            own.rollback()
            return error.code
        own.commit()
        return "ok"


def test_fifty_concurrent_assignments_never_oversell(
    engine: Engine, session: Session, academy: Dataset
) -> None:
    head, person_ids = _prepare(session, academy)
    barrier = threading.Barrier(ATTEMPTS)
    with ThreadPoolExecutor(max_workers=ATTEMPTS) as pool:
        outcomes = list(pool.map(
            lambda person_id: _assign_in_own_session(engine, barrier, head, person_id),
            person_ids))
    assert outcomes.count("ok") == GRANTED
    assert outcomes.count("licence.exhausted") == ATTEMPTS - GRANTED
    with session_factory(engine)() as check:
        ledger = check.scalar(select(func.count()).select_from(LicenceAllocation).where(
            LicenceAllocation.subscription_id == "ABO-CONCURRENT",
            LicenceAllocation.released_at.is_(None)))
        assignments = check.scalar(select(func.count()).select_from(Assignment).where(
            Assignment.subscription_id == "ABO-CONCURRENT"))
        assert used(check, "ABO-CONCURRENT")["ELEVE"] == ledger == assignments == GRANTED
