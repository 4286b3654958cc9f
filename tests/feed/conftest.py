"""Fixtures for the directory feed: a migrated database on each backend, the academy's files.

Every database test runs on SQLite and, when ``TEST_POSTGRES_URL`` is set, on PostgreSQL
too (the engine fixture of ``tests/domain``: a schema per test, dropped afterwards).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from io import BytesIO

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from broker import models
from broker.db import session_factory
from broker.feed import FeedReport, import_stream
from broker.seed import seed
from services.dataset import Dataset
from services.feed.names import parse_name
from services.feed.writer import documents
from tests.domain.conftest import academy, engine, migrated  # noqa: F401 - fixtures

AT = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
DIRECTORY = (models.Establishment, models.Person, models.PersonProfile, models.Group,
             models.GroupMember, models.Mef, models.PersonMef, models.Subject,
             models.PersonSubject, models.PersonLevel, models.PersonDiscipline, models.RespAff)


@pytest.fixture
def sessions(migrated: Engine) -> sessionmaker[Session]:  # noqa: F811
    return session_factory(migrated)


@pytest.fixture
def seeded(sessions: sessionmaker[Session], academy: Dataset) -> sessionmaker[Session]:  # noqa: F811
    """The academy seeded (its people through the feed), committed."""
    with sessions.begin() as session:
        seed(session, academy)
    return sessions


def feed_files(data: Dataset) -> dict[str, bytes]:
    """The dataset's feed files by kind (the academy fits one file per kind and variant):
    the secondary schools' as ``Eleve``, the primary schools' (1d) as ``1D-Eleve``."""
    files = {}
    for name, content in documents(data, at=AT):
        parsed = parse_name(name)
        assert parsed is not None
        files[parsed.kind if parsed.degree == "2D" else f"1D-{parsed.kind}"] = content
    return files


def apply(sessions: sessionmaker[Session], content: bytes, *, name: str = "flux.xml",
          strict: bool = False) -> FeedReport:
    with sessions.begin() as session:
        return import_stream(session, BytesIO(content), file_name=name, ent_id="ENT-TESTBED",
                             strict=strict)


def snapshot(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as session:
        return {model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
                for model in (*DIRECTORY, models.FeedImport)}


@pytest.fixture
def session(seeded: sessionmaker[Session]) -> Iterator[Session]:
    with seeded() as opened:
        yield opened
