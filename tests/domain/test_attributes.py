"""The attribute catalogue and the profiles (GAR_REFERENCE §4b, §5)."""

from __future__ import annotations

import pytest

from services.attributes import (
    ALLOWED,
    CATALOGUE,
    KNOWN_PROFILES,
    PROFILES,
    audience_of,
    check_declaration,
    normalise_profile,
)


@pytest.mark.parametrize(
    ("given", "canonical"),
    [("NATIONAL_ENS", "National_ens"), ("national_elv", "National_elv"),
     ("National_DOC", "National_doc"), ("National_ens", "National_ens"),
     ("NATIONAL_27", "National_27")],
)
def test_profiles_are_compared_case_insensitively_and_emitted_canonically(
    given: str, canonical: str
) -> None:
    assert normalise_profile(given) == canonical


@pytest.mark.parametrize("value", ["", "National_xyz", "elv", "National_ens; DROP", "N" * 10_000])
def test_unknown_profile_is_refused(value: str) -> None:
    with pytest.raises(ValueError):
        normalise_profile(value)


def test_catalogue_holds_exactly_the_gar_codes() -> None:
    assert set(CATALOGUE) == {"IDO", "UAI", "PRO", "NOM", "PRE", "CIV", "DIV", "GRO",
                              "P_MS4", "P_MEL", "P_MAT", "IDC"}


def test_every_code_has_a_french_label_and_a_description() -> None:
    for code, definition in CATALOGUE.items():
        assert definition.code == code
        assert definition.label and definition.description


def test_students_may_never_release_teacher_data() -> None:
    assert not ALLOWED["National_elv"] & {"P_MEL", "P_MS4", "P_MAT"}


def test_teachers_may_release_every_code() -> None:
    assert ALLOWED["National_ens"] == frozenset(CATALOGUE)


def test_librarians_may_release_everything_but_levels() -> None:
    assert ALLOWED["National_doc"] == frozenset(CATALOGUE) - {"P_MS4"}


def test_every_known_profile_has_an_allowance_inside_the_catalogue() -> None:
    for profile in KNOWN_PROFILES:
        assert ALLOWED[profile] <= frozenset(CATALOGUE)


def test_feed_profiles_map_to_their_audience_and_others_to_other_staff() -> None:
    assert [audience_of(p) for p in PROFILES] == ["ELEVE", "ENSEIGNANT", "DOCUMENTALISTE"]
    assert audience_of("National_dir") == "AUTRE PERSONNEL"
    assert audience_of("NATIONAL_EVS") == "AUTRE PERSONNEL"


def test_a_sound_declaration_has_no_problem() -> None:
    assert check_declaration(["IDO", "UAI", "PRO", "DIV"]) == []


@pytest.mark.parametrize("code", ["INE", "DATE_NAISSANCE", "ido", "ADRESSE", ""])
def test_a_code_outside_the_catalogue_is_a_problem(code: str) -> None:
    problems = check_declaration(["IDO", code])
    assert len(problems) == 1
    assert "inconnu" in problems[0]


def test_a_code_declared_twice_is_a_problem() -> None:
    assert len(check_declaration(["IDO", "IDO"])) == 1


def test_a_code_no_profile_of_the_audience_may_release_is_a_problem() -> None:
    problems = check_declaration(["IDO", "P_MEL"], profiles=["National_elv"])
    assert len(problems) == 1
    assert "P_MEL" in problems[0]


def test_a_code_one_profile_of_the_audience_may_release_is_accepted() -> None:
    assert check_declaration(["P_MEL"], profiles=["National_elv", "National_ens"]) == []
