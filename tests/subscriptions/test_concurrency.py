"""A distributor lowering its counts while an officer assigns licences cannot oversell."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
from sqlalchemy import func, select

from broker import assignments, licences
from broker.licences import LicenceError
from broker.models import Person, PersonProfile, RespAff, Subscription
from tests.subscriptions import wire
from tests.subscriptions.conftest import COLLEGE, Live

STUDENTS = 10
LOWERED = 4


def _students_and_officer(live: Live) -> tuple[list[str], int]:
    with live.sessions() as session:
        students = session.scalars(
            select(Person.person_id)
            .join(PersonProfile, PersonProfile.person_pk == Person.id)
            .where(PersonProfile.uai == COLLEGE,
                   func.lower(PersonProfile.profile) == "national_elv")
            .order_by(Person.person_id)
            .limit(STUDENTS)
        ).all()
        officer = session.scalar(
            select(RespAff.person_pk).where(RespAff.uai == COLLEGE, RespAff.role == "RA"))
    assert len(students) == STUDENTS and officer is not None
    return list(students), officer


def test_concurrent_assignments_and_a_lowered_count_never_oversell(
    api: httpx.Client, live: Live, new_id: str
) -> None:
    assert api.put(f"/{new_id}", content=wire.abonnement(new_id, nbLicenceEleve="30"),
                   headers=wire.XML_HEADERS).status_code == 201
    students, officer = _students_and_officer(live)

    def assign(person_id: str) -> str:
        with live.sessions() as session:
            try:
                assignments.assign(session, subscription_id=new_id, target_kind="person",
                                   target_value=person_id, uai=COLLEGE, actor_pk=officer,
                                   now=datetime.now(UTC))
                session.commit()
                return "assigned"
            except LicenceError as error:
                session.rollback()
                return error.code

    def lower(_: str) -> str:
        with httpx.Client(base_url=live.base, headers=dict(api.headers)) as client:
            body = wire.abonnement(new_id, uaiEtab=None, nbLicenceEleve=str(LOWERED))
            response = client.post(f"/{new_id}", content=body, headers=wire.XML_HEADERS)
        return str(response.status_code)

    jobs = [(assign, s) for s in students[: STUDENTS // 2]] + [(lower, "")] + [
        (assign, s) for s in students[STUDENTS // 2:]]
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda job: job[0](job[1]), jobs))

    assert outcomes[STUDENTS // 2] in ("200", "409")
    assert set(outcomes) - {"200", "409"} <= {"assigned", "licence.exhausted"}
    with live.sessions() as session:
        row = session.get(Subscription, new_id)
        assert row is not None and row.licences_student is not None
        in_use = licences.used(session, new_id)["ELEVE"]
    assert in_use <= row.licences_student
    assert in_use == outcomes.count("assigned")
    if outcomes[STUDENTS // 2] == "200":
        assert row.licences_student == LOWERED
