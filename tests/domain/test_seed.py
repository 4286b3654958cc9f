"""Seeding the academy: complete, idempotent, and refusing bad declarations."""

from __future__ import annotations

import dataclasses
import re

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from broker import models
from broker.db import session_factory
from broker.seed import seed
from services import scolomfr
from services.dataset import Dataset, DeclaredAttribute

COUNTED = (models.Establishment, models.Person, models.PersonProfile, models.Group,
           models.GroupMember, models.Mef, models.PersonMef, models.Subject,
           models.PersonSubject, models.PersonLevel, models.PersonDiscipline, models.RespAff,
           models.Provider, models.Resource, models.ResourceAttribute, models.Subscription,
           models.Assignment, models.Peer, models.AuditRecord)


def _counts(session: Session) -> dict[str, int]:
    return {model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in COUNTED}


def test_seed_writes_the_whole_academy(migrated: Engine, academy: Dataset) -> None:
    with session_factory(migrated)() as session:
        summary = seed(session, academy)
        session.commit()
        counts = _counts(session)
    assert summary.persons == counts["persons"] == len(academy.persons)
    assert counts["establishments"] == 3
    assert counts["subscriptions"] == len(academy.subscriptions)
    assert counts["assignments"] == len(academy.assignments)
    assert counts["resource_attributes"] == sum(len(r.attributes) for r in academy.resources)
    assert summary.created > 0


def test_every_seeded_resource_carries_the_gar_identifier_shapes_and_known_terms(
    migrated: Engine, academy: Dataset
) -> None:
    with session_factory(migrated)() as session:
        seed(session, academy)
        session.commit()
        resources = session.scalars(select(models.Resource)).all()
    assert len(resources) == len(academy.resources)
    for resource in resources:
        assert re.fullmatch(r"[0-9]{9}_[0-9]{16}", resource.editor_id), resource.id  # SIREN_n
        assert re.fullmatch(r"ark:/[0-9]{5}/[0-9a-z]+", resource.id), resource.id
        assert resource.presentation in scolomfr.PRESENTATIONS, resource.id
        for field, vocabulary in scolomfr.VOCABULARIES.items():
            ids = getattr(resource, field) or []
            assert ids, (resource.id, field)  # every seeded resource is described
            assert set(ids) <= set(vocabulary), (resource.id, field, ids)


def test_seeding_twice_changes_nothing(migrated: Engine, academy: Dataset) -> None:
    sessions = session_factory(migrated)
    with sessions() as session:
        seed(session, academy)
        session.commit()
        before = _counts(session)
        stamps = dict(session.execute(select(models.Subscription.id,
                                             models.Subscription.updated_at)).all())
    with sessions() as session:
        again = seed(session, academy)
        session.commit()
        assert (again.created, again.updated) == (0, 0)
        assert _counts(session) == before
        assert dict(session.execute(select(models.Subscription.id,
                                           models.Subscription.updated_at)).all()) == stamps


def test_seed_neither_registers_peers_nor_commits(migrated: Engine, academy: Dataset) -> None:
    sessions = session_factory(migrated)
    with sessions() as session:
        seed(session, academy)
        assert _counts(session)["peers"] == 0
        session.rollback()
    with sessions() as session:
        assert _counts(session)["persons"] == 0


def _with_declaration(academy: Dataset, slug: str, code: str) -> Dataset:
    resources = tuple(
        dataclasses.replace(r, attributes=(*r.attributes, DeclaredAttribute(code, "test")))
        if r.slug == slug else r
        for r in academy.resources
    )
    return dataclasses.replace(academy, resources=resources)


@pytest.mark.parametrize("code", ["INE", "DATE_NAISSANCE", "ADRESSE"])
def test_a_declaration_outside_the_catalogue_is_refused(
    migrated: Engine, academy: Dataset, code: str
) -> None:
    with session_factory(migrated)() as session:
        with pytest.raises(ValueError, match=code):
            seed(session, _with_declaration(academy, "dictionnaire", code))
        assert _counts(session)["persons"] == 0


def test_a_declaration_outside_the_audience_allowance_is_refused(
    migrated: Engine, academy: Dataset
) -> None:
    student_only = tuple(
        dataclasses.replace(s, audience=("ELEVE",)) if s.resource_id.endswith("r10002") else s
        for s in academy.subscriptions
    )
    data = _with_declaration(dataclasses.replace(academy, subscriptions=student_only),
                             "dictionnaire", "P_MEL")
    with session_factory(migrated)() as session, pytest.raises(ValueError, match="P_MEL"):
        seed(session, data)
