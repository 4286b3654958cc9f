"""A bad file is refused whole, with its line and reason, and nothing of it is written.

Each mutated file first renames the first student (a change an importer applying records as
they come would already have flushed), then breaks later on: the rename must not survive.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from broker import models
from broker.feed import FeedError
from services.dataset import Dataset
from services.uai import LETTERS, check_letter, make_uai
from tests.feed.conftest import apply, feed_files, snapshot


def line_of(content: bytes, needle: bytes) -> int:
    return content[: content.index(needle)].count(b"\n") + 1


def last_eleve(content: bytes) -> bytes:
    start = content.rindex(b"<GAREleve ")
    return content[start: content.index(b"</GAREleve>", start) + len(b"</GAREleve>")]


def renamed(content: bytes) -> bytes:
    return content.replace(b"<GARPersonNom>Martin</GARPersonNom>",
                           b"<GARPersonNom>Renomm\xc3\xa9e</GARPersonNom>", 1)


def refused(sessions: sessionmaker[Session], content: bytes, code: str,
            **options: bool) -> FeedError:
    before = snapshot(sessions)
    with pytest.raises(FeedError) as caught:
        apply(sessions, content, **options)
    assert caught.value.code == code, caught.value
    assert snapshot(sessions) == before
    with sessions() as session:
        assert session.scalar(select(models.Person).where(
            models.Person.last_name == "Renommée")) is None
    return caught.value


def test_an_unexpected_element_is_refused_with_its_line(
        seeded: sessionmaker[Session], academy: Dataset) -> None:
    content = renamed(feed_files(academy)["Eleve"])
    target = last_eleve(content)
    bad = content.replace(target, target.replace(b"</GARPersonNom>",
                                                 b"</GARPersonNom><GARInconnu>x</GARInconnu>"))
    error = refused(seeded, bad, "feed.invalid")
    assert error.line == line_of(bad, b"<GARInconnu>")
    assert "GARInconnu" in error.reason


def test_children_out_of_the_documented_order_are_refused(
        seeded: sessionmaker[Session], academy: Dataset) -> None:
    content = renamed(feed_files(academy)["Eleve"])
    start = content.index(b"<GARPersonMEF ")
    mef = content[start: content.index(b"</GARPersonMEF>", start) + len(b"</GARPersonMEF>")]
    bad = content.replace(mef + b"\n", b"").replace(b"</GAR-ENT-Eleve>",
                                                     mef + b"\n</GAR-ENT-Eleve>")
    error = refused(seeded, bad, "feed.invalid")
    assert error.line == line_of(bad, mef)
    assert "ordre" in error.reason


def test_an_identifier_longer_than_64_characters_is_refused(
        seeded: sessionmaker[Session], academy: Dataset) -> None:
    content = renamed(feed_files(academy)["Eleve"])
    target = last_eleve(content)
    start = target.index(b"<GARPersonIdentifiant>") + len(b"<GARPersonIdentifiant>")
    old_id = target[start: target.index(b"</GARPersonIdentifiant>")]
    bad = content.replace(target, target.replace(old_id, b"x" * 65))
    error = refused(seeded, bad, "feed.invalid")
    assert error.line == line_of(bad, b"x" * 65)


def test_a_file_truncated_mid_way_is_refused(seeded: sessionmaker[Session],
                                              academy: Dataset) -> None:
    content = renamed(feed_files(academy)["Eleve"])
    cut = content[: len(content) * 2 // 3]
    error = refused(seeded, cut, "feed.truncated")
    assert error.line == cut.count(b"\n") + 1


def test_a_file_cut_inside_a_tag_is_refused_as_truncated(
        seeded: sessionmaker[Session], academy: Dataset) -> None:
    content = renamed(feed_files(academy)["Eleve"])
    cut = content[: content.rindex(b"<GARPersonNom>") + 5]
    error = refused(seeded, cut, "feed.truncated")
    assert error.line == cut.count(b"\n") + 1


def test_a_duplicate_key_is_refused_at_the_duplicate(seeded: sessionmaker[Session],
                                                      academy: Dataset) -> None:
    content = renamed(feed_files(academy)["Eleve"])
    target = last_eleve(content)
    bad = content.replace(target, target + b"\n" + target)
    error = refused(seeded, bad, "feed.duplicate_key")
    assert error.line == line_of(bad, target) + 1


def test_a_duplicate_group_key_is_refused(seeded: sessionmaker[Session], academy: Dataset) -> None:
    content = feed_files(academy)["Groupe"]
    start = content.index(b"<GARGroupe")
    group = content[start: content.index(b"</GARGroupe>", start) + len(b"</GARGroupe>")]
    bad = content.replace(group, group + b"\n" + group, 1)
    assert refused(seeded, bad, "feed.duplicate_key").line == line_of(bad, group) + 1


@pytest.mark.parametrize("tag", [b"GAREnsGroupeMatiere", b"GAREnsClasseMatiere"])
def test_a_teachers_group_and_subjects_twice_are_refused(
    seeded: sessionmaker[Session], academy: Dataset, tag: bytes
) -> None:
    content = feed_files(academy)["Groupe"]
    start = content.index(b"<" + tag)
    taught = content[start: content.index(b"</" + tag + b">", start) + len(tag) + 3]
    bad = content.replace(taught, taught + b"\n" + taught, 1)
    error = refused(seeded, bad, "feed.duplicate_key")
    assert error.line == line_of(bad, taught) + 1
    assert tag.decode() in error.reason


def test_an_unknown_establishment_is_refused(seeded: sessionmaker[Session],
                                             academy: Dataset) -> None:
    content = renamed(feed_files(academy)["Eleve"])
    target = last_eleve(content)
    start = target.index(b"<GARPersonEtab>") + len(b"<GARPersonEtab>")
    uai = target[start: target.index(b"</GARPersonEtab>")]
    changed = target.replace(uai, make_uai(1234567).encode())
    error = refused(seeded, content.replace(target, changed), "feed.unknown_uai")
    assert error.line == line_of(content, target)


def _wrong_letter(number: str) -> str:
    right = check_letter(number)
    return number + next(letter for letter in LETTERS if letter != right)


def _etab_with(uai: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<GAR-ENT-Etab xmlns="http://data.education.fr/ns/gar" Version="1.7">\n'
            f"<GAREtab><GARStructureUAI>{uai}</GARStructureUAI>"
            f"<GARStructureNomCourant>Collège de démonstration</GARStructureNomCourant></GAREtab>\n"
            f"</GAR-ENT-Etab>").encode()


def test_a_wrong_uai_check_letter_is_only_a_warning_by_default(
        sessions: sessionmaker[Session]) -> None:
    uai = _wrong_letter("0650499")
    report = apply(sessions, _etab_with(uai))
    assert report.counts["establishments"]["added"] == 1
    assert any(uai in warning and "ligne 3" in warning for warning in report.warnings)


def test_a_wrong_uai_check_letter_is_refused_in_strict_mode(
        sessions: sessionmaker[Session]) -> None:
    before = snapshot(sessions)
    with pytest.raises(FeedError) as caught:
        apply(sessions, _etab_with(_wrong_letter("0650499")), strict=True)
    assert (caught.value.code, caught.value.line) == ("feed.uai_check_letter", 3)
    assert snapshot(sessions) == before


@pytest.mark.parametrize("prolog", [
    b'<!DOCTYPE GAR-ENT-Eleve [<!ENTITY x "boum">]>\n',
    b'<!DOCTYPE GAR-ENT-Eleve SYSTEM "file:///etc/passwd">\n',
])
def test_a_document_type_declaration_is_refused(
        seeded: sessionmaker[Session], academy: Dataset, prolog: bytes) -> None:
    content = renamed(feed_files(academy)["Eleve"])
    declaration_end = content.index(b"?>") + 3
    bad = content[:declaration_end] + prolog + content[declaration_end:]
    assert refused(seeded, bad, "feed.dtd_forbidden").line == 2


def test_an_entity_reference_is_refused(seeded: sessionmaker[Session], academy: Dataset) -> None:
    content = renamed(feed_files(academy)["Eleve"])
    target = last_eleve(content)
    bad = content.replace(target, target.replace(b"</GARPersonNom>", b"&xxe;</GARPersonNom>"))
    error = refused(seeded, bad, "feed.dtd_forbidden")
    assert error.line == line_of(bad, b"&xxe;")


def test_an_unknown_root_element_is_refused(sessions: sessionmaker[Session]) -> None:
    bad = b'<GAR-ENT-Parent xmlns="http://data.education.fr/ns/gar" Version="1.7"/>'
    assert refused(sessions, bad, "feed.unknown_root").line == 1


def test_a_root_without_version_is_refused(sessions: sessionmaker[Session]) -> None:
    bad = b'<GAR-ENT-Etab xmlns="http://data.education.fr/ns/gar"></GAR-ENT-Etab>'
    assert refused(sessions, bad, "feed.invalid").line == 1


def test_a_membership_of_an_unknown_person_is_refused(
        seeded: sessionmaker[Session], academy: Dataset) -> None:
    content = feed_files(academy)["Groupe"]
    student = next(p for p in academy.persons if p.person_id.startswith("elv")
                   and not p.groups)
    bad = content.replace(f"<GARPersonIdentifiant>{student.person_id}<".encode(),
                          b"<GARPersonIdentifiant>inconnu-42<", 1)
    error = refused(seeded, bad, "feed.unknown_person")
    assert error.line == line_of(bad, b"inconnu-42")
