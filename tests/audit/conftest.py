"""Fixtures for the audit trail: a seeded database with real decisions, a broker app on it.

The database fixtures are the domain tests' own (SQLite, and PostgreSQL when
``TEST_POSTGRES_URL`` is set). Decisions are made by the real pipeline (``pipeline.run``),
so every record the tests read is one the broker itself wrote.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from broker import pipeline
from broker.api_auth import create_client
from broker.domain import Authentication, Grant, Refusal
from broker.models import Provider, Resource
from services.dataset import (
    COLLEGE_UAI,
    ENT_ID,
    EXEMPLE_DISTRIBUTOR,
    LYCEE_UAI,
    MOCK_DISTRIBUTOR,
    Dataset,
)
from services.settings import Settings
from tests.domain.conftest import (  # noqa: F401 - fixtures shared with the domain tests
    PROVIDER_BASE,
    academy,
    engine,
    migrated,
    seeded_sqlite_file,
    session,
)

NOW = datetime.now(UTC).replace(microsecond=0)
IDO_SECRET = b"\x01" * 32
ARK = {"maths": "ark:/99999/r10001", "dictionnaire": "ark:/99999/r10002",
       "atlas": "ark:/99999/r20001"}
__all__ = ["COLLEGE_UAI", "LYCEE_UAI", "ARK", "NOW"]


def access(session: Session, academy: Dataset, login: str, resource: str, uai: str | None,
           *, at: datetime = NOW, ido_secret: bytes = IDO_SECRET) -> Grant | Refusal:
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
                           now=at, ido_secret=ido_secret, ido_scope="provider",
                           assertion_id=f"_a{login}{resource}")
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
class Audit:
    client: TestClient
    tokens: dict[str, str]  # auditor, mock, exemple, ent
    settings: Settings

    def bearer(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
def audit_app(session: Session, academy: Dataset, engine: Engine,
              tmp_path: Path) -> Iterator[Audit]:
    """The broker app on the seeded database, with a history and one client per role."""
    from broker.app import create_app

    settings = Settings(data_dir=tmp_path / "data", host="127.0.0.1", broker_port=18000,
                        DATABASE_URL=engine.url.render_as_string(hide_password=False))
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
    app = create_app(settings)
    with TestClient(app, base_url=settings.broker_base) as client:
        yield Audit(client, tokens, settings)
    app.state.broker.sessions.kw["bind"].dispose()
