"""Console sessions in the store: found by the cookie's digest, until they expire."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from broker import console_session
from broker.db import make_engine, session_factory
from broker.models import ConsoleSession, Person
from services.settings import Settings


@pytest.fixture
def session(testbed_settings: Settings) -> Iterator[Session]:
    engine = make_engine(testbed_settings.sqlalchemy_url)
    with session_factory(engine)() as opened:
        yield opened
    engine.dispose()


def _someone(session: Session) -> int:
    return int(session.scalars(select(Person.id).limit(1)).one())


def test_a_session_is_found_by_its_token_and_only_its_digest_is_stored(session: Session) -> None:
    now = datetime.now(UTC)
    opened = console_session.open_session(session, person_pk=_someone(session), now=now)
    row = console_session.find(session, opened.token, now)
    assert row is not None and row.csrf_token == opened.csrf_token
    assert opened.token not in {r.token_sha256 for r in session.scalars(select(ConsoleSession))}


def test_an_expired_session_is_not_honoured_and_is_purged(session: Session) -> None:
    then = datetime.now(UTC) - console_session.LIFETIME - timedelta(seconds=1)
    opened = console_session.open_session(session, person_pk=_someone(session), now=then)
    now = datetime.now(UTC)
    assert console_session.find(session, opened.token, now) is None
    assert console_session.purge_expired(session, now) == 1


@pytest.mark.parametrize("token", [None, "", "x" * 129, "unknown"])
def test_a_missing_oversized_or_unknown_token_finds_nothing(
    session: Session, token: str | None
) -> None:
    assert console_session.find(session, token, datetime.now(UTC)) is None
