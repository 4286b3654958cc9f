"""The assignment console in a real browser: the head signs in, assigns, a pupil gets in.

Driven through stable ids and data attributes only (`#establishments`, `#counters
tr[data-audience]`, `#assign-division`, `#verdict`), so wording and layout may change freely.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from services.settings import Settings

pytestmark = pytest.mark.browser

COLLEGE = "0359901X"
MATHS = f"ABO-MANUEL-MATHS-4E-{COLLEGE}"


def _pupils_used(page: Page) -> int:
    return int(page.locator('#counters tr[data-audience="ELEVE"] td[data-used]')
               .get_attribute("data-used") or "-1")


def test_the_head_assigns_the_maths_textbook_to_4b_and_its_pupil_opens_it(
    live_testbed: Settings, page: Page, chromium: Browser, screenshot: Callable[[str], Path]
) -> None:
    page.goto(f"{live_testbed.broker_base}/console/")
    page.wait_for_url(f"{live_testbed.idp_base}/**")
    page.locator('#login-form button[name="persona"][data-login="chef.etablissement"]').click()
    page.wait_for_url(f"{live_testbed.broker_base}/console/")
    expect(page.locator(f'#establishments tr[data-uai="{COLLEGE}"]')).to_be_visible()
    screenshot("console-1-home")

    page.locator(f'#establishments tr[data-uai="{COLLEGE}"] a').click()
    expect(page.locator(f'#subscriptions tr[data-subscription="{MATHS}"]')).to_be_visible()
    screenshot("console-2-dashboard")
    page.locator(f'#subscriptions tr[data-subscription="{MATHS}"] a').click()
    expect(page.locator("#counters")).to_be_visible()
    before = _pupils_used(page)

    page.locator("#target-division").select_option("4B")
    page.locator("#assign-division button[type=submit]").click()
    expect(page.locator("#done")).to_be_visible()
    expect(page.locator('#assignments tr[data-kind="division"][data-value="4B"]')).to_be_visible()
    assert _pupils_used(page) > before
    screenshot("console-3-assigned")

    pupil = chromium.new_context(locale="fr-FR")
    try:
        pupil_page = pupil.new_page()
        pupil_page.goto(f"{live_testbed.provider_base}/resource/manuel-maths-4e")
        pupil_page.wait_for_url(f"{live_testbed.idp_base}/**")
        pupil_page.locator(
            '#login-form button[name="persona"][data-login="eleve.sans.licence"]').click()
        pupil_page.wait_for_url(f"{live_testbed.provider_base}/**")
        expect(pupil_page.locator("#verdict")).to_have_attribute("data-result", "ok")
    finally:
        pupil.close()


def test_a_pupil_is_refused_the_console(
    live_testbed: Settings, page: Page, screenshot: Callable[[str], Path]
) -> None:
    page.goto(f"{live_testbed.broker_base}/console/")
    page.wait_for_url(f"{live_testbed.idp_base}/**")
    page.locator('#login-form button[name="persona"][data-login="eleve.assigne"]').click()
    page.wait_for_url(f"{live_testbed.broker_base}/**")
    expect(page.locator("#error-code")).to_have_text("console.not_officer")
    screenshot("console-4-refused")


def test_the_head_finds_a_pupil_by_name_assigns_her_and_recovers_and_extends_licences(
    live_testbed: Settings, page: Page, screenshot: Callable[[str], Path]
) -> None:
    page.goto(f"{live_testbed.broker_base}/console/etablissements/{COLLEGE}/abonnements/{MATHS}")
    page.wait_for_url(f"{live_testbed.idp_base}/**")
    page.locator('#login-form button[name="persona"][data-login="chef.etablissement"]').click()
    page.wait_for_url(f"{live_testbed.broker_base}/console/**")
    expect(page.locator("#target-person")).to_have_count(0)

    page.get_by_label("Nom ou prénom (au moins 2 caractères)").fill("mar")
    page.locator("#search-person button[type=submit]").click()
    expect(page.locator("#search-result")).to_be_visible()
    options = page.locator("#target-person option")
    assert 0 < options.count() <= 20
    chosen = options.first.get_attribute("value")
    screenshot("console-5-search")
    page.locator("#assign-person button[type=submit]").click()
    expect(page.locator("#done")).to_be_visible()
    expect(page.locator(f'#assignments tr[data-kind="person"][data-value="{chosen}"]')
           ).to_be_visible()

    page.locator('#assignments tr[data-kind="division"] form.refresh button').first.click()
    expect(page.locator("#done")).to_contain_text("étendue")
    expect(page.locator("#recover button")).to_be_disabled()  # nobody has left the collège
    expect(page.locator("#locked")).to_have_attribute("data-locked", "0")
    screenshot("console-6-refreshed")
