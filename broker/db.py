"""Engines, schema migrations and sessions for SQLite (embedded) and PostgreSQL (production).

The schema is only ever created by Alembic, on both stores, so what the tests run against is
what production runs: ``migrate`` is idempotent and safe on every start.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
#: A pooled PostgreSQL connection left unused for longer than this is checked before use.
IDLE_PING_SECONDS = 2.0


def normalise_url(url: str) -> str:
    """Route bare ``postgresql://`` URLs to psycopg 3, the only PostgreSQL driver installed."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, *, read_only: bool = False) -> Engine:
    """An engine on ``url``; ``read_only`` makes every transaction on it refuse writes (a read
    replica refuses them anyway: a write sent there by mistake fails the same way everywhere,
    the embedded SQLite included)."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(url)
        ping_when_idle(engine, IDLE_PING_SECONDS)
        if read_only:
            event.listen(engine, "connect", _postgres_read_only)
        return engine
    in_memory = parsed.database in (None, "", ":memory:")
    options: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
    if in_memory:
        options["poolclass"] = StaticPool  # one shared connection, or each would see a new DB
    engine = create_engine(url, **options)
    event.listen(engine, "connect", _sqlite_pragmas(in_memory, read_only))
    return engine


def _postgres_read_only(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    cursor.close()
    dbapi_connection.commit()


def ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Check a pooled connection before handing it out, but only one that sat unused.

    SQLAlchemy's ``pool_pre_ping`` sends a round trip at every checkout: at two checkouts per
    SSO flow and one per mediacentre list it cost ~0.65 ms of CPU per request (measured on the
    list, bench/README.md). A connection in steady use was alive milliseconds ago; one that sat
    idle (a database restart, a firewall's idle timeout) is the one worth checking. A dead one
    raises ``DisconnectionError`` here, which makes the pool discard it and connect afresh, as
    ``pool_pre_ping`` does. Residual: a server that dies within ``idle_seconds`` of a
    connection's last use fails that request once (as a ping-then-die would), and SQLAlchemy
    then invalidates the whole pool.
    """
    dialect = engine.dialect
    dbapi_error = dialect.loaded_dbapi.Error

    @event.listens_for(engine.pool, "checkin")
    def on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since <= idle_seconds:
            return  # new, or in use moments ago
        try:
            dialect.do_ping(dbapi_connection)
        except dbapi_error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise DisconnectionError() from error
            raise


def _sqlite_pragmas(in_memory: bool, read_only: bool = False) -> Any:
    def on_connect(connection: sqlite3.Connection, _record: object) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if not in_memory and not read_only:
            # Readers do not block the writer: several requests at once stay responsive.
            cursor.execute("PRAGMA journal_mode=WAL")
        if read_only:
            cursor.execute("PRAGMA query_only=ON")
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
