"""Fixtures for the mediacentre: a seeded broker app with API clients, and seeded sessions.

``api`` is one broker app per module and backend (SQLite, and PostgreSQL when
``TEST_POSTGRES_URL`` is set), on a database holding the synthetic academy plus one
establishment fed by another ENT; the tests only read it. ``session`` (from the domain
fixtures) is a fresh seeded database per test, for tests that change rights.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from broker.api_auth import create_client
from broker.db import make_engine, migrate, session_factory
from broker.models import Establishment
from broker.seed import seed
from services.dataset import COLLEGE_UAI, ENT_ID, EXEMPLE_DISTRIBUTOR, MOCK_DISTRIBUTOR, build
from services.settings import Settings
from tests.backends import BACKENDS, postgres_schema
from tests.domain.conftest import (  # noqa: F401 - fixtures shared with the domain tests
    PROVIDER_BASE,
    TODAY,
    academy,
    engine,
    seeded_sqlite_file,
    session,
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
