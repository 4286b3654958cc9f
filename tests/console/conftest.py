"""Fixtures for the assignment console: the in-process testbed, and an officer signed in.

The browser and backends are the end-to-end flows' own (``tests/flows/conftest.py``), on
SQLite and, when ``TEST_POSTGRES_URL`` is set, PostgreSQL. On SQLite the testbed is prepared
once and its data dir (keys, database, metadata) copied for each test, which keeps the folder
fast; PostgreSQL is prepared per test, as in the flows.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import lxml.html
import pytest

from broker.bootstrap import prepare
from services.settings import Settings
from tests.flows import conftest as flows
from tests.flows.harness import Router, log_in, walk

# The flows' fixtures, made visible to this folder.
anyio_backend, database_url = flows.anyio_backend, flows.database_url

HEAD = "chef.etablissement"
_DATABASE = "broker.sqlite3"


@pytest.fixture(scope="session")
def prepared_sqlite_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding a prepared SQLite testbed, made once per session."""
    folder = tmp_path_factory.mktemp("console-testbed")
    with pytest.MonkeyPatch.context() as patch:  # as tests/conftest.py does for each test
        for name in list(os.environ):
            if name.startswith("GAR_") or name == "DATABASE_URL":
                patch.delenv(name)
        prepare(Settings(data_dir=folder, DATABASE_URL=f"sqlite:///{folder / _DATABASE}"))
    return folder


@pytest.fixture
def testbed_settings(tmp_path: Path, database_url: str, prepared_sqlite_dir: Path) -> Settings:
    if database_url.startswith("sqlite"):
        shutil.copytree(prepared_sqlite_dir, tmp_path, dirs_exist_ok=True)
        return Settings(data_dir=tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / _DATABASE}")
    settings = Settings(data_dir=tmp_path, DATABASE_URL=database_url)
    prepare(settings)
    return settings


@pytest.fixture
async def browser(testbed_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The flows' in-process browser, whose broker closes its database connections after.

    Without that, each test would leave its connection pool to the garbage collector, and a
    PostgreSQL run could exhaust the server's connection slots.
    """
    from broker.app import create_app as broker_app
    from idp_mock.app import create_app as idp_app
    from provider_mock.app import create_app as provider_app

    apps: dict[str, Any] = {}
    peer_http = httpx.AsyncClient(transport=flows._LateRouter(apps))
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
        apps[testbed_settings.broker_base].state.broker.sessions.kw["bind"].dispose()


async def sign_in(browser: httpx.AsyncClient, settings: Settings, persona: str,
                  path: str = "/console/") -> httpx.Response:
    """Open a console page, go through the broker's single sign-on as ``persona``, land."""
    login_page = await walk(browser, await browser.get(f"{settings.broker_base}{path}"))
    return await walk(browser, await log_in(browser, login_page, persona))


def csrf_of(page: httpx.Response) -> str:
    tokens = lxml.html.fromstring(page.text).xpath('//input[@name="csrf_token"]/@value')
    assert tokens, page.text[:500]
    return str(tokens[0])


@pytest.fixture
async def head(browser: httpx.AsyncClient, testbed_settings: Settings) -> httpx.Response:
    """The head of the collège, signed in to the console: the page they land on."""
    page = await sign_in(browser, testbed_settings, HEAD)
    assert page.status_code == 200, page.text[:500]
    return page
