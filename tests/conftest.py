"""Fixtures every test folder may use. Folder-specific fixtures live in that folder's conftest."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services.settings import Settings

# Fixed loopback ports: nothing listens on them in-process tests (apps are called through
# httpx's ASGI transport); they only shape the URLs the services compute for each other.
BROKER_PORT, IDP_PORT, PROVIDER_PORT = 18000, 18001, 18002


@pytest.fixture(autouse=True)
def _no_testbed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's GAR_* or DATABASE_URL variables must not change what a test sees."""
    for name in list(os.environ):
        if name.startswith("GAR_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A testbed in a fresh data dir (keys, SQLite file), on fixed loopback ports."""
    return Settings(
        data_dir=tmp_path,
        host="127.0.0.1",
        broker_port=BROKER_PORT,
        idp_port=IDP_PORT,
        provider_port=PROVIDER_PORT,
    )


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def pg_url() -> str:
    """The PostgreSQL test database (``TEST_POSTGRES_URL``); skipped without one, except in CI."""
    url = os.environ.get("TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("TEST_POSTGRES_URL is not set in CI: .ci/run must provide PostgreSQL")
        pytest.skip("TEST_POSTGRES_URL is not set (PostgreSQL tests need a server)")
    return url
