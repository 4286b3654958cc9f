"""Withdrawal: transferable licences come back, non-transferable ones stay consumed."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from broker.assignments import assign, recover, withdraw
from broker.licences import LicenceError, used
from broker.models import Assignment, LicenceAllocation, Person, PersonProfile
from services.dataset import COLLEGE_UAI, LYCEE_UAI, Dataset
from tests.licences.builders import (
    NOW,
    add_subscription,
    pk_of,
)


def _officer(session: Session, academy: Dataset) -> int:
    return pk_of(session, academy, "chef.etablissement")


def _assign(session: Session, academy: Dataset, kind: str, value: str) -> int:
    return assign(session, subscription_id="ABO-TEST", target_kind=kind, target_value=value,
                  uai=COLLEGE_UAI, actor_pk=_officer(session, academy), now=NOW).id


def _withdraw(session: Session, academy: Dataset, assignment_id: int,
              uai: str = COLLEGE_UAI) -> None:
    withdraw(session, assignment_id=assignment_id, uai=uai,
             actor_pk=_officer(session, academy), now=NOW)


def test_a_transferable_licence_comes_back_on_withdrawal(
    session: Session, academy: Dataset
) -> None:
    add_subscription(session, licences_student=30)
    assignment_id = _assign(session, academy, "division", "4A")
    _withdraw(session, academy, assignment_id)
    assert used(session, "ABO-TEST")["ELEVE"] == 0
    assert session.get(Assignment, assignment_id) is None


def test_a_returned_licence_stays_in_the_ledger_with_its_release(
    session: Session, academy: Dataset
) -> None:
    add_subscription(session, licences_student=30)
    _withdraw(session, academy, _assign(session, academy, "division", "4A"))
    rows = session.scalars(select(LicenceAllocation).where(
        LicenceAllocation.subscription_id == "ABO-TEST")).all()
    assert rows and all(r.released_at is not None for r in rows)
    assert {r.released_by for r in rows} == {_officer(session, academy)}


def test_a_returned_licence_can_be_given_to_someone_else(
    session: Session, academy: Dataset
) -> None:
    add_subscription(session, licences_student=1)
    assignment_id = _assign(session, academy, "person", academy.person("eleve.assigne").person_id)
    _withdraw(session, academy, assignment_id)
    _assign(session, academy, "person", academy.person("eleve.sans.licence").person_id)
    assert used(session, "ABO-TEST")["ELEVE"] == 1


def test_a_non_transferable_licence_stays_consumed_after_withdrawal(
    session: Session, academy: Dataset
) -> None:
    add_subscription(session, licences_student=1, category="non transferable")
    assignment_id = _assign(session, academy, "person", academy.person("eleve.assigne").person_id)
    _withdraw(session, academy, assignment_id)
    assert used(session, "ABO-TEST")["ELEVE"] == 1
    with pytest.raises(LicenceError) as refused:
        _assign(session, academy, "person", academy.person("eleve.sans.licence").person_id)
    assert refused.value.code == "licence.exhausted"


def test_a_non_transferable_licence_goes_back_to_its_holder_at_no_cost(
    session: Session, academy: Dataset
) -> None:
    add_subscription(session, licences_student=1, category="non transferable")
    person_id = academy.person("eleve.assigne").person_id
    _withdraw(session, academy, _assign(session, academy, "person", person_id))
    _assign(session, academy, "person", person_id)
    assert used(session, "ABO-TEST")["ELEVE"] == 1


def test_a_licence_still_covered_by_another_assignment_is_kept(
    session: Session, academy: Dataset
) -> None:
    add_subscription(session, licences_student=30)
    division = _assign(session, academy, "division", "4A")
    _assign(session, academy, "group", "LATIN4")
    _withdraw(session, academy, division)
    holder = pk_of(session, academy, "eleve.assigne")  # in 4A and in LATIN4
    held = session.scalars(select(LicenceAllocation.person_pk).where(
        LicenceAllocation.subscription_id == "ABO-TEST",
        LicenceAllocation.released_at.is_(None))).all()
    assert held == [holder]


def test_withdrawing_an_unknown_assignment_is_refused(session: Session, academy: Dataset) -> None:
    with pytest.raises(LicenceError) as refused:
        _withdraw(session, academy, 999_999)
    assert refused.value.code == "licence.unknown_assignment"


def _lycee_assignment(session: Session) -> int:
    add_subscription(session, "ABO-LYCEE", uai=LYCEE_UAI, licences_student=30)
    assignment = Assignment(subscription_id="ABO-LYCEE", target_kind="division",
                            target_value="2NDE04", created_at=NOW)
    session.add(assignment)
    session.flush()
    return assignment.id


def test_withdrawing_another_establishments_assignment_is_refused(
    session: Session, academy: Dataset
) -> None:
    assignment_id = _lycee_assignment(session)
    with pytest.raises(LicenceError) as refused:
        _withdraw(session, academy, assignment_id, uai=COLLEGE_UAI)
    assert refused.value.code == "licence.wrong_establishment"
    assert session.get(Assignment, assignment_id) is not None


def test_withdrawing_where_one_is_not_an_officer_is_refused(
    session: Session, academy: Dataset
) -> None:
    assignment_id = _lycee_assignment(session)
    with pytest.raises(LicenceError) as refused:
        _withdraw(session, academy, assignment_id, uai=LYCEE_UAI)
    assert refused.value.code == "licence.not_officer"
    assert session.get(Assignment, assignment_id) is not None


def _recover(session: Session, academy: Dataset, sub: str = "ABO-TEST") -> int:
    return recover(session, subscription_id=sub, uai=COLLEGE_UAI,
                   actor_pk=_officer(session, academy), now=NOW)


def test_the_licence_of_someone_who_left_the_establishment_is_recovered(
    session: Session, academy: Dataset
) -> None:
    add_subscription(session, licences_student=30)
    _assign(session, academy, "division", "4A")
    leaver = pk_of(session, academy, "eleve.assigne")
    session.execute(delete(PersonProfile).where(PersonProfile.person_pk == leaver))
    before = used(session, "ABO-TEST")["ELEVE"]
    assert _recover(session, academy) == 1
    assert used(session, "ABO-TEST")["ELEVE"] == before - 1


def test_the_licence_of_someone_removed_from_the_directory_is_locked_until_recovered(
    session: Session, academy: Dataset
) -> None:
    add_subscription(session, licences_student=30)
    _assign(session, academy, "division", "4A")
    before = used(session, "ABO-TEST")["ELEVE"]
    session.execute(delete(Person).where(Person.id == pk_of(session, academy, "eleve.assigne")))
    assert used(session, "ABO-TEST")["ELEVE"] == before
    assert _recover(session, academy) == 1
    assert used(session, "ABO-TEST")["ELEVE"] == before - 1


def test_a_non_transferable_licence_is_not_recovered(session: Session, academy: Dataset) -> None:
    add_subscription(session, licences_student=30, category="non transferable")
    _assign(session, academy, "division", "4A")
    session.execute(delete(Person).where(Person.id == pk_of(session, academy, "eleve.assigne")))
    assert _recover(session, academy) == 0


def test_nothing_is_recovered_while_everyone_is_still_there(
    session: Session, academy: Dataset
) -> None:
    add_subscription(session, licences_student=30)
    _assign(session, academy, "division", "4A")
    assert _recover(session, academy) == 0
