"""Licence counts: one licence per person covered, per audience or from one global pool."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from broker.assignments import assign
from broker.licences import LicenceError, available, lock, used
from broker.models import Group, LicenceAllocation
from services.dataset import COLLEGE_UAI, Dataset
from tests.licences.builders import (
    MATHS_SUB,
    NOW,
    TEACHERS_SUB,
    add_subscription,
    allocation_count,
    assignment_count,
    pk_of,
)


def _students_of(academy: Dataset, division: str) -> int:
    return sum(1 for p in academy.persons
               if (COLLEGE_UAI, division) in {(u, c) for u, c, _ in p.divisions}
               and p.profiles == ((COLLEGE_UAI, "National_elv"),))


def _college_profile(academy: Dataset, profile: str) -> int:
    return sum(1 for p in academy.persons if (COLLEGE_UAI, profile) in p.profiles)


def _assign(session: Session, academy: Dataset, kind: str, value: str,
            sub: str = "ABO-TEST") -> int:
    assignment = assign(session, subscription_id=sub, target_kind=kind, target_value=value,
                        uai=COLLEGE_UAI, actor_pk=pk_of(session, academy, "chef.etablissement"),
                        now=NOW)
    return assignment.id


def test_the_seeded_assignments_hold_one_licence_per_person_covered(
    session: Session, academy: Dataset
) -> None:
    assert used(session, MATHS_SUB) == {"ELEVE": _students_of(academy, "4A"), "ENSEIGNANT": 1,
                                        "DOCUMENTALISTE": 0, "AUTRE PERSONNEL": 0}
    assert used(session, TEACHERS_SUB) == {
        "ELEVE": 0, "ENSEIGNANT": _college_profile(academy, "National_ens"),
        "DOCUMENTALISTE": _college_profile(academy, "National_doc"), "AUTRE PERSONNEL": 0}


def test_available_is_what_each_audience_was_granted_minus_what_it_uses(
    session: Session, academy: Dataset
) -> None:
    assert available(session, MATHS_SUB) == {
        "ELEVE": 30 - _students_of(academy, "4A"), "ENSEIGNANT": 3 - 1,
        "DOCUMENTALISTE": 0, "AUTRE PERSONNEL": 0}


def test_an_unlimited_subscription_has_no_limit_for_its_audience_only(session: Session) -> None:
    add_subscription(session, licences_unlimited=True, audience=["ELEVE"])
    assert available(session, "ABO-TEST") == {"ELEVE": None, "ENSEIGNANT": 0,
                                              "DOCUMENTALISTE": 0, "AUTRE PERSONNEL": 0}


def test_a_global_count_is_one_pool_shared_by_the_audiences(
    session: Session, academy: Dataset
) -> None:
    add_subscription(session, licences_global=6)
    _assign(session, academy, "division", "4A")
    _assign(session, academy, "person", academy.person("enseignant").person_id)
    left = 6 - _students_of(academy, "4A") - 1
    assert available(session, "ABO-TEST") == {"ELEVE": left, "ENSEIGNANT": left,
                                              "DOCUMENTALISTE": 0, "AUTRE PERSONNEL": 0}


def test_a_division_gives_a_licence_to_each_of_its_students_and_not_its_teachers(
    session: Session, academy: Dataset
) -> None:
    add_subscription(session, licences_student=30, licences_teacher=30)
    assignment_id = _assign(session, academy, "division", "4A")
    rows = session.scalars(select(LicenceAllocation).where(
        LicenceAllocation.assignment_id == assignment_id)).all()
    assert len(rows) == _students_of(academy, "4A")
    assert {r.audience for r in rows} == {"ELEVE"}
    assert pk_of(session, academy, "eleve.assigne") in {r.person_pk for r in rows}
    assert pk_of(session, academy, "enseignant") not in {r.person_pk for r in rows}


def test_a_profile_gives_a_licence_to_every_person_of_that_profile(
    session: Session, academy: Dataset
) -> None:
    add_subscription(session, licences_teacher=30)
    _assign(session, academy, "profile", "national_ENS")
    assert used(session, "ABO-TEST")["ENSEIGNANT"] == _college_profile(academy, "National_ens")


def test_a_person_covered_twice_holds_one_licence(session: Session, academy: Dataset) -> None:
    add_subscription(session, licences_student=30)
    _assign(session, academy, "division", "4A")
    before = used(session, "ABO-TEST")["ELEVE"]
    _assign(session, academy, "group", "LATIN4")  # only 4A students are in it
    assert used(session, "ABO-TEST")["ELEVE"] == before


def test_an_assignment_that_does_not_fit_is_refused_with_nothing_written(
    session: Session, academy: Dataset
) -> None:
    add_subscription(session, licences_student=_students_of(academy, "4A") - 1)
    with pytest.raises(LicenceError) as refused:
        _assign(session, academy, "division", "4A")
    assert refused.value.code == "licence.exhausted"
    assert assignment_count(session, "ABO-TEST") == 0
    assert allocation_count(session, "ABO-TEST", held=False) == 0


def test_the_global_pool_is_exhausted_across_audiences(session: Session, academy: Dataset) -> None:
    add_subscription(session, licences_global=_students_of(academy, "4A"))
    _assign(session, academy, "division", "4A")
    with pytest.raises(LicenceError) as refused:
        _assign(session, academy, "person", academy.person("enseignant").person_id)
    assert refused.value.code == "licence.exhausted"


def test_the_last_licence_can_be_given(session: Session, academy: Dataset) -> None:
    add_subscription(session, licences_student=_students_of(academy, "4A"))
    _assign(session, academy, "division", "4A")
    assert available(session, "ABO-TEST")["ELEVE"] == 0


def test_an_audience_without_a_count_has_no_licence(session: Session, academy: Dataset) -> None:
    add_subscription(session, licences_student=30)  # teachers in the audience, no count
    with pytest.raises(LicenceError) as refused:
        _assign(session, academy, "person", academy.person("enseignant").person_id)
    assert refused.value.code == "licence.exhausted"


def test_a_target_outside_the_audience_is_refused(session: Session, academy: Dataset) -> None:
    add_subscription(session, licences_global=50, audience=["ENSEIGNANT"])
    with pytest.raises(LicenceError) as refused:
        _assign(session, academy, "division", "4A")
    assert refused.value.code == "licence.not_in_audience"
    assert assignment_count(session, "ABO-TEST") == 0


def test_an_empty_group_is_assigned_and_consumes_nothing(
    session: Session, academy: Dataset
) -> None:
    add_subscription(session, licences_student=0)
    session.add(Group(uai=COLLEGE_UAI, code="VIDE", label="Groupe vide", status="GROUPE",
                      divisions=[]))
    session.flush()
    _assign(session, academy, "group", "VIDE")
    assert used(session, "ABO-TEST")["ELEVE"] == 0


def test_locking_an_unknown_subscription_is_refused(session: Session) -> None:
    with pytest.raises(LicenceError) as refused:
        lock(session, "ABO-INCONNU")
    assert refused.value.code == "licence.unknown_subscription"


def test_counting_an_unknown_subscription_is_refused(session: Session) -> None:
    with pytest.raises(LicenceError) as refused:
        available(session, "ABO-INCONNU")
    assert refused.value.code == "licence.unknown_subscription"
