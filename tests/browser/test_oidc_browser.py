"""The OpenID Connect journey in a real browser: provider mock (OIDC) -> broker -> IdP -> back.

The provider mock verifies the broker's ID token with PyJWT and shows what userinfo gave;
the person then logs out through the broker's end_session endpoint and comes back.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from services.settings import Settings

pytestmark = pytest.mark.browser

EXPECTED_PUPIL_CODES = {"IDO", "UAI", "PRO", "NOM", "PRE", "DIV", "GRO"}


def test_a_pupil_opens_an_oidc_resource_then_logs_out_through_the_broker(
    live_testbed: Settings, page: Page, screenshot: Callable[[str], Path]
) -> None:
    page.goto(f"{live_testbed.provider_base}/oidc/resource/manuel-maths-4e")
    page.wait_for_url(f"{live_testbed.idp_base}/**")
    page.locator('#login-form button[name="persona"][data-login="eleve.assigne"]').click()

    page.wait_for_url(f"{live_testbed.provider_base}/oidc/callback**")
    expect(page.locator("#verdict")).to_have_attribute("data-result", "ok")
    screenshot("oidc-provider-access-granted")
    codes = page.locator("#attributes tr[data-code]").evaluate_all(
        "rows => rows.map(row => row.dataset.code)")
    assert set(codes) == EXPECTED_PUPIL_CODES
    expect(page.locator("#issuer")).to_contain_text(f"{live_testbed.broker_base}/oidc")

    page.locator("#logout").click()
    page.wait_for_url(f"{live_testbed.provider_base}/oidc/logged-out**")
    expect(page.locator("#logged-out")).to_be_visible()
