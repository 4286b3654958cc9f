"""The broker's database as the command line opens it: migrated first, one transaction.

Every command that writes (clients, OIDC registrations, resources, the audit trail) works on
a fresh data directory too, so it migrates before it opens its transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from services.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@contextmanager
def migrated_session(settings: Settings, *, snapshot: bool = False) -> Iterator[Session]:
    """``snapshot``: every read of the transaction sees the same state (REPEATABLE READ on
    PostgreSQL; on SQLite an explicit BEGIN, since the driver starts none before a SELECT),
    for a check that reads a lot while the broker keeps writing. Such a session only reads."""
    from broker.db import make_engine, migrate, session_factory

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.sqlalchemy_url)
    try:
        migrate(engine)
        reading = engine.execution_options(isolation_level="REPEATABLE READ") \
            if snapshot and engine.dialect.name == "postgresql" else engine
        with session_factory(reading).begin() as session:
            if snapshot and engine.dialect.name == "sqlite":
                session.connection().exec_driver_sql("BEGIN")
            yield session
    finally:
        engine.dispose()
