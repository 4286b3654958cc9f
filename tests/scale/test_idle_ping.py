"""Pooled PostgreSQL connections: checked before use only after sitting idle (broker.db).

A connection killed on the server side (a restart, an idle timeout in between) must not fail
the next request once it has sat idle; a connection in steady use is not pinged at all.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from broker import db
from broker.db import normalise_url, ping_when_idle
from tests.backends import POSTGRES_URL

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="TEST_POSTGRES_URL is not set"),
]


@pytest.fixture
def admin() -> Iterator[Engine]:
    assert POSTGRES_URL is not None
    engine = create_engine(normalise_url(POSTGRES_URL))
    yield engine
    engine.dispose()


def _pooled(idle_seconds: float) -> Engine:
    assert POSTGRES_URL is not None
    engine = create_engine(normalise_url(POSTGRES_URL), pool_size=1, max_overflow=0)
    ping_when_idle(engine, idle_seconds)
    return engine


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(admin: Engine, pid: int) -> None:
    with admin.begin() as connection:
        assert connection.execute(text("SELECT pg_terminate_backend(:pid)"),
                                  {"pid": pid}).scalar_one()
    time.sleep(0.2)  # the backend exits asynchronously


def _count_pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    pings: list[int] = []
    real = engine.dialect.do_ping

    def counting(dbapi_connection: Any) -> bool:
        pings.append(1)
        return bool(real(dbapi_connection))

    monkeypatch.setattr(engine.dialect, "do_ping", counting)
    return pings


def test_a_connection_killed_while_idle_is_replaced_before_use(admin: Engine) -> None:
    engine = _pooled(idle_seconds=0.05)
    try:
        first = _backend_pid(engine)
        _terminate(admin, first)
        second = _backend_pid(engine)  # no error: the dead connection was discarded
        assert second != first
    finally:
        engine.dispose()


def test_without_the_idle_check_the_same_dead_connection_fails_the_request(
        admin: Engine) -> None:
    engine = _pooled(idle_seconds=3600)  # the check never runs: what it protects against
    try:
        _terminate(admin, _backend_pid(engine))
        with pytest.raises(OperationalError):
            _backend_pid(engine)
        assert _backend_pid(engine)  # and the pool recovers on the next checkout
    finally:
        engine.dispose()


def test_a_connection_in_steady_use_is_not_pinged(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _pooled(idle_seconds=60)
    pings = _count_pings(engine, monkeypatch)
    try:
        for _ in range(20):
            _backend_pid(engine)
        assert pings == []
    finally:
        engine.dispose()


def test_a_connection_idle_past_the_threshold_is_pinged_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _pooled(idle_seconds=0.05)
    pings = _count_pings(engine, monkeypatch)
    try:
        _backend_pid(engine)  # a new connection: nothing to check
        time.sleep(0.1)
        _backend_pid(engine)
        assert pings == [1]
    finally:
        engine.dispose()


def test_the_broker_engine_replaces_a_connection_killed_while_idle(
        admin: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.05)
    assert POSTGRES_URL is not None
    engine = db.make_engine(POSTGRES_URL)
    try:
        first = _backend_pid(engine)
        _terminate(admin, first)
        assert _backend_pid(engine) != first
    finally:
        engine.dispose()
