"""Fixtures for the OpenID Connect tests: the three apps in process, as in tests/flows.

``testbed_settings`` comes from tests/flows (SQLite, and PostgreSQL when configured); the
``oidc_upstream`` variant also registers the identity-provider mock as an OpenID Provider.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from broker.bootstrap import prepare
from services.settings import Settings
from tests.flows.conftest import _LateRouter, database_url, testbed_settings  # noqa: F401
from tests.flows.harness import Router


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def oidc_upstream_settings(tmp_path: Path, database_url: str) -> Settings:  # noqa: F811
    settings = Settings(data_dir=tmp_path, DATABASE_URL=database_url, idp_oidc=True)
    prepare(settings)
    return settings


async def _browser(
    settings: Settings, extra: dict[str, object] | None = None,
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, object]]]:
    """The three apps (and ``extra`` ones, by origin) behind one cookie-keeping browser."""
    from broker.app import create_app as broker_app
    from idp_mock.app import create_app as idp_app
    from provider_mock.app import create_app as provider_app

    apps: dict[str, object] = {}
    peer_http = httpx.AsyncClient(transport=_LateRouter(apps))
    apps.update({
        settings.broker_base: broker_app(settings, http=peer_http),
        settings.idp_base: idp_app(settings, http=peer_http),
        settings.provider_base: provider_app(settings, http=peer_http),
        **(extra or {}),
    })
    try:
        async with httpx.AsyncClient(transport=Router(apps), follow_redirects=False) as client:
            yield client, apps
    finally:
        await peer_http.aclose()
        broker = apps[settings.broker_base].state.broker  # type: ignore[attr-defined]
        broker.sessions.kw["bind"].dispose()


@pytest.fixture
async def browser(testbed_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:  # noqa: F811
    """SAML upstream only (the seeded default), the provider mock both SAML and OIDC."""
    async for client, _ in _browser(testbed_settings):
        yield client


@pytest.fixture
async def testbed(
    testbed_settings: Settings,  # noqa: F811
) -> AsyncIterator[tuple[httpx.AsyncClient, Router]]:
    """The browser and the in-process network, for a client that is not one of the mocks."""
    async for client, apps in _browser(testbed_settings):
        yield client, Router(apps)


@pytest.fixture
async def oidc_browser(oidc_upstream_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The identity-provider mock registered both as a SAML IdP and as an OpenID Provider."""
    async for client, _ in _browser(oidc_upstream_settings):
        yield client
