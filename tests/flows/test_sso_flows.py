"""Single sign-on through the broker, end to end, through the three real apps.

A person opens a resource on the provider mock, is sent through the broker to the identity
provider mock, logs in as a persona, and the provider receives exactly the attributes the
release policy allows: declared by the resource, allowed for the profile, present, scoped to
the establishment of the access. No more.
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import create_engine, text

from broker.mediacentre import entry_query
from services.settings import Settings
from tests.flows.harness import error_code, log_in, received_attributes, verdict, walk

pytestmark = pytest.mark.anyio

COLLEGE, LYCEE = "0359901X", "0359902Y"
MATHS, TEACHERS_ONLY, DICTIONARY = "manuel-maths-4e", "ressource-enseignants", "dictionnaire"


async def _open_as(
    browser: httpx.AsyncClient, settings: Settings, slug: str, persona: str, **login: object
) -> httpx.Response:
    start = await browser.get(f"{settings.provider_base}/resource/{slug}")
    login_page = await walk(browser, start)
    return await walk(browser, await log_in(browser, login_page, persona, **login))  # type: ignore[arg-type]


async def _received(browser: httpx.AsyncClient, settings: Settings, slug: str, persona: str,
                    **login: object) -> dict[str, list[str]]:
    page = await _open_as(browser, settings, slug, persona, **login)
    assert verdict(page) == "ok", page.text
    assert str(page.url).startswith(settings.provider_base)
    return received_attributes(page)


async def test_student_receives_exactly_the_declared_attributes_scoped_to_the_school(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    got = await _received(browser, testbed_settings, MATHS, "eleve.assigne")
    assert set(got) == {"IDO", "UAI", "PRO", "DIV", "GRO", "NOM", "PRE"}
    assert got["UAI"] == [COLLEGE]
    assert got["PRO"] == ["National_elv"]
    assert got["DIV"] == ["4A##4A"]
    assert got["GRO"] == ["LATIN4##Latin 4e"]
    assert len(got["IDO"][0]) == 128 and int(got["IDO"][0], 16) >= 0


async def test_teacher_in_two_schools_receives_only_the_subscribing_schools_classes(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    got = await _received(browser, testbed_settings, MATHS, "enseignant")
    assert set(got) == {"IDO", "UAI", "PRO", "DIV", "GRO", "NOM", "PRE"}
    assert got["UAI"] == [COLLEGE]
    assert got["PRO"] == ["National_ens"]
    assert sorted(got["DIV"]) == ["4A##4A", "4B##4B"]  # not the lycée's 2NDE04


async def test_teacher_receives_professional_attributes_a_teachers_resource_declares(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    got = await _received(browser, testbed_settings, TEACHERS_ONLY, "enseignant")
    assert set(got) == {"IDO", "UAI", "PRO", "P_MEL", "P_MAT", "P_MS4", "NOM", "PRE", "CIV"}
    assert got["P_MEL"] == ["claire.dubois@ac-rennes.fr"]
    assert got["P_MS4"] == ["2113"]


async def test_librarian_never_receives_teaching_levels(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    got = await _received(browser, testbed_settings, TEACHERS_ONLY, "documentaliste")
    assert set(got) == {"IDO", "UAI", "PRO", "P_MEL", "P_MAT", "NOM", "PRE", "CIV"}
    assert got["PRO"] == ["National_doc"]


async def test_establishment_wide_subscription_needs_no_assignment(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    got = await _received(browser, testbed_settings, DICTIONARY, "eleve.lycee")
    assert got["UAI"] == [LYCEE]


async def test_talkative_identity_provider_data_is_never_passed_on(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    quiet = await _received(browser, testbed_settings, MATHS, "eleve.assigne")
    talkative = await _received(browser, testbed_settings, MATHS, "eleve.assigne", talkative=True)
    assert set(talkative) == set(quiet)
    assert talkative == quiet  # same IDO too: it comes from the directory, not the assertion


async def test_educonnect_shaped_login_reaches_the_same_person(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    ent = await _received(browser, testbed_settings, MATHS, "eleve.assigne")
    educonnect = await _received(browser, testbed_settings, MATHS, "eleve.assigne",
                                 shape="educonnect")
    assert educonnect == ent


@pytest.mark.parametrize(("slug", "persona", "code"), [
    (MATHS, "eleve.sans.licence", "access.no_assignment"),
    ("ressource-expiree", "eleve.assigne", "access.subscription_expired"),
    (TEACHERS_ONLY, "eleve.assigne", "access.profile_not_in_audience"),
])
async def test_refused_access_ends_on_the_brokers_page_and_the_provider_gets_nothing(
    browser: httpx.AsyncClient, testbed_settings: Settings, slug: str, persona: str, code: str
) -> None:
    page = await _open_as(browser, testbed_settings, slug, persona)
    assert page.status_code == 403
    assert str(page.url).startswith(testbed_settings.broker_base)
    assert error_code(page) == code
    assert "saml-post" not in page.text


async def test_refusal_and_grant_each_write_one_audit_record_without_values(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    await _received(browser, testbed_settings, MATHS, "eleve.assigne")
    await _open_as(browser, testbed_settings, MATHS, "eleve.sans.licence")
    engine = create_engine(testbed_settings.sqlalchemy_url.replace(
        "postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT decision, code, released_codes, values_digest FROM audit_records ORDER BY id"
        )).all()
        dump = " ".join(str(r) for r in connection.execute(text("SELECT * FROM audit_records")))
    engine.dispose()
    assert [r.decision for r in rows] == ["granted", "refused"]
    assert rows[1].code == "access.no_assignment"
    assert "4A##4A" not in dump and "LATIN4" not in dump  # codes and a digest, never values


async def test_ido_is_stable_for_a_person_and_provider(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    first = await _received(browser, testbed_settings, MATHS, "eleve.assigne")
    second = await _received(browser, testbed_settings, DICTIONARY, "eleve.assigne")
    other = await _received(browser, testbed_settings, DICTIONARY, "eleve.sans.licence")
    assert first["IDO"] == second["IDO"]
    assert other["IDO"] != first["IDO"]


async def test_mediacentre_entry_opens_the_resource_with_an_unsolicited_assertion(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    query = entry_query("ENT-TESTBED", COLLEGE, "ark:/99999/r10001")
    start = await browser.get(f"{testbed_settings.broker_base}/domaineGar?{query}")
    login_page = await walk(browser, start)
    page = await walk(browser, await log_in(browser, login_page, "eleve.assigne"))
    assert verdict(page) == "ok", page.text
    assert received_attributes(page)["UAI"] == [COLLEGE]
    assert f"{testbed_settings.provider_base}/resource/{MATHS}" in page.text


async def test_mediacentre_entry_in_another_school_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    query = entry_query("ENT-TESTBED", LYCEE, "ark:/99999/r10001")
    start = await browser.get(f"{testbed_settings.broker_base}/domaineGar?{query}")
    login_page = await walk(browser, start)
    page = await walk(browser, await log_in(browser, login_page, "eleve.assigne"))
    assert page.status_code == 403
    assert error_code(page) == "access.not_in_establishment"


@pytest.mark.parametrize("query", [
    "idENT=RU5U&idEtab=%%%&idSrc=YXJr",
    "idEtab=MDM1OTkwMVg%3D&idSrc=YXJr",
    "",
])
async def test_malformed_mediacentre_entry_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings, query: str
) -> None:
    page = await browser.get(f"{testbed_settings.broker_base}/domaineGar?{query}")
    assert page.status_code == 400
    assert error_code(page) == "mediacentre.bad_request"


async def test_mediacentre_entry_for_an_unknown_resource_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    query = entry_query("ENT-TESTBED", COLLEGE, "ark:/99999/nope")
    page = await browser.get(f"{testbed_settings.broker_base}/domaineGar?{query}")
    assert page.status_code == 404
    assert error_code(page) == "sso.unknown_resource"
