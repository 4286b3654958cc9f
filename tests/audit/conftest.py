"""Fixtures for the audit trail: a seeded database with real decisions, a broker app on it.

The database fixtures are the domain tests' own (SQLite, and PostgreSQL when
``TEST_POSTGRES_URL`` is set). Decisions are made by the real pipeline (``pipeline.run``),
so every record the tests read is one the broker itself wrote.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from broker import pipeline
from broker.api_auth import create_client
from broker.db import make_engine, migrate, session_factory
from broker.domain import Authentication, Grant, Refusal
from broker.models import Provider, Resource
from broker.seed import seed
from services.dataset import (
    COLLEGE_UAI,
    ENT_ID,
    EXEMPLE_DISTRIBUTOR,
    LYCEE_UAI,
    MOCK_DISTRIBUTOR,
    Dataset,
)
from services.settings import Settings
from tests.backends import BACKENDS, postgres_schema
from tests.domain import conftest as domain

# The domain tests' database fixtures, made visible to this folder.
academy, engine, migrated = domain.academy, domain.engine, domain.migrated
seeded_sqlite_file, session = domain.seeded_sqlite_file, domain.session

NOW = datetime.now(UTC).replace(microsecond=0)
IDO_SECRET = b"\x01" * 32
ARK = {"maths": "ark:/99999/r10001", "dictionnaire": "ark:/99999/r10002",
       "atlas": "ark:/99999/r20001"}
__all__ = ["ARK", "COLLEGE_UAI", "LYCEE_UAI", "NOW"]


def access(session: Session, academy: Dataset, login: str, resource: str, uai: str | None,
           *, at: datetime = NOW, ido_secret: bytes = IDO_SECRET,
           ido_scope: str = "provider") -> Grant | Refusal:
    """One decision through the real pipeline, as a SAML flow would make it."""
    person = academy.person(login)
    entity_id = session.scalar(
        select(Provider.entity_id).join(Resource, Resource.provider_id == Provider.id)
        .where(Resource.id == ARK[resource]))
    assert entity_id is not None
    auth = Authentication(issuer="https://idp", protocol="saml", subject=person.person_id,
                          attributes={"idEnt": [ENT_ID], "GARPersonIdentifiant":
                                      [person.person_id]},
                          assertion_id="_up", session_index=None)
    outcome = pipeline.run(session, auth, pipeline.Target(entity_id, ARK[resource], uai, "saml"),
                           now=at, ido_secret=ido_secret, ido_scope=ido_scope,
                           assertion_id=f"_a{login}{resource}", deliver=lambda granted: granted)
    return outcome.grant if isinstance(outcome, pipeline.Granted) else outcome


def make_history(session: Session, academy: Dataset, at: datetime = NOW) -> None:
    """Accesses in the collège and the lycée, to both providers, and one refusal."""
    for login, resource, uai in (
        ("eleve.assigne", "maths", COLLEGE_UAI),
        ("eleve.assigne", "dictionnaire", COLLEGE_UAI),
        ("eleve.assigne", "atlas", COLLEGE_UAI),
        ("eleve.lycee", "dictionnaire", LYCEE_UAI),
        ("eleve.lycee", "dictionnaire", LYCEE_UAI),
        ("eleve.sans.licence", "maths", COLLEGE_UAI),  # refused: no assignment
    ):
        access(session, academy, login, resource, uai, at=at)
    session.commit()


@dataclass(frozen=True)
class AuditDb:
    """One seeded database per module and backend, holding ``make_history`` and API clients.

    Tests that only read share it (seeding PostgreSQL costs seconds); tests that tamper or
    edit use the per-test ``session`` instead.
    """

    url: str
    sessions: sessionmaker[Session]
    tokens: dict[str, str]  # auditor, mock, exemple, ent
    data_dir: Path


@pytest.fixture(scope="module", params=BACKENDS)
def audit_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
             academy: Dataset, seeded_sqlite_file: Path) -> Iterator[AuditDb]:
    folder = tmp_path_factory.mktemp("audit")
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            shutil.copyfile(seeded_sqlite_file, folder / "broker.sqlite3")
            url = f"sqlite:///{folder / 'broker.sqlite3'}"
        else:
            url = stack.enter_context(postgres_schema("audit"))
        engine = make_engine(url)
        stack.callback(engine.dispose)
        sessions = session_factory(engine)
        if request.param != "sqlite":
            migrate(engine)
            with sessions.begin() as seeding:
                seed(seeding, academy)
        with sessions() as session:
            make_history(session, academy)
            tokens = {
                "auditor": create_client(session, kind="auditor", ident="dpo", name="DPO")[1],
                "mock": create_client(session, kind="distributor", ident=MOCK_DISTRIBUTOR,
                                      name="Éditions du banc d'essai")[1],
                "exemple": create_client(session, kind="distributor", ident=EXEMPLE_DISTRIBUTOR,
                                         name="Éditions Exemple")[1],
                "ent": create_client(session, kind="ent", ident=ENT_ID, name="ENT")[1],
            }
            session.commit()
        yield AuditDb(url, sessions, tokens, folder / "data")


@pytest.fixture
def db(audit_db: AuditDb) -> Iterator[Session]:
    """A session on the shared module database: for reading only."""
    with audit_db.sessions() as session:
        yield session


@dataclass(frozen=True)
class Audit:
    client: TestClient
    tokens: dict[str, str]
    settings: Settings

    def bearer(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@contextlib.contextmanager
def serve(url: str, data_dir: Path, tokens: dict[str, str], **overrides: Any) -> Iterator[Audit]:
    """The broker app on the database at ``url``, with settings ``overrides``."""
    from broker.app import create_app

    settings = Settings(data_dir=data_dir, host="127.0.0.1", broker_port=18000,
                        DATABASE_URL=url, **overrides)
    app = create_app(settings)
    try:
        with TestClient(app, base_url=settings.broker_base) as client:
            yield Audit(client, tokens, settings)
    finally:
        app.state.broker.sessions.kw["bind"].dispose()


@pytest.fixture
def audit_app(audit_db: AuditDb) -> Iterator[Audit]:
    """The broker app on the shared database, with a fresh client (no cookie, no header)."""
    with serve(audit_db.url, audit_db.data_dir, audit_db.tokens) as audit:
        yield audit
