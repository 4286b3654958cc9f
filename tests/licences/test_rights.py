"""Who may assign where, what can be assigned at all, and delegation of the role."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from broker.assignments import assign, delegate, officer_establishments
from broker.licences import LicenceError
from broker.models import RespAff
from services.dataset import COLLEGE_UAI, ECOLE_UAI, LYCEE_UAI, Dataset
from tests.licences.builders import (
    NOW,
    add_person,
    add_subscription,
    allocation_count,
    assignment_count,
    pk_of,
)


def _assign_as(session: Session, actor_pk: int, *, sub: str = "ABO-TEST",
               kind: str = "division", value: str = "4A", uai: str = COLLEGE_UAI) -> None:
    assign(session, subscription_id=sub, target_kind=kind, target_value=value, uai=uai,
           actor_pk=actor_pk, now=NOW)


def _refused(session: Session, actor_pk: int, **target: str) -> str:
    with pytest.raises(LicenceError) as refused:
        _assign_as(session, actor_pk, **target)
    return refused.value.code


def _head(session: Session, academy: Dataset) -> int:
    return pk_of(session, academy, "chef.etablissement")


# --- officers ---------------------------------------------------------------------------


def test_the_head_declared_in_respaff_is_the_colleges_officer(
    session: Session, academy: Dataset
) -> None:
    assert officer_establishments(session, _head(session, academy)) == {COLLEGE_UAI: "RA"}


def test_a_teacher_is_no_officer_in_a_secondary_school(session: Session, academy: Dataset) -> None:
    assert officer_establishments(session, pk_of(session, academy, "enseignant")) == {}


def test_every_teacher_of_a_primary_school_is_an_officer(session: Session) -> None:
    teacher = add_person(session, "ens-ecole-test", ECOLE_UAI, "National_ens")
    assert officer_establishments(session, teacher) == {ECOLE_UAI: "RA"}


def test_a_pupil_of_a_primary_school_is_no_officer(session: Session) -> None:
    pupil = add_person(session, "elv-ecole-test", ECOLE_UAI, "National_elv")
    assert officer_establishments(session, pupil) == {}


def test_a_non_officer_cannot_assign(session: Session, academy: Dataset) -> None:
    add_subscription(session, licences_student=30)
    assert _refused(session, pk_of(session, academy, "enseignant")) == "licence.not_officer"
    assert assignment_count(session, "ABO-TEST") == 0


def test_an_officer_cannot_assign_in_another_establishment(
    session: Session, academy: Dataset
) -> None:
    add_subscription(session, "ABO-LYCEE", uai=LYCEE_UAI, licences_student=30)
    code = _refused(session, _head(session, academy), sub="ABO-LYCEE", value="2NDE04",
                    uai=LYCEE_UAI)
    assert code == "licence.not_officer"
    assert assignment_count(session, "ABO-LYCEE") == 0


def test_an_officer_cannot_assign_another_establishments_subscription_from_their_own(
    session: Session, academy: Dataset
) -> None:
    add_subscription(session, "ABO-LYCEE", uai=LYCEE_UAI, licences_student=30)
    code = _refused(session, _head(session, academy), sub="ABO-LYCEE", value="2NDE04")
    assert code == "licence.wrong_establishment"
    assert assignment_count(session, "ABO-LYCEE") == 0


# --- what can be assigned -----------------------------------------------------------------


def test_an_establishment_wide_subscription_is_not_assignable(
    session: Session, academy: Dataset
) -> None:
    code = _refused(session, _head(session, academy), sub=f"ABO-DICTIONNAIRE-{COLLEGE_UAI}")
    assert code == "licence.not_assignable"


def test_an_automatic_resource_is_not_assignable(session: Session, academy: Dataset) -> None:
    add_subscription(session, resource_id=academy.resource("ressource-institutionnelle").id,
                     licences_student=30)
    assert _refused(session, _head(session, academy)) == "licence.not_assignable"


def test_an_expired_subscription_is_not_assignable(session: Session, academy: Dataset) -> None:
    add_subscription(session, licences_student=30, end_at=NOW - timedelta(days=1))
    assert _refused(session, _head(session, academy)) == "licence.subscription_expired"


def test_a_deleted_subscription_is_not_assignable(session: Session, academy: Dataset) -> None:
    add_subscription(session, licences_student=30, deleted=True)
    assert _refused(session, _head(session, academy)) == "licence.unknown_subscription"


def test_an_unknown_subscription_is_not_assignable(session: Session, academy: Dataset) -> None:
    assert _refused(session, _head(session, academy), sub="ABO-INCONNU") == \
        "licence.unknown_subscription"


def test_the_same_target_twice_is_refused(session: Session, academy: Dataset) -> None:
    add_subscription(session, licences_student=30)
    _assign_as(session, _head(session, academy))
    assert _refused(session, _head(session, academy)) == "licence.already_assigned"


@pytest.mark.parametrize(("kind", "value"), [
    ("division", "2NDE04"),  # a class of the lycée
    ("division", "LATIN4"),  # a group, not a class
    ("group", "4A"),  # a class, not a group
    ("person", "elv-000003"),  # the lycée student
    ("person", "inconnu"),
    ("profile", "National_inconnu"),
    ("classe", "4A"),
    ("division", " "),
])
def test_an_unknown_target_is_refused_with_nothing_written(
    session: Session, academy: Dataset, kind: str, value: str
) -> None:
    add_subscription(session, licences_student=30, licences_teacher=30)
    assert _refused(session, _head(session, academy), kind=kind, value=value) == \
        "licence.unknown_target"
    assert assignment_count(session, "ABO-TEST") == 0
    assert allocation_count(session, "ABO-TEST", held=False) == 0


# --- delegation ---------------------------------------------------------------------------


def test_an_officer_delegates_to_a_person_of_the_establishment(
    session: Session, academy: Dataset
) -> None:
    librarian = pk_of(session, academy, "documentaliste")
    delegate(session, uai=COLLEGE_UAI, actor_pk=_head(session, academy), person_pk=librarian)
    assert officer_establishments(session, librarian) == {COLLEGE_UAI: "RAD"}


def test_a_delegate_may_assign(session: Session, academy: Dataset) -> None:
    librarian = pk_of(session, academy, "documentaliste")
    delegate(session, uai=COLLEGE_UAI, actor_pk=_head(session, academy), person_pk=librarian)
    add_subscription(session, licences_student=30)
    _assign_as(session, librarian)
    assert assignment_count(session, "ABO-TEST") == 1


def test_a_delegate_may_not_delegate(session: Session, academy: Dataset) -> None:
    librarian = pk_of(session, academy, "documentaliste")
    delegate(session, uai=COLLEGE_UAI, actor_pk=_head(session, academy), person_pk=librarian)
    with pytest.raises(LicenceError) as refused:
        delegate(session, uai=COLLEGE_UAI, actor_pk=librarian,
                 person_pk=pk_of(session, academy, "enseignant"))
    assert refused.value.code == "licence.delegation_refused"


def test_a_non_officer_may_not_delegate(session: Session, academy: Dataset) -> None:
    teacher = pk_of(session, academy, "enseignant")
    with pytest.raises(LicenceError) as refused:
        delegate(session, uai=COLLEGE_UAI, actor_pk=teacher, person_pk=teacher)
    assert refused.value.code == "licence.not_officer"


def test_delegating_to_someone_outside_the_establishment_is_refused(
    session: Session, academy: Dataset
) -> None:
    with pytest.raises(LicenceError) as refused:
        delegate(session, uai=COLLEGE_UAI, actor_pk=_head(session, academy),
                 person_pk=pk_of(session, academy, "eleve.lycee"))
    assert refused.value.code == "licence.unknown_target"
    assert session.scalars(select(RespAff).where(RespAff.role == "RAD")).all() == []


def test_delegating_to_an_officer_is_refused(session: Session, academy: Dataset) -> None:
    head = _head(session, academy)
    with pytest.raises(LicenceError) as refused:
        delegate(session, uai=COLLEGE_UAI, actor_pk=head, person_pk=head)
    assert refused.value.code == "licence.already_officer"


def test_every_refusal_code_has_a_french_message() -> None:
    from broker.licences import MESSAGES

    assert all(code.startswith("licence.") and text for code, text in MESSAGES.items())
    assert LicenceError("licence.exhausted").message == MESSAGES["licence.exhausted"]


@pytest.mark.parametrize(("code", "status"), [("licence.not_officer", 403),
                                              ("licence.unknown_assignment", 404),
                                              ("licence.exhausted", 409),
                                              ("licence.unknown_target", 422)])
def test_each_refusal_carries_the_http_status_an_api_answers(code: str, status: int) -> None:
    assert LicenceError(code).status == status
