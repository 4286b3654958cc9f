"""The release policy: declared ∩ allowed ∩ present, values scoped, IDO pseudonymous."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from sqlalchemy.orm import Session

from broker.access import decide
from broker.domain import Grant, PersonView
from broker.release import declared_attributes, ido, release
from services.attributes import CATALOGUE
from services.dataset import COLLEGE_UAI, LYCEE_UAI, Dataset
from tests.domain.conftest import TODAY, person_view

SECRET = b"s" * 32
EVERYTHING = [*CATALOGUE, "INE", "DATE_NAISSANCE", "ADRESSE", "mail"]
MOCK = "http://127.0.0.1:8002/saml/metadata"
OTHER = "https://editions-exemple.invalid/saml/metadata"


def _grant(person: PersonView, uais: tuple[str, ...], provider: str = MOCK,
           resource_id: str = "ark:/99999/r10001") -> Grant:
    return Grant(resource_id=resource_id, provider_entity_id=provider, uais=uais,
                 profile=person.profiles[uais[0]], subscription_ids=("S",), assignment_ids=(),
                 basis="ETABL")


def _all(session: Session, academy: Dataset, login: str, *uais: str) -> dict[str, tuple[str, ...]]:
    person = person_view(session, login, academy)
    scope = uais or person.establishments
    return dict(release(person, _grant(person, scope), EVERYTHING, ido_secret=SECRET).attributes)


def test_a_student_releases_exactly_the_student_codes(session: Session, academy: Dataset) -> None:
    assert set(_all(session, academy, "eleve.assigne")) == {
        "IDO", "UAI", "PRO", "NOM", "PRE", "CIV", "DIV", "GRO", "IDC"}


def test_a_student_never_releases_an_email_even_if_declared(
    session: Session, academy: Dataset
) -> None:
    released = _all(session, academy, "eleve.assigne")
    assert not {"P_MEL", "P_MS4", "P_MAT"} & set(released)


def test_a_teacher_releases_every_code(session: Session, academy: Dataset) -> None:
    assert set(_all(session, academy, "enseignant", COLLEGE_UAI)) == set(CATALOGUE)


def test_a_librarian_releases_everything_she_has_but_levels(
    session: Session, academy: Dataset
) -> None:
    # She has no class nor group: absent values are not released either.
    assert set(_all(session, academy, "documentaliste")) == {
        "IDO", "UAI", "PRO", "NOM", "PRE", "CIV", "P_MEL", "P_MAT", "IDC"}


def test_only_declared_codes_are_released(session: Session, academy: Dataset) -> None:
    person = person_view(session, "enseignant", academy)
    released = release(person, _grant(person, (COLLEGE_UAI,)), ["IDO", "UAI"],
                       ido_secret=SECRET)
    assert set(released.attributes) == {"IDO", "UAI"}


def test_nothing_declared_releases_nothing(session: Session, academy: Dataset) -> None:
    person = person_view(session, "enseignant", academy)
    assert release(person, _grant(person, (COLLEGE_UAI,)), [], ido_secret=SECRET).attributes == {}


@pytest.mark.parametrize("login", ["eleve.assigne", "eleve.lycee", "enseignant"])
def test_birth_date_and_ine_are_never_released(
    session: Session, academy: Dataset, login: str
) -> None:
    source = academy.person(login)
    values = [v for vs in _all(session, academy, login).values() for v in vs]
    forbidden = [x for x in (source.ine, source.birth_date and source.birth_date.isoformat(),
                             source.birth_date and source.birth_date.strftime("%d/%m/%Y")) if x]
    assert forbidden
    assert not any(f in v for f in forbidden for v in values)


def test_classes_and_groups_are_scoped_to_the_establishment_of_the_access(
    session: Session, academy: Dataset
) -> None:
    college = _all(session, academy, "enseignant", COLLEGE_UAI)
    lycee = _all(session, academy, "enseignant", LYCEE_UAI)
    assert college["DIV"] == ("4A##4A", "4B##4B")
    assert college["GRO"] == ("LATIN4##Latin 4e",)
    assert college["UAI"] == (COLLEGE_UAI,) and college["P_MS4"] == ("2113",)
    assert lycee["DIV"] == ("2NDE04##2NDE04",)
    assert "GRO" not in lycee
    assert lycee["UAI"] == (LYCEE_UAI,) and lycee["P_MS4"] == ("2211",)


def test_an_access_in_two_establishments_releases_both(session: Session, academy: Dataset) -> None:
    both = _all(session, academy, "enseignant", COLLEGE_UAI, LYCEE_UAI)
    assert both["UAI"] == (COLLEGE_UAI, LYCEE_UAI)
    assert both["DIV"] == ("4A##4A", "4B##4B", "2NDE04##2NDE04")


def test_profile_and_names_come_from_the_directory(session: Session, academy: Dataset) -> None:
    released = _all(session, academy, "eleve.assigne")
    assert released["PRO"] == ("National_elv",)
    assert (released["NOM"], released["PRE"], released["CIV"]) == (("Martin",), ("Léa",), ("Mme",))


def test_ido_is_128_hex_characters_and_stable(session: Session, academy: Dataset) -> None:
    first = _all(session, academy, "eleve.assigne")["IDO"]
    again = _all(session, academy, "eleve.assigne")["IDO"]
    assert re.fullmatch(r"[0-9a-f]{128}", first[0])
    assert first == again


def test_ido_differs_between_providers(session: Session, academy: Dataset) -> None:
    person = person_view(session, "eleve.assigne", academy)
    mine = release(person, _grant(person, (COLLEGE_UAI,), MOCK), ["IDO"], ido_secret=SECRET)
    theirs = release(person, _grant(person, (COLLEGE_UAI,), OTHER), ["IDO"], ido_secret=SECRET)
    assert mine.attributes["IDO"] != theirs.attributes["IDO"]


def test_ido_is_the_same_for_every_provider_with_the_global_scope(
    session: Session, academy: Dataset
) -> None:
    person = person_view(session, "eleve.assigne", academy)
    mine = release(person, _grant(person, (COLLEGE_UAI,), MOCK), ["IDO"], ido_secret=SECRET,
                   ido_scope="global")
    theirs = release(person, _grant(person, (COLLEGE_UAI,), OTHER), ["IDO"], ido_secret=SECRET,
                     ido_scope="global")
    assert mine.attributes["IDO"] == theirs.attributes["IDO"]


def test_ido_differs_between_people_and_secrets() -> None:
    one = ido(SECRET, "ENT", "a", MOCK)
    assert one != ido(SECRET, "ENT", "b", MOCK)
    assert one != ido(b"t" * 32, "ENT", "a", MOCK)
    assert ido(SECRET, "EN", "Ta", MOCK) != ido(SECRET, "ENT", "a", MOCK)


def test_an_unknown_ido_scope_is_refused(session: Session, academy: Dataset) -> None:
    person = person_view(session, "eleve.assigne", academy)
    with pytest.raises(ValueError):
        release(person, _grant(person, (COLLEGE_UAI,)), ["IDO"], ido_secret=SECRET,
                ido_scope="tout")


def test_idc_is_the_resource_id_and_the_ido(session: Session, academy: Dataset) -> None:
    released = _all(session, academy, "eleve.assigne")
    assert released["IDC"] == (f"ark:/99999/r10001_{released['IDO'][0]}",)


def test_the_granted_profile_decides_not_another_one(session: Session, academy: Dataset) -> None:
    person = person_view(session, "enseignant", academy)
    as_student = replace(_grant(person, (COLLEGE_UAI,)), profile="National_elv")
    released = release(person, as_student, EVERYTHING, ido_secret=SECRET)
    assert "P_MEL" not in released.attributes
    assert released.attributes["PRO"] == ("National_elv",)


def test_declared_attributes_are_read_from_the_catalogue_record(
    session: Session, academy: Dataset
) -> None:
    maths = academy.resource("manuel-maths-4e")
    assert sorted(declared_attributes(session, maths.id)) == sorted(
        a.code for a in maths.attributes)
    assert declared_attributes(session, "ark:/99999/inconnue") == []


def test_the_textbook_releases_to_the_student_what_it_declared_and_no_more(
    session: Session, academy: Dataset
) -> None:
    person = person_view(session, "eleve.assigne", academy)
    maths = academy.resource("manuel-maths-4e").id
    grant = decide(session, person, maths, today=TODAY)
    assert isinstance(grant, Grant)
    released = release(person, grant, declared_attributes(session, maths), ido_secret=SECRET)
    assert released.attributes["DIV"] == ("4A##4A",)
    assert set(released.attributes) == {"IDO", "UAI", "PRO", "DIV", "GRO", "NOM", "PRE"}
