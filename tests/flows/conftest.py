"""Fixtures for the end-to-end flows: a prepared testbed and a browser, all in process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from broker.bootstrap import prepare
from services.settings import Settings
from tests.backends import BACKENDS, postgres_schema
from tests.flows.harness import Router


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'broker.sqlite3'}"
        return
    with postgres_schema("flows") as url:
        yield url


@pytest.fixture
def testbed_settings(tmp_path: Path, database_url: str) -> Settings:
    settings = Settings(data_dir=tmp_path, DATABASE_URL=database_url)
    prepare(settings)
    return settings


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def browser(testbed_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping client in front of the three apps, like a person's browser."""
    from broker.app import create_app as broker_app
    from idp_mock.app import create_app as idp_app
    from provider_mock.app import create_app as provider_app

    apps: dict[str, object] = {}
    peer_http = httpx.AsyncClient(transport=_LateRouter(apps))
    apps.update({
        testbed_settings.broker_base: broker_app(testbed_settings, http=peer_http),
        testbed_settings.idp_base: idp_app(testbed_settings, http=peer_http),
        testbed_settings.provider_base: provider_app(testbed_settings, http=peer_http),
    })
    try:
        async with httpx.AsyncClient(transport=Router(apps), follow_redirects=False) as client:
            yield client
    finally:
        await peer_http.aclose()
        # The broker's pool would otherwise hold its connections until the process ends.
        broker = apps[testbed_settings.broker_base].state.broker  # type: ignore[attr-defined]
        broker.sessions.kw["bind"].dispose()


class _LateRouter(httpx.AsyncBaseTransport):
    """Routes to apps registered after the client was made (apps need the client first)."""

    def __init__(self, apps: dict[str, object]) -> None:
        self._apps = apps
        self._router: Router | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._router is None:
            self._router = Router(self._apps)
        return await self._router.handle_async_request(request)
