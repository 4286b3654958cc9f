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
def migrated_session(settings: Settings) -> Iterator[Session]:
    from broker.db import make_engine, migrate, session_factory

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.sqlalchemy_url)
    try:
        migrate(engine)
        with session_factory(engine).begin() as session:
            yield session
    finally:
        engine.dispose()
