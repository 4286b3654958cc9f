"""A full (``Complet``) import replaces what it covers, reports it, and is idempotent."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from broker import models
from broker.access import decide
from broker.directory import load_person
from broker.domain import Grant, PersonView, Refusal
from broker.feed import FeedError
from services.dataset import COLLEGE_UAI, LYCEE_UAI, Dataset, Person
from tests.domain.conftest import TODAY
from tests.feed.conftest import apply, feed_files, snapshot


def _view(session: Session, person_id: str) -> PersonView:
    pk = session.scalar(select(models.Person.id).where(models.Person.person_id == person_id))
    assert pk is not None
    return load_person(session, pk)


def _with_person(data: Dataset, login: str, **changes: object) -> Dataset:
    persons = tuple(dataclasses.replace(p, **changes) if p.login == login else p  # type: ignore[arg-type]
                    for p in data.persons)
    return dataclasses.replace(data, persons=persons)


def test_importing_the_same_files_again_changes_nothing(
        seeded: sessionmaker[Session], academy: Dataset) -> None:
    before = snapshot(seeded)
    files = feed_files(academy)
    for content in files.values():
        report = apply(seeded, content)
        totals = (report.total("added"), report.total("changed"), report.total("removed"))
        assert totals == (0, 0, 0)
    after = snapshot(seeded)
    assert after.pop("feed_imports") == before.pop("feed_imports") + len(files)
    assert after == before


def test_each_import_is_recorded_with_its_digest_and_counts(
        seeded: sessionmaker[Session], academy: Dataset) -> None:
    content = feed_files(academy)["Groupe"]
    apply(seeded, content, name="ENT_GAR-ENT_Complet_20260901_080000_2D_Groupe_0000.xml")
    with seeded() as session:
        row = session.scalars(select(models.FeedImport)
                              .order_by(models.FeedImport.id.desc())).first()
    assert row is not None
    assert (row.kind, row.ent_id, row.version) == ("Groupe", "ENT-TESTBED", "1.7")
    assert row.sha256 == hashlib.sha256(content).hexdigest()
    assert row.records > 0 and row.counts["groups"] == {"added": 0, "changed": 0, "removed": 0}


def _moved(academy: Dataset) -> tuple[Dataset, Person]:
    student = academy.person("eleve.01")
    assert student.establishments == (COLLEGE_UAI,)
    data = _with_person(academy, "eleve.01", profiles=((LYCEE_UAI, "National_elv"),),
                        establishments=(LYCEE_UAI,),
                        divisions=((LYCEE_UAI, "2NDE04", "2NDE04"),),
                        mef=((LYCEE_UAI, "20010018110"),), subjects=((LYCEE_UAI, "061300"),))
    return data, student


def test_a_student_moving_establishment_ends_up_only_in_the_new_one(
        seeded: sessionmaker[Session], academy: Dataset) -> None:
    data, student = _moved(academy)
    files = feed_files(data)
    report = apply(seeded, files["Eleve"])
    assert report.counts["profiles"] == {"added": 1, "changed": 0, "removed": 1}
    with seeded() as session:
        view = _view(session, student.person_id)
        assert dict(view.profiles) == {LYCEE_UAI: "National_elv"}
        assert COLLEGE_UAI not in view.divisions  # left its college class with the college
    apply(seeded, files["Groupe"])
    with seeded() as session:
        view = _view(session, student.person_id)
        assert dict(view.divisions) == {LYCEE_UAI: (("2NDE04", "2NDE04"),)}
        assert set(view.subjects) == {LYCEE_UAI}


def test_a_renamed_class_keeps_its_code_and_members_with_the_new_label(
        seeded: sessionmaker[Session], academy: Dataset) -> None:
    with seeded() as session:
        before = session.scalars(select(models.Group).where(
            models.Group.uai == COLLEGE_UAI, models.Group.code == "4A")).one()
        members = len(session.scalars(select(models.GroupMember).where(
            models.GroupMember.group_id == before.id)).all())
    groups = tuple(dataclasses.replace(g, label="4e A (Simone Veil)")
                   if (g.uai, g.code) == (COLLEGE_UAI, "4A") else g for g in academy.groups)
    persons = tuple(dataclasses.replace(p, divisions=tuple(
        (u, c, "4e A (Simone Veil)" if (u, c) == (COLLEGE_UAI, "4A") else label)
        for u, c, label in p.divisions)) for p in academy.persons)
    report = apply(seeded, feed_files(dataclasses.replace(academy, groups=groups,
                                                          persons=persons))["Groupe"])
    assert report.counts["groups"] == {"added": 0, "changed": 1, "removed": 0}
    assert report.total("added") == report.total("removed") == 0
    with seeded() as session:
        after = session.scalars(select(models.Group).where(
            models.Group.uai == COLLEGE_UAI, models.Group.code == "4A")).one()
        assert (after.id, after.label) == (before.id, "4e A (Simone Veil)")
        assert len(session.scalars(select(models.GroupMember).where(
            models.GroupMember.group_id == after.id)).all()) == members
        view = _view(session, academy.person("eleve.assigne").person_id)
        assert ("4A", "4e A (Simone Veil)") in view.divisions[COLLEGE_UAI]


def test_a_student_missing_from_the_next_full_import_loses_access(
        seeded: sessionmaker[Session], academy: Dataset) -> None:
    student = academy.person("eleve.assigne")
    resource = academy.resource("manuel-maths-4e").id
    with seeded() as session:
        assert isinstance(decide(session, _view(session, student.person_id), resource,
                                 today=TODAY), Grant)
    without = dataclasses.replace(academy, persons=tuple(
        p for p in academy.persons if p.login != "eleve.assigne"))
    report = apply(seeded, feed_files(without)["Eleve"])
    assert report.counts["profiles"]["removed"] == 1
    assert report.counts["memberships"]["removed"] == 2  # 4A and LATIN4
    with seeded() as session:
        view = _view(session, student.person_id)
        assert not view.profiles
        assert isinstance(decide(session, view, resource, today=TODAY), Refusal)


def test_a_new_assignment_officer_replaces_the_previous_one_of_the_establishment(
        seeded: sessionmaker[Session], academy: Dataset) -> None:
    chief, teacher = academy.person("chef.etablissement"), academy.person("enseignant")
    data = _with_person(_with_person(academy, "chef.etablissement", respaff=()),
                        "enseignant", respaff=(COLLEGE_UAI,))
    report = apply(seeded, feed_files(data)["RespAff"])
    assert report.counts["respaff"] == {"added": 1, "changed": 0, "removed": 1}
    with seeded() as session:
        officers = session.scalars(select(models.Person.person_id).join(
            models.RespAff, models.RespAff.person_pk == models.Person.id).where(
            models.RespAff.uai == COLLEGE_UAI)).all()
    assert officers == [teacher.person_id] and chief.person_id not in officers


def test_a_changed_name_is_reported_as_one_change(
        seeded: sessionmaker[Session], academy: Dataset) -> None:
    data = _with_person(academy, "enseignant", last_name="Dubois-Martin")
    report = apply(seeded, feed_files(data)["Enseignant"])
    assert report.counts["persons"] == {"added": 0, "changed": 1, "removed": 0}
    assert report.total("added") == report.total("removed") == 0


def test_the_seeded_directory_matches_the_dataset(
        seeded: sessionmaker[Session], academy: Dataset) -> None:
    with seeded() as session:
        for person in academy.persons:
            view = _view(session, person.person_id)
            assert dict(view.profiles) == dict(person.profiles)
            assert view.emails == person.emails
            expected = {(u, c, label) for u, c, label in (*person.divisions,)}
            got = {(u, c, label) for u, pairs in view.divisions.items() for c, label in pairs}
            assert got == expected, person.login
            assert {(u, s) for u, subjects in view.subjects.items() for s in subjects} == set(
                person.subjects), person.login


def test_an_import_gives_its_connection_back_as_it_found_it(
        seeded: sessionmaker[Session], academy: Dataset) -> None:
    """PostgreSQL: the import turns psycopg's statement preparation off for its own statements
    (planned with their values; foreign-key checks keep their cached plans) and back on after,
    accepted or refused: the pooled connection serves the rest of the broker."""
    files = feed_files(academy)
    with seeded.begin() as session:
        dbapi = session.connection().connection.dbapi_connection
        before = getattr(dbapi, "prepare_threshold", None)
        plan = (session.connection().exec_driver_sql("SHOW plan_cache_mode").scalar()
                if session.get_bind().dialect.name == "postgresql" else None)
    apply(seeded, files["Eleve"])
    with pytest.raises(FeedError):
        apply(seeded, files["Eleve"].replace(b"</GAR-ENT-Eleve>", b""))
    with seeded.begin() as session:
        connection = session.connection()
        assert getattr(connection.connection.dbapi_connection, "prepare_threshold",
                       None) == before
        if connection.dialect.name == "postgresql":
            assert before is not None
            assert connection.exec_driver_sql("SHOW plan_cache_mode").scalar() == plan == "auto"
