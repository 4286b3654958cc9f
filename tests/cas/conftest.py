"""The CAS flows run on the same in-process testbed as tests/flows (SQLite, and PostgreSQL)."""

from __future__ import annotations

from tests.flows.conftest import _LateRouter, anyio_backend, browser, database_url, testbed_settings

__all__ = ["_LateRouter", "anyio_backend", "browser", "database_url", "testbed_settings"]
