"""The audit pages in a real browser: an auditor and an officer each read what is theirs.

Driven through stable ids and data attributes (`#records tr[data-id]`, `#chart rect`,
`#flagged`, `#scope[data-kind]`), so wording and layout may change freely.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from broker.api_auth import create_client
from broker.db import make_engine, session_factory
from services.dataset import COLLEGE_UAI, LYCEE_UAI
from services.settings import Settings
from tests.browser import conftest as browser

# The live testbed and the browser of tests/browser, reused (not copied).
chromium, live_testbed, page, screenshot = (browser.chromium, browser.live_testbed,
                                            browser.page, browser.screenshot)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def auditor_token(live_testbed: Settings) -> str:
    engine = make_engine(live_testbed.sqlalchemy_url)
    try:
        with session_factory(engine).begin() as session:
            return create_client(session, kind="auditor", ident="dpo", name="DPO")[1]
    finally:
        engine.dispose()


def _pupil_opens_the_textbook(live_testbed: Settings, page: Page) -> None:
    page.goto(f"{live_testbed.provider_base}/resource/manuel-maths-4e")
    page.wait_for_url(f"{live_testbed.idp_base}/**")
    page.locator('#login-form button[name="persona"][data-login="eleve.assigne"]').click()
    page.wait_for_url(f"{live_testbed.provider_base}/**")
    expect(page.locator("#verdict")).to_have_attribute("data-result", "ok")
    page.context.clear_cookies()


def test_an_auditor_reads_the_journal_statistics_and_report(
    live_testbed: Settings, page: Page, auditor_token: str, screenshot: Callable[[str], Path]
) -> None:
    _pupil_opens_the_textbook(live_testbed, page)
    page.goto(f"{live_testbed.broker_base}/audit/")
    page.wait_for_url("**/audit/connexion")
    page.locator("#token").fill(auditor_token)
    page.locator("#sign-in button[type=submit]").click()
    expect(page.locator("#scope")).to_have_attribute("data-kind", "all")
    expect(page.locator('#records tr[data-decision="granted"]').first).to_be_visible()
    screenshot("audit-1-journal")

    page.get_by_role("link", name="Statistiques d'accès").click()
    expect(page.locator('#chart rect[data-count="0"]').first).to_be_attached()
    assert int(page.locator("#total").get_attribute("data-total") or "0") >= 1
    screenshot("audit-2-statistics")

    page.get_by_role("link", name="Rapport de flux de données").click()
    expect(page.locator("#flagged")).to_have_attribute("data-flagged", "0")
    expect(page.locator('section[data-resource="ark:/99999/r10001"]')).to_be_visible()
    screenshot("audit-3-flows")


def test_an_officer_comes_from_the_console_and_sees_only_their_establishment(
    live_testbed: Settings, page: Page, screenshot: Callable[[str], Path]
) -> None:
    page.goto(f"{live_testbed.broker_base}/audit/connexion")
    page.locator("#officer-door").click()
    page.wait_for_url(f"{live_testbed.idp_base}/**")
    page.locator('#login-form button[name="persona"][data-login="chef.etablissement"]').click()
    page.wait_for_url(f"{live_testbed.broker_base}/audit/")
    expect(page.locator("#scope")).to_have_attribute("data-kind", "establishments")
    for row in page.locator("#records tbody tr[data-id]").all():
        assert COLLEGE_UAI in (row.get_attribute("data-uai") or "")
    screenshot("audit-4-officer")
    page.goto(f"{live_testbed.broker_base}/audit/?uai={LYCEE_UAI}")
    expect(page.locator("#error-code")).to_have_text("audit.out_of_scope")
