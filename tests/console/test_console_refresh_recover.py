"""The console's person search, the extension of an assignment to newcomers, and the recovery
of the licences of people who left, driven as pages with the session's CSRF token."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import lxml.html
import pytest
from sqlalchemy import create_engine, delete, func, select
from sqlalchemy.orm import Session

from broker.console_data import PERSON_RESULTS
from broker.db import normalise_url
from broker.models import Group, GroupMember, LicenceAllocation, Person, PersonProfile
from services.settings import Settings
from tests.console.conftest import csrf_of
from tests.flows.harness import error_code, walk

pytestmark = pytest.mark.anyio

COLLEGE, LYCEE = "0359901X", "0359902Y"
MATHS = f"ABO-MANUEL-MATHS-4E-{COLLEGE}"  # assigned to 4A in the synthetic academy


def _page_url(settings: Settings, query: str = "") -> str:
    base = (f"{settings.broker_base}/console/etablissements/{COLLEGE}/abonnements/"
            f"{quote(MATHS, safe='')}")
    return f"{base}?q={quote(query)}" if query else base


def _db(settings: Settings) -> Session:
    return Session(create_engine(normalise_url(settings.sqlalchemy_url)))


def _used_pupils(page: httpx.Response) -> int:
    row = lxml.html.fromstring(page.text).xpath(
        '//table[@id="counters"]//tr[@data-audience="ELEVE"]')[0]
    return int(row.xpath(".//@data-used")[0])


def _locked(page: httpx.Response) -> int:
    return int(lxml.html.fromstring(page.text).xpath('//p[@id="locked"]/@data-locked')[0])


def _options(page: httpx.Response) -> list[str]:
    return [str(v) for v in lxml.html.fromstring(page.text).xpath(
        '//select[@id="target-person"]/option/@value')]


def _assignment_of(page: httpx.Response, kind: str, value: str) -> str:
    row = lxml.html.fromstring(page.text).xpath(
        f'//table[@id="assignments"]//tr[@data-kind="{kind}"][@data-value="{value}"]')[0]
    return str(row.get("data-assignment"))


def _add_pupils(settings: Settings, count: int, last_name: str, division: str = "4A") -> None:
    with _db(settings) as session:
        group_id = session.scalar(select(Group.id).where(Group.uai == COLLEGE,
                                                         Group.code == division))
        for n in range(count):
            person = Person(person_id=f"nouveau-{last_name}-{n}", ent_id="ENT-TESTBED",
                            last_name=last_name, first_name=f"Prénom{n}", emails=[])
            session.add(person)
            session.flush()
            session.add(PersonProfile(person_pk=person.id, uai=COLLEGE, profile="National_elv"))
            session.add(GroupMember(group_id=group_id, person_pk=person.id))
        session.commit()
        session.get_bind().dispose()  # type: ignore[union-attr]


async def test_the_person_picker_lists_nobody_until_a_name_is_searched(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    page = await browser.get(_page_url(testbed_settings))
    assert page.status_code == 200
    assert _options(page) == [] and 'id="search-person"' in page.text


async def test_a_name_search_offers_the_matching_people_of_the_establishment(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    page = await browser.get(_page_url(testbed_settings, "martin"))
    with _db(testbed_settings) as session:
        expected = set(session.scalars(
            select(Person.person_id).join(PersonProfile, PersonProfile.person_pk == Person.id)
            .where(PersonProfile.uai == COLLEGE, func.lower(Person.last_name) == "martin")))
    assert expected and expected <= set(_options(page))


async def test_a_search_answers_a_bounded_list_and_says_there_were_more(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    _add_pupils(testbed_settings, PERSON_RESULTS + 5, "Homonyme")
    page = await browser.get(_page_url(testbed_settings, "homonyme"))
    assert len(_options(page)) == PERSON_RESULTS
    result = lxml.html.fromstring(page.text).xpath('//p[@id="search-result"]')[0]
    assert result.get("data-truncated") == "oui"


async def test_a_one_character_search_is_refused_politely(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    page = await browser.get(_page_url(testbed_settings, "a"))
    assert page.status_code == 200 and _options(page) == []
    assert "entre 2 et 100 caractères" in page.text


async def test_a_search_with_like_wildcards_matches_them_literally(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    page = await browser.get(_page_url(testbed_settings, "%_"))
    assert _options(page) == []


async def test_extending_an_assignment_gives_a_licence_to_a_pupil_who_joined_the_class(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    before = await browser.get(_page_url(testbed_settings))
    _add_pupils(testbed_settings, 1, "Arrivant")
    used = _used_pupils(before)
    answer = await browser.post(
        f"{testbed_settings.broker_base}/console/etablissements/{COLLEGE}/affectations/"
        f"{_assignment_of(before, 'division', '4A')}/actualisation",
        data={"csrf_token": csrf_of(before)})
    assert answer.status_code == 303
    after = await walk(browser, answer)
    assert 'id="done"' in after.text and _used_pupils(after) == used + 1


async def test_recovering_takes_back_the_licence_of_a_pupil_who_left(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    with _db(testbed_settings) as session:
        holder = session.scalars(select(LicenceAllocation.person_pk).where(
            LicenceAllocation.subscription_id == MATHS,
            LicenceAllocation.released_at.is_(None))).first()
        session.execute(delete(PersonProfile).where(PersonProfile.person_pk == holder,
                                                    PersonProfile.uai == COLLEGE))
        session.commit()
        session.get_bind().dispose()  # type: ignore[union-attr]
    before = await browser.get(_page_url(testbed_settings))
    assert _locked(before) == 1
    answer = await browser.post(
        f"{testbed_settings.broker_base}/console/etablissements/{COLLEGE}/recuperations",
        data={"csrf_token": csrf_of(before), "subscription_id": MATHS})
    assert answer.status_code == 303
    after = await walk(browser, answer)
    assert _locked(after) == 0 and _used_pupils(after) == _used_pupils(before) - 1


async def test_recovering_without_the_csrf_token_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    answer = await browser.post(
        f"{testbed_settings.broker_base}/console/etablissements/{COLLEGE}/recuperations",
        data={"csrf_token": "not-the-token", "subscription_id": MATHS})
    assert answer.status_code == 403 and error_code(answer) == "console.csrf"


async def test_recovering_in_another_establishment_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    answer = await browser.post(
        f"{testbed_settings.broker_base}/console/etablissements/{LYCEE}/recuperations",
        data={"csrf_token": csrf_of(head), "subscription_id": f"ABO-DICTIONNAIRE-{LYCEE}"})
    assert answer.status_code == 403


async def test_extending_an_unknown_assignment_answers_404(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    answer = await browser.post(
        f"{testbed_settings.broker_base}/console/etablissements/{COLLEGE}/affectations/"
        "999999/actualisation", data={"csrf_token": csrf_of(head)})
    assert answer.status_code == 404 and error_code(answer) == "console.assignment_unknown"


async def test_the_api_extends_an_assignment_and_says_how_many_licences_it_gave(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    page = await browser.get(_page_url(testbed_settings))
    _add_pupils(testbed_settings, 2, "Arrivant")
    session = await browser.get(f"{testbed_settings.broker_base}/console/api/session")
    answer = await browser.post(
        f"{testbed_settings.broker_base}/console/api/etablissements/{COLLEGE}/affectations/"
        f"{_assignment_of(page, 'division', '4A')}/actualisation",
        headers={"X-CSRF-Token": session.json()["csrf_token"]})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"subscription_id": MATHS, "licences_given": 2}


async def test_the_api_recovers_nothing_when_nobody_left(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    session = await browser.get(f"{testbed_settings.broker_base}/console/api/session")
    answer = await browser.post(
        f"{testbed_settings.broker_base}/console/api/etablissements/{COLLEGE}/recuperations",
        json={"subscription_id": MATHS}, headers={"X-CSRF-Token": session.json()["csrf_token"]})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"subscription_id": MATHS, "licences_recovered": 0}
