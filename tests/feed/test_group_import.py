"""A ``GAR-ENT-Groupe`` file, staged and diffed in SQL, replaces the groups it covers exactly."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from broker import models
from broker.feed import FeedError
from services.dataset import COLLEGE_UAI, Dataset
from tests.feed.conftest import apply, feed_files, snapshot


def _members(session: Session, code: str) -> set[str]:
    return set(session.scalars(
        select(models.Person.person_id).join(models.GroupMember,
                                             models.GroupMember.person_pk == models.Person.id)
        .join(models.Group).where(models.Group.uai == COLLEGE_UAI, models.Group.code == code)))


def _teacher_subjects(session: Session, person_id: str) -> set[tuple[str, str]]:
    return {(row.uai, row.code) for row in session.execute(
        select(models.Subject.uai, models.Subject.code).join(models.PersonSubject)
        .join(models.Person, models.Person.id == models.PersonSubject.person_pk)
        .where(models.Person.person_id == person_id))}


def _regrouped(academy: Dataset, moves: dict[str, tuple[tuple[str, str, str], ...]]) -> Dataset:
    persons = tuple(dataclasses.replace(p, groups=moves[p.login]) if p.login in moves else p
                    for p in academy.persons)
    return dataclasses.replace(academy, persons=persons)


def test_a_membership_moved_between_students_is_one_removal_and_one_addition(
        seeded: sessionmaker[Session], academy: Dataset) -> None:
    latin = (COLLEGE_UAI, "LATIN4", "Latin 4e")
    data = _regrouped(academy, {"eleve.assigne": (), "eleve.sans.licence": (latin,)})
    report = apply(seeded, feed_files(data)["Groupe"])
    assert report.counts["memberships"] == {"added": 1, "changed": 0, "removed": 1}
    assert report.counts["groups"] == {"added": 0, "changed": 0, "removed": 0}
    with seeded() as session:
        members = _members(session, "LATIN4")
    assert academy.person("eleve.sans.licence").person_id in members
    assert academy.person("eleve.assigne").person_id not in members


def test_the_same_group_file_twice_reports_its_changes_once(
        seeded: sessionmaker[Session], academy: Dataset) -> None:
    data = _regrouped(academy, {"eleve.assigne": ()})
    content = feed_files(data)["Groupe"]
    first = apply(seeded, content)
    assert first.counts["memberships"]["removed"] == 1
    after_first = snapshot(seeded)
    second = apply(seeded, content)
    assert (second.total("added"), second.total("changed"), second.total("removed")) == (0, 0, 0)
    after_first.pop("feed_imports")
    again = snapshot(seeded)
    again.pop("feed_imports")
    assert again == after_first


def test_a_group_left_out_of_the_file_is_removed_with_its_memberships(
        seeded: sessionmaker[Session], academy: Dataset) -> None:
    persons = tuple(dataclasses.replace(p, groups=tuple(g for g in p.groups if g[1] != "LATIN4"))
                    for p in academy.persons)
    groups = tuple(g for g in academy.groups if g.code != "LATIN4")
    report = apply(seeded, feed_files(dataclasses.replace(academy, persons=persons,
                                                          groups=groups))["Groupe"])
    assert report.counts["groups"]["removed"] == 1
    with seeded() as session:
        assert _members(session, "LATIN4") == set()
        assert session.scalar(select(models.Group).where(models.Group.code == "LATIN4")) is None
        assert session.scalar(select(models.GroupMember).where(
            models.GroupMember.group_id.not_in(select(models.Group.id)))) is None


def test_a_teacher_losing_a_class_loses_its_subject_there(
        seeded: sessionmaker[Session], academy: Dataset) -> None:
    teacher = academy.person("enseignant")
    with seeded() as session:
        assert (COLLEGE_UAI, "061300") in _teacher_subjects(session, teacher.person_id)
    data = dataclasses.replace(academy, persons=tuple(
        dataclasses.replace(p, divisions=tuple(d for d in p.divisions if d[0] != COLLEGE_UAI),
                            groups=())
        if p.login == "enseignant" else p for p in academy.persons))
    report = apply(seeded, feed_files(data)["Groupe"])
    assert report.counts["person_subjects"]["removed"] >= 1
    assert report.counts["memberships"]["removed"] == 3  # 4A, 4B, LATIN4
    with seeded() as session:
        assert (COLLEGE_UAI, "061300") not in _teacher_subjects(session, teacher.person_id)


def test_a_membership_of_a_group_absent_from_the_file_is_refused_at_its_line(
        seeded: sessionmaker[Session], academy: Dataset) -> None:
    content = feed_files(academy)["Groupe"]
    needle = b"<GARGroupeCode>LATIN4</GARGroupeCode></GARPersonGroupe>"
    bad = content.replace(needle, b"<GARGroupeCode>GREC4</GARGroupeCode></GARPersonGroupe>", 1)
    before = snapshot(seeded)
    with pytest.raises(FeedError) as caught:
        apply(seeded, bad)
    assert caught.value.code == "feed.unknown_group"
    assert caught.value.line == bad[: bad.index(b"GREC4")].count(b"\n") + 1
    assert snapshot(seeded) == before


def _element(content: bytes, tag: bytes, nth: int = 0) -> bytes:
    start = -1
    for _ in range(nth + 1):
        start = content.index(b"<" + tag + b" ", start + 1)
    return content[start: content.index(b"</" + tag + b">", start) + len(tag) + 3]


@pytest.mark.parametrize(("kind", "tag"), [("Groupe", b"GARPersonGroupe"),
                                           ("Eleve", b"GARPersonMEF"),
                                           ("Eleve", b"GAREleveEnseignement")])
def test_a_duplicate_link_is_refused_at_the_second_one(
        seeded: sessionmaker[Session], academy: Dataset, kind: str, tag: bytes) -> None:
    content = feed_files(academy)[kind]
    link = _element(content, tag, nth=1)
    bad = content.replace(link, link + b"\n" + link, 1)
    before = snapshot(seeded)
    with pytest.raises(FeedError) as caught:
        apply(seeded, bad)
    assert caught.value.code == "feed.duplicate_key"
    assert caught.value.line == bad[: bad.index(link)].count(b"\n") + 2
    assert tag.decode() in caught.value.reason
    assert snapshot(seeded) == before
