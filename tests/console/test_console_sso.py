"""Signing in to the assignment console through the broker's own single sign-on.

The console is a service provider of the broker like any resource: an officer who opens it is
sent to the identity provider, and comes back with a session only if the directory says they
are an assignment officer (RA) or a delegate (RAD) of some establishment.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import lxml.html
import pytest
from sqlalchemy import create_engine, func, select
from starlette.responses import Response

from broker import console_session
from broker.console import _return_path
from broker.db import normalise_url
from broker.models import ConsoleSession
from services.settings import Settings
from tests.console.conftest import HEAD, csrf_of, sign_in
from tests.flows.harness import error_code, log_in, walk

pytestmark = pytest.mark.anyio

COLLEGE = "0359901X"


def _console_sessions(settings: Settings) -> int:
    engine = create_engine(normalise_url(settings.sqlalchemy_url))
    with engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(ConsoleSession)).scalar_one()
    engine.dispose()
    return int(count)


async def test_opening_the_console_without_a_session_starts_single_sign_on(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    start = await browser.get(f"{testbed_settings.broker_base}/console/")
    assert start.status_code == 303
    assert start.headers["location"].startswith(f"{testbed_settings.idp_base}/saml/sso?")


async def test_the_head_of_the_college_signs_in_and_sees_the_college(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    assert str(head.url) == f"{testbed_settings.broker_base}/console/"
    rows = lxml.html.fromstring(head.text).xpath('//table[@id="establishments"]//tr[@data-uai]')
    assert [row.get("data-uai") for row in rows] == [COLLEGE]
    assert "Moreau" in head.text
    assert _console_sessions(testbed_settings) == 1


async def test_the_session_cookie_is_httponly_lax_and_only_for_the_console(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    login_page = await walk(browser, await browser.get(f"{testbed_settings.broker_base}/console/"))
    acs_form = await walk(browser, await log_in(browser, login_page, HEAD),
                          stop_at=f"{testbed_settings.broker_base}/saml/sp/acs")
    answer = await browser.post(acs_form.action, data=acs_form.fields)
    assert answer.status_code == 303 and answer.headers["location"] == "/console/"
    cookie = answer.headers["set-cookie"].lower()
    assert cookie.startswith("gar_console=")
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/console" in cookie
    assert "secure" not in cookie  # the broker is served over http here


def test_the_session_cookie_is_secure_when_the_broker_is_served_over_https() -> None:
    response = Response()
    opened = console_session.Opened("token", "csrf", datetime.now(UTC))
    console_session.set_cookie(response, opened, Settings(broker_url="https://gar.example"))
    assert "secure" in response.headers["set-cookie"].lower()


async def test_a_pupil_is_refused_the_console_and_gets_no_session(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    page = await sign_in(browser, testbed_settings, "eleve.assigne")
    assert page.status_code == 403
    assert error_code(page) == "console.not_officer"
    assert "gar_console" not in browser.cookies
    assert _console_sessions(testbed_settings) == 0


async def test_a_teacher_who_is_no_officer_is_refused_the_console(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    page = await sign_in(browser, testbed_settings, "enseignant")
    assert page.status_code == 403
    assert error_code(page) == "console.not_officer"


async def test_a_deep_link_lands_on_its_page_after_signing_in(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    path = f"/console/etablissements/{COLLEGE}"
    page = await sign_in(browser, testbed_settings, HEAD, path)
    assert page.status_code == 200
    assert str(page.url) == f"{testbed_settings.broker_base}{path}"


async def test_the_identity_providers_answer_opens_one_session_only_once(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    login_page = await walk(browser, await browser.get(f"{testbed_settings.broker_base}/console/"))
    acs_form = await walk(browser, await log_in(browser, login_page, HEAD),
                          stop_at=f"{testbed_settings.broker_base}/saml/sp/acs")
    first = await browser.post(acs_form.action, data=acs_form.fields)
    replayed = await browser.post(acs_form.action, data=acs_form.fields)
    assert first.status_code == 303
    assert replayed.status_code == 400 and error_code(replayed) == "sso.state_unknown"
    assert _console_sessions(testbed_settings) == 1


async def test_an_unknown_session_cookie_is_sent_to_sign_in(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    browser.cookies.set("gar_console", "forged-token", path="/console")
    start = await browser.get(f"{testbed_settings.broker_base}/console/")
    assert start.status_code == 303
    assert start.headers["location"].startswith(testbed_settings.idp_base)


async def test_logging_out_ends_the_session_everywhere(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    token = browser.cookies["gar_console"]
    page = await browser.post(f"{testbed_settings.broker_base}/console/deconnexion",
                              data={"csrf_token": csrf_of(head)})
    assert page.status_code == 200 and 'id="logged-out"' in page.text
    assert _console_sessions(testbed_settings) == 0
    browser.cookies.set("gar_console", token, path="/console")  # an old copy of the cookie
    again = await browser.get(f"{testbed_settings.broker_base}/console/")
    assert again.status_code == 303 and again.headers["location"].startswith(
        testbed_settings.idp_base)


async def test_logging_out_without_the_csrf_token_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    page = await browser.post(f"{testbed_settings.broker_base}/console/deconnexion", data={})
    assert page.status_code == 403 and error_code(page) == "console.csrf"
    assert _console_sessions(testbed_settings) == 1


@pytest.mark.parametrize(("path", "lands"), [
    ("/console/etablissements/0359901X", "/console/etablissements/0359901X"),
    ("/console//evil.example/", "/console/"),
    ("/console/\\evil", "/console/"),
    ("/consolex", "/console/"),
    ("/saml/idp/sso", "/console/"),
    ("/console/" + "a" * 600, "/console/"),
])
def test_signing_in_only_ever_returns_to_a_console_page(path: str, lands: str) -> None:
    assert _return_path(path) == lands
