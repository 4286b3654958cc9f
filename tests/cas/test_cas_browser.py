"""A person opens a CAS publisher in a real browser: ?sso_id=GAR -> CAS login -> ticket -> page.

Driven through stable ids only (`#login-form`, `#verdict`, `#attributes tr[data-code]`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, Request, expect

from services.settings import Settings
from tests.browser.conftest import chromium, live_testbed, page, screenshot

__all__ = ["chromium", "live_testbed", "page", "screenshot"]

pytestmark = pytest.mark.browser


def test_pupil_opens_a_cas_publisher_and_it_shows_the_validated_release(
    live_testbed: Settings, page: Page, screenshot: Callable[[str], Path]
) -> None:
    visited: list[str] = []

    def record(request: Request) -> None:
        if request.is_navigation_request() and request.frame == page.main_frame:
            visited.append(request.url)

    page.on("request", record)
    page.goto(f"{live_testbed.provider_base}/cas/atlas-histoire?sso_id=GAR&grain=%2Fcarte%2F7")
    page.wait_for_url(f"{live_testbed.idp_base}/**")
    expect(page.locator("#login-form")).to_be_visible()
    page.locator('#login-form button[name="persona"][data-login="eleve.assigne"]').click()

    page.wait_for_url(f"{live_testbed.provider_base}/cas/**")
    expect(page.locator("#verdict")).to_have_attribute("data-result", "ok")
    screenshot("cas-publisher-access-granted")
    codes = page.locator("#attributes tr[data-code]").evaluate_all(
        "rows => rows.map(row => row.dataset.code)")
    assert sorted(codes) == ["DIV", "IDO", "PRO", "UAI"]
    expect(page.locator("#grain")).to_contain_text("/carte/7")
    assert any(url.startswith(f"{live_testbed.broker_base}/cas/login?service=") for url in visited)
    assert any("ticket=ST-" in url for url in visited)
