"""The real testbed on loopback, driven by Debian's Chromium through Playwright.

`live_testbed` serves the three apps exactly as `gar-testbed up` does (same functions, real
uvicorn servers, real sockets) but on free ports, from a background thread, in a fresh data
dir. `page` is a fresh browser context per test, so cookies never leak between journeys.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from services.settings import Settings
from tests.loopback import serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling Google's hosts, which this
# closed network refuses; --no-sandbox because CI runs as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START_TIMEOUT_SECONDS = 30.0


@pytest.fixture(scope="module")
def live_testbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """The three services, prepared and listening on free loopback ports, until the module ends."""
    from broker.bootstrap import prepare
    from services.cli import bind, build_services

    sockets = [bind("127.0.0.1", 0) for _ in range(3)]
    broker_port, idp_port, provider_port = (sock.getsockname()[1] for sock in sockets)
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("testbed"),
        host="127.0.0.1",
        broker_port=broker_port,
        idp_port=idp_port,
        provider_port=provider_port,
        broker_url=None,
        idp_url=None,
        provider_url=None,
        database_url=None,
    )
    try:
        prepare(settings)
        services = build_services(settings, sockets)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    with serving(services, "the testbed", timeout=START_TIMEOUT_SECONDS):
        yield settings


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless; skipped where it is not installed (never in CI).

    Module-scoped, not session-scoped: Playwright's sync API keeps an event loop running in
    the main thread while it is open, which would break every async test collected after.
    """
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: install Debian's chromium (make test does, as root)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) with one page, in French, desktop-sized."""
    context = chromium.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def screenshot(page: Page, tmp_path: Path) -> Callable[[str], Path]:
    """Save a full-page screenshot named after the step, under $SCREENSHOT_DIR or tmp_path."""
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
