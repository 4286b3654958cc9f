"""The ENT side in headless Chromium: an integrator starts a login from the sandbox page,
logs in at their identity provider (here the mock) and reads the report of the Response."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import chromium, page  # noqa: F401  (shared browser fixtures)
from tests.conformance.test_ent_listener import EntLive, ent_live  # noqa: F401

pytestmark = pytest.mark.browser


def test_an_integrator_logs_in_through_the_sandbox_and_reads_compatible(
    ent_live: EntLive, page: Page  # noqa: F811
) -> None:
    page.goto(f"{ent_live.box.base_url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Banc de conformité GAR, côté ENT")
    page.get_by_role("link", name="Lancer une connexion").click()
    page.locator('#login-form button[name="persona"][data-login="eleve.assigne"]').click()
    expect(page.locator("#verdict")).to_have_attribute("data-result", "ok")
    expect(page.locator("#verdict")).to_contain_text("Compatible GAR")
    verdict = page.locator('#checks tr[data-id$=".verdict"]')
    expect(verdict.locator("td").nth(1)).to_have_text("réussi")
    expect(verdict.locator("td").nth(3)).to_contain_text("acceptée")
    page.get_by_role("link", name="Nouveau contrôle").click()
    expect(page.locator("#login-form")).to_be_visible()  # a new AuthnRequest, a new login
