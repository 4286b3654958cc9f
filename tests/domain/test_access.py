"""The access decision for each persona and resource, with its basis or its refusal code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from broker.access import MESSAGES, decide
from broker.domain import Grant, Refusal
from broker.models import Assignment, Subscription
from services.dataset import COLLEGE_UAI, ECOLE_UAI, LYCEE_UAI, Dataset
from tests.domain.conftest import PROVIDER_BASE, TODAY, person_view


def _decide(session: Session, academy: Dataset, login: str, slug: str,
            uai: str | None = None) -> Grant | Refusal:
    person = person_view(session, login, academy)
    return decide(session, person, academy.resource(slug).id, uai=uai, today=TODAY)


def _grant(outcome: Grant | Refusal) -> Grant:
    assert isinstance(outcome, Grant), outcome
    return outcome


def _refusal_code(outcome: Grant | Refusal) -> str:
    assert isinstance(outcome, Refusal), outcome
    return outcome.code


def _assignment_id(session: Session, subscription_id: str, kind: str, value: str) -> int:
    found = session.scalar(select(Assignment.id).filter_by(
        subscription_id=subscription_id, target_kind=kind, target_value=value))
    assert found is not None
    return found


MATHS_SUB = f"ABO-MANUEL-MATHS-4E-{COLLEGE_UAI}"
TEACHERS_SUB = f"ABO-RESSOURCE-ENSEIGNANTS-{COLLEGE_UAI}"


def test_student_of_the_assigned_division_gets_the_textbook(
    session: Session, academy: Dataset
) -> None:
    grant = _grant(_decide(session, academy, "eleve.assigne", "manuel-maths-4e"))
    assert grant.basis == "INDIV"
    assert grant.uais == (COLLEGE_UAI,)
    assert grant.profile == "National_elv"
    assert grant.subscription_ids == (MATHS_SUB,)
    assert grant.assignment_ids == (_assignment_id(session, MATHS_SUB, "division", "4A"),)
    assert grant.provider_entity_id == f"{PROVIDER_BASE}/saml/metadata"


def test_student_of_another_division_has_no_assignment(session: Session, academy: Dataset) -> None:
    assert _refusal_code(_decide(session, academy, "eleve.sans.licence",
                                 "manuel-maths-4e")) == "access.no_assignment"


def test_teacher_assigned_individually_gets_the_textbook_in_the_college_only(
    session: Session, academy: Dataset
) -> None:
    grant = _grant(_decide(session, academy, "enseignant", "manuel-maths-4e"))
    teacher_id = academy.person("enseignant").person_id
    assert grant.uais == (COLLEGE_UAI,)
    assert grant.assignment_ids == (_assignment_id(session, MATHS_SUB, "person", teacher_id),)


def test_teacher_asking_in_the_lycee_finds_no_subscription(
    session: Session, academy: Dataset
) -> None:
    outcome = _decide(session, academy, "enseignant", "manuel-maths-4e", uai=LYCEE_UAI)
    assert _refusal_code(outcome) == "access.no_subscription"
    assert isinstance(outcome, Refusal) and outcome.uai == LYCEE_UAI


def test_a_division_assignment_does_not_reach_the_teachers_of_that_division(
    session: Session, academy: Dataset
) -> None:
    teacher_id = academy.person("enseignant").person_id
    individual = session.get(Assignment, _assignment_id(session, MATHS_SUB, "person", teacher_id))
    session.delete(individual)
    session.flush()
    assert _refusal_code(_decide(session, academy, "enseignant",
                                 "manuel-maths-4e")) == "access.no_assignment"


def test_head_of_establishment_without_assignment_is_refused(
    session: Session, academy: Dataset
) -> None:
    assert _refusal_code(_decide(session, academy, "chef.etablissement",
                                 "manuel-maths-4e")) == "access.no_assignment"


def test_establishment_wide_subscription_grants_everybody_there(
    session: Session, academy: Dataset
) -> None:
    grant = _grant(_decide(session, academy, "eleve.sans.licence", "dictionnaire"))
    assert grant.basis == "ETABL"
    assert grant.subscription_ids == (f"ABO-DICTIONNAIRE-{COLLEGE_UAI}",)
    assert grant.assignment_ids == ()


def test_a_teacher_of_two_establishments_is_granted_in_both(
    session: Session, academy: Dataset
) -> None:
    grant = _grant(_decide(session, academy, "enseignant", "dictionnaire"))
    assert grant.uais == (COLLEGE_UAI, LYCEE_UAI)
    assert set(grant.subscription_ids) == {f"ABO-DICTIONNAIRE-{COLLEGE_UAI}",
                                           f"ABO-DICTIONNAIRE-{LYCEE_UAI}"}


def test_the_uai_restricts_the_grant_to_that_establishment(
    session: Session, academy: Dataset
) -> None:
    grant = _grant(_decide(session, academy, "enseignant", "dictionnaire", uai=LYCEE_UAI))
    assert grant.uais == (LYCEE_UAI,)


@pytest.mark.parametrize("login", ["eleve.assigne", "eleve.lycee", "eleve.06", "documentaliste"])
def test_an_automatic_resource_needs_no_subscription(
    session: Session, academy: Dataset, login: str
) -> None:
    grant = _grant(_decide(session, academy, login, "ressource-institutionnelle"))
    assert grant.basis == "automatic"
    assert grant.subscription_ids == () and grant.assignment_ids == ()


def test_the_school_pupil_gets_the_automatic_resource_in_the_school(
    session: Session, academy: Dataset
) -> None:
    grant = _grant(_decide(session, academy, "eleve.06", "ressource-institutionnelle"))
    assert grant.uais == (ECOLE_UAI,)


def test_an_expired_subscription_is_refused(session: Session, academy: Dataset) -> None:
    assert _refusal_code(_decide(session, academy, "eleve.assigne",
                                 "ressource-expiree")) == "access.subscription_expired"


def test_expired_beats_no_subscription_across_establishments(
    session: Session, academy: Dataset
) -> None:
    outcome = _decide(session, academy, "enseignant", "ressource-expiree")
    assert _refusal_code(outcome) == "access.subscription_expired"
    assert isinstance(outcome, Refusal) and outcome.uai == COLLEGE_UAI


def test_a_subscription_not_yet_valid_is_refused(session: Session, academy: Dataset) -> None:
    subscription = session.get(Subscription, f"ABO-DICTIONNAIRE-{COLLEGE_UAI}")
    assert subscription is not None
    subscription.start_at = datetime.now(UTC) + timedelta(days=2)
    session.flush()
    assert _refusal_code(_decide(session, academy, "eleve.assigne",
                                 "dictionnaire")) == "access.subscription_expired"


def test_a_deleted_subscription_no_longer_counts(session: Session, academy: Dataset) -> None:
    subscription = session.get(Subscription, f"ABO-DICTIONNAIRE-{COLLEGE_UAI}")
    assert subscription is not None
    subscription.deleted = True
    session.flush()
    assert _refusal_code(_decide(session, academy, "eleve.assigne",
                                 "dictionnaire")) == "access.no_subscription"


def test_a_student_is_not_in_a_teachers_only_audience(session: Session, academy: Dataset) -> None:
    assert _refusal_code(_decide(session, academy, "eleve.assigne",
                                 "ressource-enseignants")) == "access.profile_not_in_audience"


@pytest.mark.parametrize(("login", "profile"), [("documentaliste", "National_doc"),
                                                ("enseignant", "National_ens"),
                                                ("chef.etablissement", "National_ens")])
def test_an_assignment_to_a_whole_profile_reaches_its_members(
    session: Session, academy: Dataset, login: str, profile: str
) -> None:
    grant = _grant(_decide(session, academy, login, "ressource-enseignants"))
    assert grant.basis == "INDIV" and grant.uais == (COLLEGE_UAI,)
    assert grant.assignment_ids == (_assignment_id(session, TEACHERS_SUB, "profile", profile),)


def test_a_profile_assignment_matches_whatever_its_case(session: Session, academy: Dataset) -> None:
    assignment = session.get(Assignment, _assignment_id(session, TEACHERS_SUB, "profile",
                                                        "National_doc"))
    assert assignment is not None
    assignment.target_value = "NATIONAL_DOC"
    session.flush()
    _grant(_decide(session, academy, "documentaliste", "ressource-enseignants"))


def test_an_assignment_to_a_group_reaches_its_members(session: Session, academy: Dataset) -> None:
    session.add(Assignment(subscription_id=MATHS_SUB, target_kind="group", target_value="LATIN4",
                           created_at=datetime.now(UTC)))
    session.flush()
    grant = _grant(_decide(session, academy, "eleve.assigne", "manuel-maths-4e"))
    assert grant.assignment_ids == (_assignment_id(session, MATHS_SUB, "division", "4A"),
                                    _assignment_id(session, MATHS_SUB, "group", "LATIN4"))


def test_a_division_of_the_same_code_in_another_establishment_does_not_count(
    session: Session, academy: Dataset
) -> None:
    # "2NDE04" is the lycée student's class; an assignment with that code in the collège's
    # subscription must not reach him (he is not even in the collège).
    session.add(Assignment(subscription_id=MATHS_SUB, target_kind="division",
                           target_value="2NDE04", created_at=datetime.now(UTC)))
    session.flush()
    assert _refusal_code(_decide(session, academy, "eleve.lycee",
                                 "manuel-maths-4e")) == "access.no_subscription"


def test_another_providers_resource_names_that_provider(session: Session, academy: Dataset) -> None:
    grant = _grant(_decide(session, academy, "eleve.assigne", "atlas-geographie"))
    assert grant.provider_entity_id == "https://editions-exemple.invalid/saml/metadata"


def test_a_lycee_student_has_no_subscription_to_a_college_resource(
    session: Session, academy: Dataset
) -> None:
    assert _refusal_code(_decide(session, academy, "eleve.lycee",
                                 "atlas-geographie")) == "access.no_subscription"


def test_an_unknown_resource_is_refused(session: Session, academy: Dataset) -> None:
    person = person_view(session, "eleve.assigne", academy)
    outcome = decide(session, person, "ark:/99999/inconnue", today=TODAY)
    assert _refusal_code(outcome) == "access.unknown_resource"


def test_an_establishment_that_is_not_the_persons_is_refused(
    session: Session, academy: Dataset
) -> None:
    outcome = _decide(session, academy, "eleve.assigne", "dictionnaire", uai=LYCEE_UAI)
    assert _refusal_code(outcome) == "access.not_in_establishment"


def test_every_refusal_says_why_and_what_to_do_in_french(session: Session,
                                                          academy: Dataset) -> None:
    outcome = _decide(session, academy, "eleve.sans.licence", "manuel-maths-4e")
    assert isinstance(outcome, Refusal)
    assert (outcome.reason, outcome.action) == MESSAGES["access.no_assignment"]
    assert outcome.resource_id == academy.resource("manuel-maths-4e").id
    assert set(MESSAGES) == {
        "access.unknown_person", "access.unknown_resource", "access.no_subscription",
        "access.subscription_expired", "access.profile_not_in_audience",
        "access.no_assignment", "access.not_in_establishment"}
