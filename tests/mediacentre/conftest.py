"""Fixtures for the mediacentre: a seeded broker app with API clients, and seeded sessions.

``api`` is one broker app per module and backend (SQLite, and PostgreSQL when
``TEST_POSTGRES_URL`` is set), on a database holding the synthetic academy plus one
establishment fed by another ENT; the tests only read it. ``session`` is a seeded database
per test, for tests that change rights: on SQLite a copy of the seeded file; on PostgreSQL
one schema seeded once per module, each test in a transaction rolled back at its end (the
code under test never commits), instead of migrating and seeding a schema per test.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from broker.api_auth import create_client
from broker.db import make_engine, migrate, session_factory
from broker.models import Establishment
from broker.seed import seed
from services.dataset import (
    COLLEGE_UAI,
    ENT_ID,
    EXEMPLE_DISTRIBUTOR,
    MOCK_DISTRIBUTOR,
    Dataset,
    build,
)
from services.settings import Settings
from tests.backends import BACKENDS, postgres_schema
from tests.domain.conftest import (  # noqa: F401 - fixtures shared with the domain tests
    PROVIDER_BASE,
    TODAY,
    academy,
    engine,
    seeded_sqlite_file,
)

OTHER_ENT = "ENT-VOISIN"
#: An establishment the directory knows, fed by another ENT (valid UAI check letter).
OTHER_ENT_UAI = "0359904A"
BROKER_BASE = "http://127.0.0.1:18000"


@dataclass(frozen=True)
class Api:
    client: TestClient
    tokens: dict[str, str]  # ent, other_ent, distributor, other_distributor

    def headers(self, who: str | None = "ent", **extra: str) -> dict[str, str]:
        auth = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return {**auth, **extra}


@pytest.fixture(scope="module", params=BACKENDS)
def api_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('mediacentre') / 'broker.sqlite3'}"
        return
    with postgres_schema("media") as url:
        yield url


@pytest.fixture(scope="module")
def api(api_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    from broker.app import create_app

    data_dir: Path = tmp_path_factory.mktemp("mediacentre-data")
    settings = Settings(data_dir=data_dir, host="127.0.0.1", broker_port=18000,
                        provider_port=18002, DATABASE_URL=api_database)
    db = make_engine(api_database)
    migrate(db)
    with session_factory(db).begin() as writing:
        seed(writing, build(provider_base=settings.provider_base, today=TODAY))
        writing.add(Establishment(uai=OTHER_ENT_UAI, name="Collège voisin", kind="college",
                                  academy="ACA-RENNES", city="Vitré", ent_id=OTHER_ENT))
        tokens = {
            "ent": create_client(writing, kind="ent", ident=ENT_ID, name="ENT du banc")[1],
            "other_ent": create_client(writing, kind="ent", ident=OTHER_ENT, name="Voisin")[1],
            "distributor": create_client(writing, kind="distributor", ident=MOCK_DISTRIBUTOR,
                                         name="Distributeur simulé")[1],
            "other_distributor": create_client(writing, kind="distributor",
                                               ident=EXEMPLE_DISTRIBUTOR, name="Exemple")[1],
        }
    db.dispose()
    with TestClient(create_app(settings), base_url=BROKER_BASE) as client:
        yield Api(client, tokens)


@pytest.fixture
def college() -> str:
    return COLLEGE_UAI


@pytest.fixture(scope="module", params=BACKENDS)
def seeded_store(request: pytest.FixtureRequest, academy: Dataset  # noqa: F811
                 ) -> Iterator[str | None]:
    """None for SQLite (each test copies the seeded file); a seeded PostgreSQL schema's URL."""
    if request.param == "sqlite":
        yield None
        return
    with postgres_schema("mediaseed") as url:
        db = make_engine(url)
        migrate(db)
        with session_factory(db).begin() as seeding:
            seed(seeding, academy)
        db.dispose()
        yield url


@pytest.fixture
def session(seeded_store: str | None, seeded_sqlite_file: Path,  # noqa: F811
            tmp_path: Path) -> Iterator[Session]:
    """A session on the seeded academy whose changes vanish after the test."""
    if seeded_store is None:
        path = tmp_path / "broker.sqlite3"
        shutil.copyfile(seeded_sqlite_file, path)
        db = make_engine(f"sqlite:///{path}")
        with session_factory(db)() as opened:
            yield opened
        db.dispose()
        return
    db = make_engine(seeded_store)
    connection = db.connect()
    outer = connection.begin()
    try:
        with Session(bind=connection, join_transaction_mode="create_savepoint",
                     expire_on_commit=False) as opened:
            yield opened
    finally:
        outer.rollback()
        connection.close()
        db.dispose()
