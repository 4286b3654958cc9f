"""The audit pages in a real browser: an auditor, an officer and a provider each read theirs.

Driven through stable ids and data attributes (`#records tr[data-id]`, `#chart rect`,
`#by-day`, `#flagged`, `#scope[data-kind]`), so wording and layout may change freely. Every
journey makes the accesses it then looks for, so none passes on an empty journal.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from broker.api_auth import create_client
from broker.db import make_engine, session_factory
from services.dataset import COLLEGE_UAI, LYCEE_UAI, MOCK_DISTRIBUTOR
from services.settings import Settings
from tests.browser import conftest as browser

# The live testbed and the browser of tests/browser, reused (not copied).
chromium, live_testbed, page, screenshot = (browser.chromium, browser.live_testbed,
                                            browser.page, browser.screenshot)

pytestmark = pytest.mark.browser
MOCK_RESOURCES = {"ark:/99999/r10001", "ark:/99999/r10002", "ark:/99999/r10003",
                  "ark:/99999/r10004", "ark:/99999/r10005", "ark:/99999/r10006"}


def _token(settings: Settings, kind: str, ident: str, name: str) -> str:
    engine = make_engine(settings.sqlalchemy_url)
    try:
        with session_factory(engine).begin() as session:
            return create_client(session, kind=kind, ident=ident, name=name)[1]
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def auditor_token(live_testbed: Settings) -> str:
    return _token(live_testbed, "auditor", "dpo", "DPO")


@pytest.fixture(scope="module")
def provider_token(live_testbed: Settings) -> str:
    return _token(live_testbed, "distributor", MOCK_DISTRIBUTOR, "Éditions du banc d'essai")


def _opens_the_textbook(live_testbed: Settings, page: Page, persona: str, result: str) -> None:
    """A provider-initiated login (no establishment named), granted or refused."""
    page.goto(f"{live_testbed.provider_base}/resource/manuel-maths-4e")
    page.wait_for_url(f"{live_testbed.idp_base}/**")
    page.locator(f'#login-form button[name="persona"][data-login="{persona}"]').click()
    if result == "ok":
        page.wait_for_url(f"{live_testbed.provider_base}/**")
        expect(page.locator("#verdict")).to_have_attribute("data-result", "ok")
    else:
        expect(page.locator("#error-code")).to_have_text(result)
    page.context.clear_cookies()


def _sign_in(live_testbed: Settings, page: Page, token: str) -> None:
    page.goto(f"{live_testbed.broker_base}/audit/")
    page.wait_for_url("**/audit/connexion")
    page.locator("#token").fill(token)
    page.locator("#sign-in button[type=submit]").click()


def _download(page: Page, link: str) -> str:
    with page.expect_download() as info:
        page.locator(link).click()
    return Path(info.value.path()).read_text(encoding="utf-8")


def test_an_auditor_reads_the_journal_statistics_and_report(
    live_testbed: Settings, page: Page, auditor_token: str, screenshot: Callable[[str], Path]
) -> None:
    _opens_the_textbook(live_testbed, page, "eleve.assigne", "ok")
    _sign_in(live_testbed, page, auditor_token)
    expect(page.locator("#scope")).to_have_attribute("data-kind", "all")
    expect(page.locator('#records tr[data-decision="granted"]').first).to_be_visible()
    screenshot("audit-1-journal")

    page.get_by_role("link", name="Statistiques d'accès").click()
    counts = [int(bar.get_attribute("data-count") or "0")
              for bar in page.locator("#chart rect[data-count]").all()]
    assert counts and max(counts) >= 1
    busiest = max(counts)
    expect(page.locator("#by-day tbody td").filter(has_text=str(busiest)).first).to_be_visible()
    assert int(page.locator("#total").get_attribute("data-total") or "0") >= 1
    screenshot("audit-2-statistics")

    page.get_by_role("link", name="Rapport de flux de données").click()
    expect(page.locator("#flagged")).to_have_attribute("data-flagged", "0")
    expect(page.locator('section[data-resource="ark:/99999/r10001"]')).to_be_visible()
    screenshot("audit-3-flows")


def test_an_officer_comes_from_the_console_and_sees_only_their_establishment(
    live_testbed: Settings, page: Page, screenshot: Callable[[str], Path]
) -> None:
    _opens_the_textbook(live_testbed, page, "eleve.assigne", "ok")
    _opens_the_textbook(live_testbed, page, "eleve.sans.licence", "access.no_assignment")
    page.goto(f"{live_testbed.broker_base}/audit/connexion")
    page.locator("#officer-door").click()
    page.wait_for_url(f"{live_testbed.idp_base}/**")
    page.locator('#login-form button[name="persona"][data-login="chef.etablissement"]').click()
    page.wait_for_url(f"{live_testbed.broker_base}/audit/")
    expect(page.locator("#scope")).to_have_attribute("data-kind", "establishments")
    rows = page.locator("#records tbody tr[data-id]")
    expect(rows.first).to_be_visible()
    for row in rows.all():
        assert COLLEGE_UAI in (row.get_attribute("data-uai") or "")
    # The refusal of a login that named no school is the collège's too.
    expect(page.locator('#records tr[data-decision="refused"]').first).to_be_visible()
    screenshot("audit-4-officer")
    page.get_by_role("link", name="Statistiques d'accès").click()
    expect(page.locator("#suppression")).to_have_attribute("data-min-count", "5")
    expect(page.locator("#chart rect[data-suppressed]").first).to_be_attached()
    page.goto(f"{live_testbed.broker_base}/audit/?uai={LYCEE_UAI}")
    expect(page.locator("#error-code")).to_have_text("audit.out_of_scope")


def test_a_provider_reads_and_downloads_only_its_own_resources(
    live_testbed: Settings, page: Page, provider_token: str, screenshot: Callable[[str], Path]
) -> None:
    _opens_the_textbook(live_testbed, page, "eleve.assigne", "ok")
    _sign_in(live_testbed, page, provider_token)
    expect(page.locator("#scope")).to_have_attribute("data-kind", "provider")
    rows = page.locator("#records tbody tr[data-id]")
    expect(rows.first).to_be_visible()
    assert {row.get_attribute("data-resource") for row in rows.all()} <= MOCK_RESOURCES
    expect(page.get_by_role("link", name="Contrôle de non-chaînage (IDO)")).to_have_count(0)
    screenshot("audit-5-provider")

    records = list(csv.DictReader(io.StringIO(_download(page, "#export-csv"))))
    lines = [json.loads(line) for line in _download(page, "#export-jsonl").splitlines()]
    assert records and len(records) == len(lines)
    assert {r["resource_id"] for r in records} | {r["resource_id"] for r in lines} \
        <= MOCK_RESOURCES
    assert all(r["person"] == "" for r in records) and all(r["person"] is None for r in lines)

    page.get_by_role("link", name="Rapport de flux de données").click()
    report = _download(page, "#report-file")
    assert report.startswith("<!DOCTYPE html>") and "<script" not in report
    assert 'data-resource="ark:/99999/r10001"' in report
    assert 'data-resource="ark:/99999/r20001"' not in report  # another provider's atlas
