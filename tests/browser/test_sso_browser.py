"""A person's journey in a real browser: provider mock -> broker -> identity provider -> back.

The pages are driven through their stable ids only (`#login-form`, `#verdict`,
`#attributes tr[data-code]`, `#error-code`), so wording and layout may change freely.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, Request, expect

from services.settings import Settings

pytestmark = pytest.mark.browser

RESOURCE = "manuel-maths-4e"
# declared by the maths textbook ∩ allowed for a pupil ∩ present for eleve.assigne (4e A,
# group LATIN4): everything it declares. Never CIV (not declared), nor a birth date or INE.
EXPECTED_PUPIL_CODES = {"IDO", "UAI", "PRO", "NOM", "PRE", "DIV", "GRO"}


def _visited(page: Page) -> list[str]:
    """Every URL the page navigates to from now on, redirects included, in order."""
    urls: list[str] = []

    def record(request: Request) -> None:
        if request.is_navigation_request() and request.frame == page.main_frame:
            urls.append(request.url)

    page.on("request", record)
    return urls


def _log_in_as(
    page: Page, settings: Settings, persona: str, screenshot: Callable[[str], Path], step: str
) -> None:
    """Open the resource, follow the redirections to the identity provider, pick a persona."""
    page.goto(f"{settings.provider_base}/resource/{RESOURCE}")
    page.wait_for_url(f"{settings.idp_base}/**")
    expect(page.locator("#login-form")).to_be_visible()
    screenshot(step)
    page.locator(f'#login-form button[name="persona"][data-login="{persona}"]').click()


def test_assigned_pupil_opens_the_resource_with_exactly_the_minimised_attributes(
    live_testbed: Settings, page: Page, screenshot: Callable[[str], Path]
) -> None:
    visited = _visited(page)
    _log_in_as(page, live_testbed, "eleve.assigne", screenshot, "1-idp-login")

    page.wait_for_url(f"{live_testbed.provider_base}/**")
    expect(page.locator("#verdict")).to_have_attribute("data-result", "ok")
    screenshot("2-provider-access-granted")
    codes = page.locator("#attributes tr[data-code]").evaluate_all(
        "rows => rows.map(row => row.dataset.code)"
    )
    assert sorted(codes) == sorted(EXPECTED_PUPIL_CODES)
    assert any(url.startswith(f"{live_testbed.broker_base}/") for url in visited), visited


def test_pupil_without_assignment_ends_on_the_broker_refusal_page(
    live_testbed: Settings, page: Page, screenshot: Callable[[str], Path]
) -> None:
    visited = _visited(page)
    _log_in_as(page, live_testbed, "eleve.sans.licence", screenshot, "3-idp-login-again")

    page.wait_for_url(f"{live_testbed.broker_base}/**")
    expect(page.locator("#error-code")).to_have_text("access.no_assignment")
    screenshot("4-broker-refusal")
    last_idp_hop = max(i for i, url in enumerate(visited) if url.startswith(live_testbed.idp_base))
    after_login = visited[last_idp_hop:]
    assert not any(url.startswith(live_testbed.provider_base) for url in after_login), visited
