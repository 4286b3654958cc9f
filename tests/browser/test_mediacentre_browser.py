"""The mediacentre page in a real browser: choose a person, filter, open a tile through SSO.

Driven through stable ids only (`#mediacentre-form`, `#idUser`, `#niveau`, `#domaine`,
`#show`, `li.tile[data-resource-id]`, the identity provider's `#login-form`, the provider's
`#verdict`), so wording and layout may change freely.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from services.settings import Settings

pytestmark = pytest.mark.browser

PUPIL = "elv-000001"  # eleve.assigne: 4e A at the college
MATHS = "ark:/99999/r10001"
ATLAS = "ark:/99999/r20001"
LEVEL_4E = "scolomfr-voc-022-num-021"
MATHS_SUBJECT = "scolomfr-voc-015-num-1412"


def _tile_ids(page: Page) -> list[str]:
    return page.locator("li.tile").evaluate_all(
        "tiles => tiles.map(tile => tile.dataset.resourceId)")


def test_a_pupil_filters_the_mediacentre_and_opens_a_resource_through_sso(
    live_testbed: Settings, page: Page, screenshot: Callable[[str], Path]
) -> None:
    page.goto(f"{live_testbed.broker_base}/mediacentre")
    expect(page.locator("#simulator-notice")).to_be_visible()
    page.locator("#idUser").select_option(PUPIL)
    page.locator("#show").click()
    expect(page.locator(f'li.tile[data-resource-id="{MATHS}"]')).to_be_visible()
    assert ATLAS in _tile_ids(page)
    screenshot("mediacentre-1-tiles")

    page.locator("#niveau").select_option(LEVEL_4E)
    page.locator("#show").click()
    expect(page.locator(f'li.tile[data-resource-id="{ATLAS}"]')).to_have_count(0)
    assert MATHS in _tile_ids(page)
    page.locator("#domaine").select_option(MATHS_SUBJECT)
    page.locator("#show").click()
    expect(page.locator("li.tile")).to_have_count(1)
    thumbnail = page.locator(f'li.tile[data-resource-id="{MATHS}"] img')
    assert thumbnail.evaluate("img => img.complete && img.naturalWidth > 0")
    screenshot("mediacentre-2-filtered")

    page.locator(f'li.tile[data-resource-id="{MATHS}"] a').click()
    page.wait_for_url(f"{live_testbed.idp_base}/**")
    page.locator('#login-form button[name="persona"][data-login="eleve.assigne"]').click()
    page.wait_for_url(f"{live_testbed.provider_base}/**")
    expect(page.locator("#verdict")).to_have_attribute("data-result", "ok")
    screenshot("mediacentre-3-resource-opened")


def test_a_pupil_without_licence_sees_no_tile_for_it(live_testbed: Settings, page: Page) -> None:
    page.goto(f"{live_testbed.broker_base}/mediacentre?idUser=elv-000002")
    expect(page.locator("#tiles")).to_be_visible()
    assert MATHS not in _tile_ids(page)
    assert ATLAS in _tile_ids(page)
