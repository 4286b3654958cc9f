"""The access decision goes through held licences, so it always agrees with the counts.

Coverage is fixed when the assignment is made: a student joining the class later is refused
until an officer tops the assignment up (which takes a licence, or is refused when none is
left).
"""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from broker.access import decide
from broker.assignments import assign, refresh, withdraw
from broker.directory import load_person
from broker.domain import Grant, Refusal
from broker.licences import LicenceError, used
from services.dataset import COLLEGE_UAI, Dataset
from tests.domain.conftest import TODAY
from tests.licences.builders import MATHS_ARK, MATHS_SUB, NOW, add_students, pk_of


def _outcome(session: Session, person_pk: int) -> Grant | Refusal:
    return decide(session, load_person(session, person_pk), MATHS_ARK, uai=COLLEGE_UAI,
                  today=TODAY)


def _head(session: Session, academy: Dataset) -> int:
    return pk_of(session, academy, "chef.etablissement")


def _seeded_division_assignment(session: Session, academy: Dataset) -> int:
    grant = _outcome(session, pk_of(session, academy, "eleve.assigne"))
    assert isinstance(grant, Grant)
    return grant.assignment_ids[0]


def test_a_student_joining_an_assigned_class_later_is_not_covered(
    session: Session, academy: Dataset
) -> None:
    (newcomer,) = add_students(session, 1, division="4A")
    outcome = _outcome(session, newcomer)
    assert isinstance(outcome, Refusal) and outcome.code == "access.no_assignment"


def test_topping_up_the_assignment_covers_the_newcomer_with_a_licence(
    session: Session, academy: Dataset
) -> None:
    (newcomer,) = add_students(session, 1, division="4A")
    before = used(session, MATHS_SUB)["ELEVE"]
    added = refresh(session, assignment_id=_seeded_division_assignment(session, academy),
                    uai=COLLEGE_UAI, actor_pk=_head(session, academy), now=NOW)
    assert added == 1 and used(session, MATHS_SUB)["ELEVE"] == before + 1
    assert isinstance(_outcome(session, newcomer), Grant)


def test_topping_up_beyond_the_licences_left_is_refused(
    session: Session, academy: Dataset
) -> None:
    left = 30 - used(session, MATHS_SUB)["ELEVE"]
    add_students(session, left + 1, division="4A")
    before = used(session, MATHS_SUB)
    with pytest.raises(LicenceError) as refused:
        refresh(session, assignment_id=_seeded_division_assignment(session, academy),
                uai=COLLEGE_UAI, actor_pk=_head(session, academy), now=NOW)
    assert refused.value.code == "licence.exhausted"
    assert used(session, MATHS_SUB) == before


def test_a_student_loses_access_when_the_transferable_licence_is_withdrawn(
    session: Session, academy: Dataset
) -> None:
    withdraw(session, assignment_id=_seeded_division_assignment(session, academy),
             uai=COLLEGE_UAI, actor_pk=_head(session, academy), now=NOW)
    outcome = _outcome(session, pk_of(session, academy, "eleve.assigne"))
    assert isinstance(outcome, Refusal) and outcome.code == "access.no_assignment"


def test_a_newly_assigned_class_opens_the_resource_to_its_students(
    session: Session, academy: Dataset
) -> None:
    student = pk_of(session, academy, "eleve.sans.licence")  # 4B
    assert isinstance(_outcome(session, student), Refusal)
    assignment = assign(session, subscription_id=MATHS_SUB, target_kind="division",
                        target_value="4B", uai=COLLEGE_UAI, actor_pk=_head(session, academy),
                        now=NOW)
    grant = _outcome(session, student)
    assert isinstance(grant, Grant) and grant.assignment_ids == (assignment.id,)
