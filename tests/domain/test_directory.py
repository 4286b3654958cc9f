"""Finding the person an identity provider names, in the two accepted shapes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from broker.directory import educonnect_ref_id, find_person, load_person, parse_educonnect_ref_id
from broker.domain import Authentication
from broker.models import PersonProfile
from services.dataset import COLLEGE_UAI, LYCEE_UAI, Dataset


def _auth(attributes: Mapping[str, Sequence[str]]) -> Authentication:
    return Authentication(issuer="http://127.0.0.1:8001/saml/metadata", protocol="saml",
                          subject="transient-1", attributes=attributes, assertion_id="_a1",
                          session_index=None)


def test_ent_style_finds_the_person_by_ent_and_id(session: Session, academy: Dataset) -> None:
    teacher = academy.person("enseignant")
    found = find_person(session, _auth({"idEnt": [academy.ent_id],
                                        "GARPersonIdentifiant": [teacher.person_id]}))
    assert found is not None
    assert found.person_id == teacher.person_id
    assert found.profiles == {COLLEGE_UAI: "National_ens", LYCEE_UAI: "National_ens"}


def test_ent_style_with_another_ent_finds_no_one(session: Session, academy: Dataset) -> None:
    student = academy.person("eleve.assigne")
    assert find_person(session, _auth({"idEnt": ["ENT-AUTRE"],
                                       "GARPersonIdentifiant": [student.person_id]})) is None


def test_an_unknown_person_id_finds_no_one(session: Session, academy: Dataset) -> None:
    assert find_person(session, _auth({"idEnt": [academy.ent_id],
                                       "GARPersonIdentifiant": ["inconnu"]})) is None


@pytest.mark.parametrize("values", [[], ["a", "b"], [""], ["x" * 65]])
def test_a_person_id_that_is_not_exactly_one_sane_value_finds_no_one(
    session: Session, academy: Dataset, values: list[str]
) -> None:
    assert find_person(session, _auth({"idEnt": [academy.ent_id],
                                       "GARPersonIdentifiant": values})) is None


def test_two_person_ids_are_refused_even_if_one_is_known(
    session: Session, academy: Dataset
) -> None:
    known = academy.person("eleve.assigne").person_id
    assert find_person(session, _auth({"idEnt": [academy.ent_id],
                                       "GARPersonIdentifiant": [known, known]})) is None


def test_educonnect_style_finds_the_person_by_join_key(session: Session, academy: Dataset) -> None:
    student = academy.person("eleve.lycee")
    found = find_person(session, _auth({
        "FrEduCtRefId": ["{ECT}something", educonnect_ref_id(academy.academy, student.join_key)],
        "FrEduCtId": ["ABC"], "FrEduCtOpaqueId": ["x"],
    }))
    assert found is not None and found.person_id == student.person_id


def test_educonnect_join_key_of_another_academy_finds_no_one(
    session: Session, academy: Dataset
) -> None:
    student = academy.person("eleve.lycee")
    ref = educonnect_ref_id("ACA-LILLE", student.join_key)
    assert find_person(session, _auth({"FrEduCtRefId": [ref]})) is None


def test_educonnect_values_naming_two_people_are_ambiguous(
    session: Session, academy: Dataset
) -> None:
    refs = [educonnect_ref_id(academy.academy, academy.person(login).join_key)
            for login in ("eleve.lycee", "eleve.assigne")]
    assert find_person(session, _auth({"FrEduCtRefId": refs})) is None


def test_other_attributes_never_identify_anyone(session: Session, academy: Dataset) -> None:
    student = academy.person("eleve.assigne")
    assert find_person(session, _auth({
        "mail": ["x@example.org"], "nom": [student.last_name], "ine": [student.ine or ""],
        "GARPersonIdentifiant": [student.person_id],
    })) is None


def test_the_ref_id_format_round_trips() -> None:
    value = educonnect_ref_id("ACA-RENNES", "1000001")
    assert value == "{AAF}ACA-RENNES:1000001"
    assert parse_educonnect_ref_id(value) == ("ACA-RENNES", "1000001")


@pytest.mark.parametrize("value", ["ACA-RENNES:1", "{AAF}ACA-RENNES", "{AAF}:1", "{AAF}A:",
                                   "{AAF}A:" + "1" * 65, "{aaf}A:1", "{AAF}A:1\n"])
def test_malformed_ref_ids_are_ignored(value: str) -> None:
    assert parse_educonnect_ref_id(value) is None


def test_the_view_carries_classes_groups_levels_and_subjects_per_establishment(
    session: Session, academy: Dataset
) -> None:
    found = find_person(session, _auth({"idEnt": [academy.ent_id], "GARPersonIdentifiant":
                                        [academy.person("enseignant").person_id]}))
    assert found is not None
    assert found.divisions[COLLEGE_UAI] == (("4A", "4A"), ("4B", "4B"))
    assert found.divisions[LYCEE_UAI] == (("2NDE04", "2NDE04"),)
    assert found.groups[COLLEGE_UAI] == (("LATIN4", "Latin 4e"),)
    assert found.levels == {COLLEGE_UAI: ("2113",), LYCEE_UAI: ("2211",)}
    assert found.emails == ("claire.dubois@ac-rennes.fr",)
    assert load_person(session, found.pk) == found


def test_the_view_never_carries_birth_date_or_ine(session: Session, academy: Dataset) -> None:
    student = academy.person("eleve.assigne")
    found = find_person(session, _auth({"idEnt": [academy.ent_id],
                                        "GARPersonIdentifiant": [student.person_id]}))
    assert found is not None
    assert student.ine is not None and student.ine not in repr(found)
    assert student.birth_date is not None and student.birth_date.isoformat() not in repr(found)


def test_loading_an_unknown_pk_raises(session: Session) -> None:
    with pytest.raises(LookupError):
        load_person(session, 999_999)


def test_an_unknown_profile_in_the_directory_grants_no_establishment(
    session: Session, academy: Dataset
) -> None:
    view = find_person(session, _auth({"idEnt": [academy.ent_id], "GARPersonIdentifiant":
                                       [academy.person("enseignant").person_id]}))
    assert view is not None
    session.execute(update(PersonProfile)
                    .where(PersonProfile.person_pk == view.pk, PersonProfile.uai == LYCEE_UAI)
                    .values(profile="National_inconnu"))
    assert load_person(session, view.pk).profiles == {COLLEGE_UAI: "National_ens"}
