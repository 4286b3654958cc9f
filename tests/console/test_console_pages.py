"""The console's pages: an officer assigns, withdraws and delegates, and nothing more.

Driven through the in-process testbed as a person would: forms posted with the session's CSRF
token, POST-redirect-GET, and the effect checked on the page and on access to the resource.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx
import lxml.html
import pytest
from sqlalchemy import create_engine, func, select

from broker.db import normalise_url
from broker.models import Assignment, RespAff
from services.settings import Settings
from tests.console.conftest import HEAD, csrf_of, sign_in
from tests.flows.harness import error_code, log_in, verdict, walk

pytestmark = pytest.mark.anyio

COLLEGE, LYCEE = "0359901X", "0359902Y"
MATHS = f"ABO-MANUEL-MATHS-4E-{COLLEGE}"
DICTIONARY = f"ABO-DICTIONNAIRE-{COLLEGE}"
LYCEE_DICTIONARY = f"ABO-DICTIONNAIRE-{LYCEE}"


def _url(settings: Settings, path: str) -> str:
    return f"{settings.broker_base}/console/etablissements/{path}"


def _subscription_page(settings: Settings, subscription_id: str, uai: str = COLLEGE) -> str:
    return _url(settings, f"{uai}/abonnements/{quote(subscription_id, safe='')}")


def _counter(page: httpx.Response, audience: str) -> tuple[int, int]:
    """(used, left) of an audience in the subscription page's counters table."""
    row = lxml.html.fromstring(page.text).xpath(
        f'//table[@id="counters"]//tr[@data-audience="{audience}"]')[0]
    return int(row.xpath(".//@data-used")[0]), int(row.xpath(".//@data-left")[0])


def _assigned(page: httpx.Response) -> list[tuple[str, str]]:
    rows = lxml.html.fromstring(page.text).xpath('//table[@id="assignments"]//tr[@data-kind]')
    return [(row.get("data-kind"), row.get("data-value")) for row in rows]


def _count(settings: Settings, model: type[Assignment] | type[RespAff]) -> int:
    engine = create_engine(normalise_url(settings.sqlalchemy_url))
    with engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(model)).scalar_one()
    engine.dispose()
    return int(count)


async def _assign(browser: httpx.AsyncClient, settings: Settings, csrf: str, kind: str,
                  value: str, subscription_id: str = MATHS, uai: str = COLLEGE
                  ) -> httpx.Response:
    return await browser.post(_url(settings, f"{uai}/affectations"), data={
        "csrf_token": csrf, "subscription_id": subscription_id, "target_kind": kind,
        "target_value": value})


