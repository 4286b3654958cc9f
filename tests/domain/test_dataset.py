"""The synthetic academy: deterministic, valid, and holding the personas the tests use."""

from __future__ import annotations

from datetime import date

from services.attributes import CATALOGUE, PROFILES
from services.dataset import Dataset, Person, build
from services.uai import is_valid_uai
from tests.domain.conftest import PROVIDER_BASE, TODAY

PERSONAS = ("eleve.assigne", "eleve.sans.licence", "enseignant", "documentaliste",
            "chef.etablissement", "eleve.lycee")


def test_two_builds_are_identical() -> None:
    assert build(provider_base=PROVIDER_BASE, today=TODAY) == build(
        provider_base=PROVIDER_BASE, today=TODAY)


def test_another_seed_changes_only_the_extra_people() -> None:
    first = build(provider_base=PROVIDER_BASE, seed=0, today=TODAY)
    other = build(provider_base=PROVIDER_BASE, seed=1, today=TODAY)
    assert [p.person_id for p in first.persons] == [p.person_id for p in other.persons]
    assert first.person("enseignant") == other.person("enseignant")
    assert first.persons != other.persons


def test_every_uai_is_valid(academy: Dataset) -> None:
    uais = {e.uai for e in academy.establishments}
    uais |= {g.uai for g in academy.groups} | {s.uai for s in academy.subscriptions}
    uais |= {uai for p in academy.persons for uai, _ in p.profiles}
    assert len({e.uai for e in academy.establishments}) == 3
    assert all(is_valid_uai(uai) for uai in uais)


def test_establishments_are_a_college_a_lycee_and_a_school(academy: Dataset) -> None:
    assert sorted(e.kind for e in academy.establishments) == ["college", "ecole", "lycee"]


def test_the_personas_exist_with_a_label(academy: Dataset) -> None:
    for login in PERSONAS:
        assert academy.person(login).persona
    assert len(academy.persons) >= 20


def test_logins_person_ids_and_join_keys_are_unique(academy: Dataset) -> None:
    for attribute in ("login", "person_id", "join_key"):
        values = [getattr(p, attribute) for p in academy.persons]
        assert len(values) == len(set(values)), attribute
    assert all(len(p.person_id) <= 64 for p in academy.persons)


def test_only_students_have_an_ine_and_only_staff_an_email(academy: Dataset) -> None:
    for person in academy.persons:
        student = {profile for _, profile in person.profiles} == {"National_elv"}
        assert (person.ine is not None) == student
        assert bool(person.emails) == (not student)


def test_profiles_are_the_feed_ones(academy: Dataset) -> None:
    assert {profile for p in academy.persons for _, profile in p.profiles} <= set(PROFILES)


def test_the_teacher_works_in_two_establishments(academy: Dataset) -> None:
    teacher = academy.person("enseignant")
    assert len({uai for uai, _ in teacher.profiles}) == 2
    assert teacher.emails and teacher.levels and teacher.disciplines


def test_the_head_of_establishment_is_an_assignment_officer(academy: Dataset) -> None:
    head = academy.person("chef.etablissement")
    assert head.respaff == (head.establishments[0],)


def test_divisions_and_groups_refer_to_known_groups(academy: Dataset) -> None:
    known = {(g.uai, g.code, g.label, g.status) for g in academy.groups}
    for person in academy.persons:
        for uai, code, label in person.divisions:
            assert (uai, code, label, "DIVISION") in known
        for uai, code, label in person.groups:
            assert (uai, code, label, "GROUPE") in known


def test_mef_codes_have_eleven_characters_and_levels_four(academy: Dataset) -> None:
    assert all(len(m.code) == 11 and len(m.mefstat4) == 4 for m in academy.mefs)


def test_provider_mock_entity_id_and_resource_urls_follow_its_base(academy: Dataset) -> None:
    mock = next(p for p in academy.providers if p.id == "provider-mock")
    assert mock.entity_id == f"{PROVIDER_BASE}/saml/metadata"
    for resource in academy.resources:
        if resource.provider_id == "provider-mock":  # its SAML side, or its CAS publisher side
            side = "cas" if resource.protocol == "cas" else "resource"
            assert resource.access_url == f"{PROVIDER_BASE}/{side}/{resource.slug}"


def test_resources_declare_only_catalogue_codes_with_a_purpose(academy: Dataset) -> None:
    for resource in academy.resources:
        assert resource.id.startswith("ark:/99999/r")
        for attribute in resource.attributes:
            assert attribute.code in CATALOGUE and attribute.purpose


def test_subscription_ids_fit_the_gar_rules(academy: Dataset) -> None:
    for subscription in academy.subscriptions:
        assert len(subscription.id) <= 45
        assert " " not in subscription.id and not subscription.id.startswith("_")


def test_the_expired_subscription_ended_yesterday_and_the_others_hold_today(
    academy: Dataset,
) -> None:
    expired_id = academy.resource("ressource-expiree").id
    for subscription in academy.subscriptions:
        if subscription.resource_id == expired_id:
            assert subscription.end.date() < TODAY
        else:
            assert subscription.start.date() <= TODAY <= subscription.end.date()


def test_validity_spans_the_school_years_around_today() -> None:
    data = build(provider_base=PROVIDER_BASE, today=date(2026, 11, 23))
    maths = next(s for s in data.subscriptions if s.type == "INDIV")
    assert maths.start.date() == date(2025, 9, 1)
    assert maths.end.date() == date(2027, 8, 31)


def _teachers_by_college(data: Dataset, fixed: set[str]) -> dict[str, list[Person]]:
    colleges = [e.uai for e in data.establishments if e.uai not in fixed]
    return {uai: [p for p in data.persons if (uai, "National_ens") in p.profiles]
            for uai in colleges}


def test_extra_colleges_get_the_teachers_asked_for_each_with_a_class_there() -> None:
    fixed = {e.uai for e in build(provider_base=PROVIDER_BASE, today=TODAY).establishments}
    data = build(provider_base=PROVIDER_BASE, today=TODAY, establishments=2,
                 students_per_establishment=60, teachers_per_establishment=7)
    by_college = _teachers_by_college(data, fixed)
    assert [len(teachers) for teachers in by_college.values()] == [7, 7]
    for uai, teachers in by_college.items():
        classes = {g.code for g in data.groups if g.uai == uai and g.status == "DIVISION"}
        assert all({code for u, code, _ in t.divisions if u == uai} <= classes and t.divisions
                   for t in teachers)
        assert {code for t in teachers for _, code, _ in t.divisions} == classes  # all taught
        assert [t.respaff for t in teachers].count((uai,)) == 1  # one assignment officer


def test_by_default_an_extra_college_has_one_teacher_per_two_classes() -> None:
    fixed = {e.uai for e in build(provider_base=PROVIDER_BASE, today=TODAY).establishments}
    data = build(provider_base=PROVIDER_BASE, today=TODAY, establishments=1,
                 students_per_establishment=60)  # 3 classes of at most 25
    assert [len(t) for t in _teachers_by_college(data, fixed).values()] == [2]
