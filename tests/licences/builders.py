"""Small builders for licence tests: a subscription, students or a person, and counters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broker.models import (
    Assignment,
    Group,
    GroupMember,
    LicenceAllocation,
    Person,
    PersonProfile,
    Subscription,
)
from services.dataset import COLLEGE_UAI, MOCK_DISTRIBUTOR, Dataset

NOW = datetime.now(UTC)
MATHS_SUB = f"ABO-MANUEL-MATHS-4E-{COLLEGE_UAI}"
TEACHERS_SUB = f"ABO-RESSOURCE-ENSEIGNANTS-{COLLEGE_UAI}"
MATHS_ARK = "ark:/99999/r10001"


def pk_of(session: Session, academy: Dataset, login: str) -> int:
    person_id = academy.person(login).person_id
    pk = session.scalar(select(Person.id).where(Person.person_id == person_id))
    assert pk is not None, login
    return pk


def add_subscription(session: Session, sub_id: str = "ABO-TEST", **values: Any) -> Subscription:
    """An INDIV, transferable subscription to the maths textbook in the collège, valid now."""
    fields: dict[str, Any] = {
        "resource_id": MATHS_ARK, "uai": COLLEGE_UAI, "distributor_id": MOCK_DISTRIBUTOR,
        "start_at": NOW - timedelta(days=30), "end_at": NOW + timedelta(days=300),
        "type": "INDIV", "category": "transferable", "audience": ["ELEVE", "ENSEIGNANT"],
        "created_at": NOW, "updated_at": NOW,
    }
    fields.update(values)
    subscription = Subscription(id=sub_id, **fields)
    session.add(subscription)
    session.flush()
    return subscription


def add_students(session: Session, count: int, *, division: str = "3A",
                 uai: str = COLLEGE_UAI, prefix: str = "test-elv") -> list[int]:
    """``count`` new students of ``division``; their person pks."""
    group_id = session.scalar(select(Group.id).where(Group.uai == uai, Group.code == division))
    assert group_id is not None
    pks = []
    for n in range(count):
        person = Person(person_id=f"{prefix}-{n:03d}", ent_id="ENT-TESTBED",
                        last_name="Élève", first_name=f"N{n}", emails=[])
        session.add(person)
        session.flush()
        session.add(PersonProfile(person_pk=person.id, uai=uai, profile="National_elv"))
        session.add(GroupMember(group_id=group_id, person_pk=person.id))
        pks.append(person.id)
    session.flush()
    return pks


def add_person(session: Session, person_id: str, uai: str, profile: str) -> int:
    person = Person(person_id=person_id, ent_id="ENT-TESTBED", last_name="Test",
                    first_name="Test", emails=[])
    session.add(person)
    session.flush()
    session.add(PersonProfile(person_pk=person.id, uai=uai, profile=profile))
    session.flush()
    return person.id


def allocation_count(session: Session, subscription_id: str, *, held: bool = True) -> int:
    query = select(func.count()).select_from(LicenceAllocation).where(
        LicenceAllocation.subscription_id == subscription_id)
    if held:
        query = query.where(LicenceAllocation.released_at.is_(None))
    return session.scalar(query) or 0


def assignment_count(session: Session, subscription_id: str) -> int:
    return session.scalar(select(func.count()).select_from(Assignment).where(
        Assignment.subscription_id == subscription_id)) or 0
