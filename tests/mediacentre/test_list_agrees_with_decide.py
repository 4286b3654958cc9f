"""The mediacentre list is exactly what the access decision grants, resource by resource.

``broker.mediacentre_list.openable`` answers with a few set-based queries; here it is held
against ``broker.access.decide`` for every person of the academy, in each of their
establishments, and again after rights change (group and profile assignments, a deleted or
expired subscription, another establishment's licence).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from broker.access import decide
from broker.assignments import assign
from broker.directory import load_person
from broker.domain import Grant
from broker.mediacentre_list import openable
from broker.models import Assignment, Person, Resource, Subscription
from services.dataset import COLLEGE_UAI, LYCEE_UAI, Dataset
from tests.mediacentre.conftest import TODAY
from tests.orm_layer import column_reads, orm_statements

MATHS, DICTIONARY, CIVICS, EXPIRED, TEACHERS, ATLAS = (
    "ark:/99999/r10001", "ark:/99999/r10002", "ark:/99999/r10003", "ark:/99999/r10004",
    "ark:/99999/r10005", "ark:/99999/r20001")
CAS_ATLAS = "ark:/99999/r10006"  # a CAS publisher, subscribed by both schools for everyone


def _listed(session: Session, person_id: str, uai: str) -> set[str]:
    pk = session.scalar(select(Person.id).where(Person.person_id == person_id))
    assert pk is not None
    return {item.id for item in openable(session, load_person(session, pk), uai, today=TODAY)}


def _assert_agrees_everywhere(session: Session) -> int:
    """Compare list and decision for every person, establishment and resource; count them."""
    resources = list(session.scalars(select(Resource.id)))
    compared = 0
    for pk in session.scalars(select(Person.id)):
        person = load_person(session, pk)
        for uai in person.establishments:
            listed = {item.id for item in openable(session, person, uai, today=TODAY)}
            granted = {r for r in resources
                       if isinstance(decide(session, person, r, uai=uai, today=TODAY), Grant)}
            assert listed == granted, (person.person_id, uai)
            compared += 1
    return compared


def _person_id(academy: Dataset, login: str) -> str:
    return academy.person(login).person_id


def _assign(session: Session, academy: Dataset, subscription_id: str, kind: str,
            value: str) -> None:
    """Assign as the college's officer does: the assignment and the licences it allocates."""
    officer = session.scalar(select(Person.id).where(
        Person.person_id == _person_id(academy, "chef.etablissement")))
    assert officer is not None
    assign(session, subscription_id=subscription_id, target_kind=kind, target_value=value,
           uai=COLLEGE_UAI, actor_pk=officer, now=datetime.now(UTC))
    session.flush()


def test_the_list_agrees_with_the_decision_for_the_whole_academy(session: Session) -> None:
    assert _assert_agrees_everywhere(session) >= 25


def test_an_assigned_pupil_sees_assigned_establishment_wide_and_automatic_resources(
    session: Session, academy: Dataset
) -> None:
    listed = _listed(session, _person_id(academy, "eleve.assigne"), COLLEGE_UAI)
    assert listed == {MATHS, DICTIONARY, CIVICS, ATLAS, CAS_ATLAS}


def test_the_list_sends_through_the_orm_only_the_statements_that_load_objects(
    session: Session, academy: Dataset
) -> None:
    """Its subscriptions, candidates and reached-and-held subscriptions are Core statements
    (``broker.models.table``): the ENTs ask for the list on every portal page."""
    pk = session.scalar(select(Person.id).where(
        Person.person_id == _person_id(academy, "eleve.assigne")))
    assert pk is not None
    person = load_person(session, pk)
    with orm_statements() as seen:
        listed = openable(session, person, COLLEGE_UAI, today=TODAY)

    assert MATHS in {item.id for item in listed}  # granted by an assignment: every statement ran
    assert column_reads(seen) == []


def test_an_expired_subscription_and_another_audiences_resource_are_not_listed(
    session: Session, academy: Dataset
) -> None:
    listed = _listed(session, _person_id(academy, "eleve.sans.licence"), COLLEGE_UAI)
    assert EXPIRED not in listed and TEACHERS not in listed and MATHS not in listed


