"""Fixtures for licence accounting: the domain ones (seeded academy on SQLite, and PostgreSQL
with ``TEST_POSTGRES_URL``). Builders live in ``tests.licences.builders``."""

from tests.domain.conftest import (  # noqa: F401 - fixtures shared with the domain tests
    academy,
    engine,
    migrated,
    seeded_sqlite_file,
    session,
)
