"""Engines, schema migrations and sessions for SQLite (embedded) and PostgreSQL (production).

The schema is only ever created by Alembic, on both stores, so what the tests run against is
what production runs: ``migrate`` is idempotent and safe on every start.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def normalise_url(url: str) -> str:
    """Route bare ``postgresql://`` URLs to psycopg 3, the only PostgreSQL driver installed."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    in_memory = parsed.database in (None, "", ":memory:")
    options: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
    if in_memory:
        options["poolclass"] = StaticPool  # one shared connection, or each would see a new DB
    engine = create_engine(url, **options)
    event.listen(engine, "connect", _sqlite_pragmas(in_memory))
    return engine


def _sqlite_pragmas(in_memory: bool) -> Any:
    def on_connect(connection: sqlite3.Connection, _record: object) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if not in_memory:
            # Readers do not block the writer: several requests at once stay responsive.
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    return on_connect


def alembic_config() -> Config:
    if not (MIGRATIONS_DIR / "env.py").is_file():
        raise RuntimeError(f"Alembic migrations not found in {MIGRATIONS_DIR}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the latest revision (Alembic ``upgrade head``)."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    # Objects stay readable after commit: request handlers render them after the transaction.
    return sessionmaker(bind=engine, expire_on_commit=False)