def test_a_profile_assignment_reaches_the_librarian(session: Session, academy: Dataset) -> None:
    listed = _listed(session, _person_id(academy, "documentaliste"), COLLEGE_UAI)
    assert listed == {DICTIONARY, CIVICS, TEACHERS, ATLAS, CAS_ATLAS}


def test_a_licence_of_one_establishment_is_not_listed_in_another(
    session: Session, academy: Dataset
) -> None:
    teacher = _person_id(academy, "enseignant")
    assert MATHS in _listed(session, teacher, COLLEGE_UAI)
    assert _listed(session, teacher, LYCEE_UAI) == {DICTIONARY, CIVICS, CAS_ATLAS}


def test_outside_the_persons_establishments_nothing_is_listed(
    session: Session, academy: Dataset
) -> None:
    assert _listed(session, _person_id(academy, "eleve.assigne"), LYCEE_UAI) == set()


def test_a_group_assignment_reaches_its_pupils_only(session: Session, academy: Dataset) -> None:
    now = datetime.now(UTC)
    session.add(Subscription(
        id="ABO-ATELIER-LATIN", resource_id=EXPIRED, uai=COLLEGE_UAI,
        distributor_id="123456789_0000000000000001", start_at=now - timedelta(days=30),
        end_at=now + timedelta(days=300), type="INDIV", category="transferable",
        audience=["ELEVE", "ENSEIGNANT"], licences_global=10, created_at=now, updated_at=now))
    session.flush()
    _assign(session, academy, "ABO-ATELIER-LATIN", "group", "LATIN4")
    assert EXPIRED in _listed(session, _person_id(academy, "eleve.assigne"), COLLEGE_UAI)
    assert EXPIRED not in _listed(session, _person_id(academy, "eleve.sans.licence"),
                                  COLLEGE_UAI)
    # a teacher linked to the group is reached by a person or profile assignment, not this
    assert EXPIRED not in _listed(session, _person_id(academy, "enseignant"), COLLEGE_UAI)
    _assert_agrees_everywhere(session)


def test_a_profile_assignment_matches_whatever_its_case(
    session: Session, academy: Dataset
) -> None:
    _assign(session, academy, f"ABO-MANUEL-MATHS-4E-{COLLEGE_UAI}", "profile", "national_ELV")
    assert MATHS in _listed(session, _person_id(academy, "eleve.sans.licence"), COLLEGE_UAI)
    _assert_agrees_everywhere(session)


def test_a_deleted_subscription_is_not_listed(session: Session, academy: Dataset) -> None:
    subscription = session.get(Subscription, f"ABO-DICTIONNAIRE-{COLLEGE_UAI}")
    assert subscription is not None
    subscription.deleted = True
    session.flush()
    assert DICTIONARY not in _listed(session, _person_id(academy, "eleve.assigne"), COLLEGE_UAI)
    _assert_agrees_everywhere(session)


def test_a_subscription_ending_yesterday_is_not_listed(
    session: Session, academy: Dataset
) -> None:
    subscription = session.get(Subscription, f"ABO-ATLAS-GEOGRAPHIE-{COLLEGE_UAI}")
    assert subscription is not None
    subscription.end_at = datetime.now(UTC) - timedelta(days=1)
    session.flush()
    assert ATLAS not in _listed(session, _person_id(academy, "eleve.assigne"), COLLEGE_UAI)
    _assert_agrees_everywhere(session)


def test_an_assignment_without_a_held_licence_is_not_listed(
    session: Session, academy: Dataset
) -> None:
    """A pupil who joined the class after the assignment holds no licence until a top-up."""
    session.add(Assignment(subscription_id=f"ABO-MANUEL-MATHS-4E-{COLLEGE_UAI}",
                           target_kind="division", target_value="4B",
                           created_at=datetime.now(UTC)))
    session.flush()
    assert MATHS not in _listed(session, _person_id(academy, "eleve.sans.licence"), COLLEGE_UAI)
    _assert_agrees_everywhere(session)
