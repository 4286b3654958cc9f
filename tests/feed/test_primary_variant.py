"""The primary-school variant (namespace ``.../gar/1d``, version 1.4) maps to the same domain."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from broker import models
from broker.directory import load_person
from broker.domain import PersonView
from broker.feed import FeedError
from services.dataset import Dataset
from services.feed.names import NAMESPACE_1D
from tests.feed.conftest import apply, feed_files, snapshot

ECOLE = "0359903Z"


def _view(session: Session, person_id: str) -> PersonView:
    pk = session.scalar(select(models.Person.id).where(models.Person.person_id == person_id))
    assert pk is not None
    return load_person(session, pk)


def test_the_seed_writes_the_primary_school_in_the_1d_namespace(academy: Dataset) -> None:
    files = feed_files(academy)
    assert f'xmlns="{NAMESPACE_1D}" Version="1.4"'.encode() in files["1D-Eleve"]
    assert ECOLE.encode() in files["1D-Etab"] and ECOLE.encode() not in files["Etab"]
    assert b"GARPersonMEFSTAT4" in files["1D-Enseignant"]
    assert b"GARPersonMEF>" not in files["1D-Eleve"]


def test_a_primary_teachers_mefstat4_levels_feed_p_ms4(
        seeded: sessionmaker[Session], academy: Dataset) -> None:
    teacher = academy.person("enseignant.04")
    with seeded() as session:
        view = _view(session, teacher.person_id)
    assert dict(view.levels) == {ECOLE: ("1115",)}
    assert dict(view.divisions) == {ECOLE: (("CM2A", "CM2 A"),)}
    assert view.respaff == (ECOLE,)  # in primary schools, every teacher is an officer


def test_a_primary_teachers_specialities_are_their_disciplines(
        seeded: sessionmaker[Session], academy: Dataset) -> None:
    data = dataclasses.replace(academy, persons=tuple(
        dataclasses.replace(p, disciplines=((ECOLE, "ANGLAIS"),))
        if p.login == "enseignant.04" else p for p in academy.persons))
    content = feed_files(data)["1D-Enseignant"]
    assert b"<GAREnsSpecialitePosteCode>ANGLAIS</GAREnsSpecialitePosteCode>" in content
    report = apply(seeded, content)
    assert report.counts["disciplines"] == {"added": 1, "changed": 0, "removed": 0}
    assert report.total("added") == 1 and report.total("removed") == 0
    with seeded() as session:
        codes = session.scalars(select(models.PersonDiscipline.code).join(
            models.Person, models.Person.id == models.PersonDiscipline.person_pk).where(
            models.Person.person_id == academy.person("enseignant.04").person_id)).all()
    assert codes == ["ANGLAIS"]


def test_a_primary_students_level_leaving_the_file_is_removed(
        seeded: sessionmaker[Session], academy: Dataset) -> None:
    student = academy.person("eleve.06")
    data = dataclasses.replace(academy, persons=tuple(
        dataclasses.replace(p, mef=()) if p.login == "eleve.06" else p
        for p in academy.persons))
    report = apply(seeded, feed_files(data)["1D-Eleve"])
    assert report.counts["levels"] == {"added": 0, "changed": 0, "removed": 1}
    with seeded() as session:
        assert not _view(session, student.person_id).levels


@pytest.mark.parametrize(("kind", "anchor", "secondary"), [
    ("1D-Eleve", b"</GAREleve>",
     b"<GARPersonMEF><GARStructureUAI>0359903Z</GARStructureUAI>"),
    ("1D-Enseignant", b"</GARPersonMail>",
     b"<GAREnsDisciplinesPostes><GARStructureUAI>0359903Z</GARStructureUAI>"
     b"<GAREnsDisciplinePosteCode>L1300</GAREnsDisciplinePosteCode></GAREnsDisciplinesPostes>"),
])
def test_a_1d_file_with_a_secondary_only_element_is_refused_with_its_line(
        seeded: sessionmaker[Session], academy: Dataset, kind: str, anchor: bytes,
        secondary: bytes) -> None:
    content = feed_files(academy)[kind]
    bad = content.replace(anchor, anchor + b"\n" + secondary, 1)
    if kind == "1D-Eleve":
        bad = bad.replace(secondary, secondary + b"<GARPersonIdentifiant>elv-000012"
                          b"</GARPersonIdentifiant><GARMEFCode>00000005110</GARMEFCode>"
                          b"</GARPersonMEF>", 1)
    before = snapshot(seeded)
    with pytest.raises(FeedError) as caught:
        apply(seeded, bad)
    assert caught.value.code == "feed.invalid"
    assert caught.value.line == bad[: bad.index(secondary)].count(b"\n") + 1
    tag = secondary[1: secondary.index(b">")].decode()
    assert tag in caught.value.reason
    assert snapshot(seeded) == before