async def test_the_dashboard_lists_subscriptions_with_licences_used_and_left(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    page = await browser.get(_url(testbed_settings, COLLEGE))
    assert page.status_code == 200
    document = lxml.html.fromstring(page.text)
    assert document.xpath('//table[@id="subscriptions"]/caption')
    maths = document.xpath(f'//tr[@data-subscription="{MATHS}"]')[0]
    pupils = maths.xpath('.//li[@data-audience="ELEVE"]')[0]
    used, left = int(pupils.xpath(".//@data-used")[0]), int(pupils.xpath(".//@data-left")[0])
    assert used > 0 and used + left == 30  # 30 pupils' licences, the 4A pupils hold some
    dictionary = document.xpath(f'//tr[@data-subscription="{DICTIONARY}"]')[0]
    assert "Aucune affectation nécessaire" in dictionary.text_content()


async def test_assigning_the_maths_textbook_to_4b_lets_its_pupil_in(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    before = await browser.get(_subscription_page(testbed_settings, MATHS))
    used, left = _counter(before, "ELEVE")
    answer = await _assign(browser, testbed_settings, csrf_of(before), "division", "4B")
    assert answer.status_code == 303
    after = await walk(browser, answer)
    assert ("division", "4B") in _assigned(after)
    assert 'id="done"' in after.text
    new_used, new_left = _counter(after, "ELEVE")
    assert new_used > used and new_used - used == left - new_left

    start = await browser.get(f"{testbed_settings.provider_base}/resource/manuel-maths-4e")
    login_page = await walk(browser, start)
    resource = await walk(browser, await log_in(browser, login_page, "eleve.sans.licence"))
    assert verdict(resource) == "ok", resource.text[:500]


async def test_withdrawing_an_assignment_gives_transferable_licences_back(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    before = await browser.get(_subscription_page(testbed_settings, MATHS))
    used, left = _counter(before, "ELEVE")
    after_assign = await walk(browser, await _assign(
        browser, testbed_settings, csrf_of(before), "division", "4B"))
    row = lxml.html.fromstring(after_assign.text).xpath(
        '//table[@id="assignments"]//tr[@data-value="4B"]')[0]
    withdraw = await browser.post(
        _url(testbed_settings, f"{COLLEGE}/affectations/{row.get('data-assignment')}/retrait"),
        data={"csrf_token": csrf_of(after_assign)})
    assert withdraw.status_code == 303
    after = await walk(browser, withdraw)
    assert ("division", "4B") not in _assigned(after)
    assert _counter(after, "ELEVE") == (used, left)


async def test_a_group_assignment_covers_the_groups_pupils_and_not_its_classes(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    page = await browser.get(_subscription_page(testbed_settings, MATHS))
    row_4a = lxml.html.fromstring(page.text).xpath(
        '//table[@id="assignments"]//tr[@data-kind="division"][@data-value="4A"]')[0]
    withdrawn = await walk(browser, await browser.post(  # the Latin pupil of 4A loses hers
        _url(testbed_settings, f"{COLLEGE}/affectations/{row_4a.get('data-assignment')}/retrait"),
        data={"csrf_token": csrf_of(page)}))
    used, left = _counter(withdrawn, "ELEVE")
    assert lxml.html.fromstring(withdrawn.text).xpath(
        '//select[@id="target-group"]/option[@value="LATIN4"]')

    answer = await _assign(browser, testbed_settings, csrf_of(withdrawn), "group", "LATIN4")
    assert answer.status_code == 303
    after = await walk(browser, answer)
    assert ("group", "LATIN4") in _assigned(after)
    # LATIN4 draws from 4A and 4B, but covers its own pupils only: one.
    assert _counter(after, "ELEVE") == (used + 1, left - 1)

    browser.cookies.clear()
    start = await browser.get(f"{testbed_settings.provider_base}/resource/manuel-maths-4e")
    login_page = await walk(browser, start)
    resource = await walk(browser, await log_in(browser, login_page, "eleve.assigne"))
    assert verdict(resource) == "ok", resource.text[:500]


async def test_assigning_more_licences_than_are_left_is_refused_and_writes_nothing(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    # 3 teachers' licences, one held: the college's four teachers do not fit.
    before = _count(testbed_settings, Assignment)
    page = await _assign(browser, testbed_settings, csrf_of(head), "profile", "National_ens")
    assert page.status_code == 409 and error_code(page) == "licence.exhausted"
    assert _count(testbed_settings, Assignment) == before


async def test_an_establishment_wide_subscription_takes_no_assignment(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    page = await _assign(browser, testbed_settings, csrf_of(head), "division", "4B",
                         subscription_id=DICTIONARY)
    assert page.status_code == 409 and error_code(page) == "licence.not_assignable"


async def test_a_form_without_the_csrf_token_is_refused_and_writes_nothing(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    before = _count(testbed_settings, Assignment)
    page = await _assign(browser, testbed_settings, "not-the-token", "division", "4B")
    assert page.status_code == 403 and error_code(page) == "console.csrf"
    assert _count(testbed_settings, Assignment) == before


async def test_an_unknown_target_kind_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    page = await _assign(browser, testbed_settings, csrf_of(head), "everyone", "4B")
    assert page.status_code == 400 and error_code(page) == "console.bad_request"


async def test_a_form_posted_without_a_session_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    page = await _assign(browser, testbed_settings, "x", "division", "4B")
    assert page.status_code == 401 and error_code(page) == "console.not_logged_in"


async def test_an_officer_cannot_open_another_establishments_dashboard(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    page = await browser.get(_url(testbed_settings, LYCEE))
    assert page.status_code == 403 and error_code(page) == "console.establishment_forbidden"


async def test_an_officer_assigning_in_another_establishment_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    before = _count(testbed_settings, Assignment)
    csrf = csrf_of(head)
    there = await _assign(browser, testbed_settings, csrf, "division", "2NDE04",
                          subscription_id=LYCEE_DICTIONARY, uai=LYCEE)
    smuggled = await _assign(browser, testbed_settings, csrf, "division", "2NDE04",
                             subscription_id=LYCEE_DICTIONARY, uai=COLLEGE)
    assert there.status_code == 403 and error_code(there) == "console.establishment_forbidden"
    assert smuggled.status_code == 403
    assert error_code(smuggled) == "console.establishment_forbidden"
    assert _count(testbed_settings, Assignment) == before


async def test_another_establishments_subscription_page_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    page = await browser.get(_subscription_page(testbed_settings, LYCEE_DICTIONARY))
    assert page.status_code == 403 and error_code(page) == "console.establishment_forbidden"


async def test_the_head_delegates_the_role_and_the_delegate_may_assign_but_not_delegate(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    form_page = await browser.get(_url(testbed_settings, f"{COLLEGE}/delegation"))
    options = lxml.html.fromstring(form_page.text).xpath(
        '//select[@id="delegate-person"]/option')
    teacher = next(o.get("value") for o in options if "Dubois" in o.text_content())
    answer = await browser.post(_url(testbed_settings, f"{COLLEGE}/delegation"),
                                data={"csrf_token": csrf_of(form_page), "person_id": teacher})
    assert answer.status_code == 303
    after = await walk(browser, answer)
    assert lxml.html.fromstring(after.text).xpath(
        f'//table[@id="officers"]//tr[@data-person="{teacher}"]/@data-role') == ["RAD"]

    browser.cookies.clear()
    delegate = await sign_in(browser, testbed_settings, "enseignant",
                             f"/console/etablissements/{COLLEGE}")
    assert delegate.status_code == 200
    assert not lxml.html.fromstring(delegate.text).xpath('//*[@id="delegation-link"]')
    refused = await browser.get(_url(testbed_settings, f"{COLLEGE}/delegation"))
    assert refused.status_code == 403 and error_code(refused) == "console.delegation_forbidden"
    assigned = await _assign(browser, testbed_settings, csrf_of(delegate), "division", "4B")
    assert assigned.status_code == 303


async def test_delegating_to_a_person_of_another_establishment_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    before = _count(testbed_settings, RespAff)
    page = await browser.post(_url(testbed_settings, f"{COLLEGE}/delegation"),
                              data={"csrf_token": csrf_of(head), "person_id": "elv-000003"})
    assert page.status_code == 404 and error_code(page) == "console.person_unknown"
    assert _count(testbed_settings, RespAff) == before


async def test_pages_escape_and_never_echo_the_confirmation_query(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    page = await browser.get(_url(testbed_settings, COLLEGE) + "?fait=<script>alert(1)</script>")
    assert page.status_code == 200 and "<script>alert" not in page.text


async def test_the_head_of_the_college_is_not_shown_the_lycee(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    page = await sign_in(browser, testbed_settings, HEAD)
    assert LYCEE not in page.text
