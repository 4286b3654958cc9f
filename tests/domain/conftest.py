"""Fixtures for the broker's domain: a migrated database on each backend, the academy.

Every database test runs on SQLite and, when ``TEST_POSTGRES_URL`` is set, on PostgreSQL too,
each test in a schema of its own that is dropped afterwards.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from broker.db import make_engine, migrate, session_factory
from broker.directory import load_person
from broker.domain import PersonView
from broker.models import Person
from broker.seed import seed
from services.dataset import Dataset, build
from tests.backends import BACKENDS, postgres_schema

PROVIDER_BASE = "http://127.0.0.1:8002"
TODAY: date = datetime.now(UTC).date()



@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        sqlite_engine = make_engine(f"sqlite:///{tmp_path / 'broker.sqlite3'}")
        yield sqlite_engine
        sqlite_engine.dispose()
        return
    with postgres_schema("test") as url:
        pg_engine = make_engine(url)
        try:
            yield pg_engine
        finally:
            pg_engine.dispose()


@pytest.fixture
def migrated(engine: Engine) -> Engine:
    migrate(engine)
    return engine


@pytest.fixture(scope="session")
def academy() -> Dataset:
    return build(provider_base=PROVIDER_BASE, today=TODAY)


@pytest.fixture(scope="session")
def seeded_sqlite_file(tmp_path_factory: pytest.TempPathFactory, academy: Dataset) -> Path:
    """A migrated and seeded SQLite file, copied by each test instead of seeding again."""
    path = tmp_path_factory.mktemp("template") / "seeded.sqlite3"
    template = make_engine(f"sqlite:///{path}")
    migrate(template)
    with session_factory(template)() as seeding:
        seed(seeding, academy)
        seeding.commit()
    with template.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    template.dispose()
    return path


@pytest.fixture
def session(engine: Engine, academy: Dataset, seeded_sqlite_file: Path) -> Iterator[Session]:
    """A session on a migrated database holding the seeded academy."""
    if engine.dialect.name == "sqlite":
        assert engine.url.database is not None
        shutil.copyfile(seeded_sqlite_file, engine.url.database)  # before the first connection
    else:
        migrate(engine)
        with session_factory(engine)() as seeding:
            seed(seeding, academy)
            seeding.commit()
    with session_factory(engine)() as opened:
        yield opened


def person_view(session: Session, login: str, academy: Dataset) -> PersonView:
    person_id = academy.person(login).person_id
    pk = session.scalar(select(Person.id).where(Person.person_id == person_id))
    assert pk is not None, login
    return load_person(session, pk)
