"""The harness's page in headless Chromium: an editor launches a run and reads the report."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import chromium, page  # noqa: F401  (shared browser fixtures)
from tests.conformance.conftest import RESOURCE, Live

pytestmark = pytest.mark.browser


def _fill(page: Page, live: Live, naive: bool, only: str) -> None:  # noqa: F811
    settings = live.naive if naive else live.careful
    page.goto(f"{live.sandbox.base_url}/")
    page.get_by_label("URL des métadonnées SAML").fill(f"{settings.provider_base}/saml/metadata")
    page.get_by_label("URL qui déclenche la connexion").fill(
        f"{settings.provider_base}/resource/{RESOURCE}")
    page.get_by_label("RelayState des réponses non sollicitées").fill(
        f"{settings.provider_base}/resource/{RESOURCE}")
    page.get_by_label("Marqueur de succès").fill('data-result="ok"')
    page.get_by_label("Ne jouer que les scénarios").fill(only)
    page.get_by_role("button", name="Lancer les scénarios").click()


def test_an_editor_runs_the_suite_from_the_page_and_reads_compatible(
    live: Live, page: Page  # noqa: F811
) -> None:
    _fill(page, live, naive=False, only="valid. wrapping.")
    expect(page.locator("#verdict")).to_have_attribute("data-result", "ok")
    expect(page.locator("#verdict")).to_contain_text("Compatible GAR")
    expect(page.locator('#scenarios tr[data-id="wrapping.xsw3"] td').nth(1)).to_have_text(
        "réussi")


def test_a_naive_service_is_reported_with_what_to_fix(
    live: Live, page: Page  # noqa: F811
) -> None:
    _fill(page, live, naive=True, only="field.audience.wrong")
    expect(page.locator("#verdict")).to_contain_text("Non conforme")
    row = page.locator('#scenarios tr[data-id="field.audience.wrong.both"]')
    expect(row).to_have_attribute("data-passed", "false")
    expect(row).to_contain_text("AudienceRestriction")


def test_a_bad_marker_ends_on_a_french_error_page(live: Live, page: Page) -> None:  # noqa: F811
    page.goto(f"{live.sandbox.base_url}/")
    page.get_by_label("URL des métadonnées SAML").fill(
        f"{live.careful.provider_base}/saml/metadata")
    page.get_by_label("Marqueur de succès").fill("(")
    page.get_by_role("button", name="Lancer les scénarios").click()
    expect(page.locator("#error-code")).to_have_text("conformance.rule.invalid")


def test_a_cross_site_post_is_refused(live: Live) -> None:
    answer = httpx.post(f"{live.sandbox.base_url}/run", data={"metadata": "http://x/"},
                        headers={"Origin": "https://ailleurs.example.org"})
    assert answer.status_code == 403
    assert "conformance.cross_site" in answer.text


def test_a_post_another_site_makes_the_browser_send_is_refused(live: Live) -> None:
    answer = httpx.post(f"{live.sandbox.base_url}/run", data={"metadata": "http://x/"},
                        headers={"Sec-Fetch-Site": "cross-site"})
    assert answer.status_code == 403
