"""A distributor lowering its counts while an officer assigns licences cannot oversell.

Both interleavings are forced, not hoped for. The test watches the broker's statements
(SQLAlchemy cursor events, the broker runs in this process) and its count check
(``licences.used``, wrapped), and moves on at the exact point where a missing lock would
oversell:

- assignments in progress (uncommitted) while the distributor lowers the count: the ``POST``
  must wait for them and then refuse the count (409);
- the count being lowered (the ``POST`` paused just after its count check) while officers
  assign: the assignments must wait for it and then stop at the lowered count (200).

A step that does not come (the broker changed its statements) fails the test after
``PATIENCE`` seconds instead of passing it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from broker import assignments, licences
from broker.licences import LicenceError
from broker.models import Person, PersonProfile, RespAff, Subscription
from tests.subscriptions import wire
from tests.subscriptions.conftest import COLLEGE, Live

ASSIGNED = 6  # students assigned one by one, more than the lowered count
LOWERED = 4
PATIENCE = 30.0  # seconds a step may take before the test gives up (never reached when sane)
_LOCKING = re.compile(r"^\s*UPDATE subscriptions\b|\bFOR UPDATE\b", re.IGNORECASE)


class Watch:
    """What the broker's threads reached: a count check done, a subscription lock requested.

    Threads the test runs itself register with :meth:`ours` (naming the task they run);
    every other thread is the broker serving the distributor's ``POST``.
    """

    def __init__(self) -> None:
        self._ours: dict[int, str] = {}
        self._changed = threading.Condition()
        self.broker_counted = False  # the POST's count check returned
        self.broker_locking = False  # the POST sent its lock statement
        self.ours_locking: set[str] = set()  # our tasks that sent a lock statement
        self.hold_broker_after_count = threading.Event()  # set: pause the POST after it
        self.release_broker = threading.Event()

    def ours(self, task: str) -> None:
        self._ours[threading.get_ident()] = task

    def statement(self, statement: str) -> None:
        if not _LOCKING.search(statement):
            return
        with self._changed:
            task = self._ours.get(threading.get_ident())
            if task is not None:
                self.ours_locking.add(task)
            else:
                self.broker_locking = True
            self._changed.notify_all()

    def counted(self) -> None:
        if threading.get_ident() in self._ours:
            return
        with self._changed:
            self.broker_counted = True
            self._changed.notify_all()
        if self.hold_broker_after_count.is_set():
            self.release_broker.wait(PATIENCE)

    def until(self, condition: Callable[[], bool], what: str) -> None:
        with self._changed:
            if not self._changed.wait_for(condition, PATIENCE):
                pytest.fail(f"never happened within {PATIENCE:.0f} s: {what}")

    def poke(self) -> None:
        with self._changed:
            self._changed.notify_all()


@pytest.fixture
def watch(monkeypatch: pytest.MonkeyPatch) -> Iterator[Watch]:
    watched = Watch()
    watched.ours("test")
    real_used = licences.used

    def used(session: Session, subscription_id: str) -> dict[str, int]:
        result = real_used(session, subscription_id)
        watched.counted()
        return result

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        watched.statement(statement)

    monkeypatch.setattr(licences, "used", used)  # the web service calls licences.used
    event.listen(Engine, "before_cursor_execute", before)
    try:
        yield watched
    finally:
        event.remove(Engine, "before_cursor_execute", before)
        watched.release_broker.set()


def _students_and_officer(live: Live) -> tuple[list[str], int]:
    with live.sessions() as session:
        students = session.scalars(
            select(Person.person_id)
            .join(PersonProfile, PersonProfile.person_pk == Person.id)
            .where(PersonProfile.uai == COLLEGE,
                   func.lower(PersonProfile.profile) == "national_elv")
            .order_by(Person.person_id)
            .limit(ASSIGNED)
        ).all()
        officer = session.scalar(
            select(RespAff.person_pk).where(RespAff.uai == COLLEGE, RespAff.role == "RA"))
    assert len(students) == ASSIGNED and officer is not None
    return list(students), officer


def _assign(session: Session, subscription_id: str, person_id: str, officer: int) -> None:
    assignments.assign(session, subscription_id=subscription_id, target_kind="person",
                       target_value=person_id, uai=COLLEGE, actor_pk=officer,
                       now=datetime.now(UTC))


def _lower(live: Live, api: httpx.Client, subscription_id: str) -> int:
    with httpx.Client(base_url=live.base, headers=dict(api.headers), timeout=60) as client:
        body = wire.abonnement(subscription_id, uaiEtab=None, nbLicenceEleve=str(LOWERED))
        return client.post(f"/{subscription_id}", content=body,
                           headers=wire.XML_HEADERS).status_code


def _counts(live: Live, subscription_id: str) -> tuple[int, int | None]:
    with live.sessions() as session:
        row = session.get(Subscription, subscription_id)
        assert row is not None
        return licences.used(session, subscription_id)["ELEVE"], row.licences_student


def _create(api: httpx.Client, subscription_id: str) -> None:
    assert api.put(f"/{subscription_id}", content=wire.abonnement(
        subscription_id, nbLicenceEleve="30"), headers=wire.XML_HEADERS).status_code == 201


def test_a_count_lowered_during_assignments_waits_for_them_and_is_refused_below_them(
    api: httpx.Client, live: Live, new_id: str, watch: Watch
) -> None:
    _create(api, new_id)
    students, officer = _students_and_officer(live)
    with ThreadPoolExecutor(max_workers=1) as pool, live.sessions() as session:
        for person_id in students:  # held, not committed, while the distributor lowers
            _assign(session, new_id, person_id, officer)
        lowering = pool.submit(_lower, live, api, new_id)
        # Unlocked, the POST would count the committed licences (none) before these commit.
        watch.until(lambda: watch.broker_counted or watch.broker_locking,
                    "the POST counted the licences or asked for the subscription's lock")
        session.commit()
        status = lowering.result(timeout=PATIENCE)

    assert status == 409  # subscription.licences_below_used, read after the commit
    assert _counts(live, new_id) == (ASSIGNED, 30)


def test_assignments_during_a_count_being_lowered_wait_for_it_and_stop_at_it(
    api: httpx.Client, live: Live, new_id: str, watch: Watch
) -> None:
    _create(api, new_id)
    students, officer = _students_and_officer(live)
    finished: set[str] = set()

    def assign_in_own_session(person_id: str) -> str:
        watch.ours(person_id)
        try:
            with live.sessions() as own:
                try:
                    _assign(own, new_id, person_id, officer)
                except LicenceError as error:
                    return error.code
                own.commit()
                return "assigned"
        finally:
            finished.add(person_id)
            watch.poke()

    watch.hold_broker_after_count.set()
    with ThreadPoolExecutor(max_workers=ASSIGNED + 1) as pool:
        lowering = pool.submit(_lower, live, api, new_id)
        watch.until(lambda: watch.broker_counted, "the POST counted the licences")
        assigning: list[Future[str]] = [pool.submit(assign_in_own_session, person_id)
                                        for person_id in students]
        # Unlocked, the assignments would all commit against the old count of 30 meanwhile.
        watch.until(lambda: len(watch.ours_locking | finished) >= ASSIGNED,
                    "every assignment finished or asked for the subscription's lock")
        watch.release_broker.set()
        status = lowering.result(timeout=PATIENCE)
        outcomes = [future.result(timeout=PATIENCE) for future in assigning]

    assert status == 200
    assert outcomes.count("assigned") == LOWERED
    assert outcomes.count("licence.exhausted") == ASSIGNED - LOWERED
    assert _counts(live, new_id) == (LOWERED, LOWERED)
