"""A real broker on loopback (uvicorn, real sockets) and real HTTP clients for its web service.

Two broker apps share one prepared database: one as deployed by default, one that trusts the
client-certificate header a TLS-terminating proxy forwards. The package's tests share them (a
server per test would be slow), so each test uses subscription ids of its own.
Runs on SQLite and, when ``TEST_POSTGRES_URL`` is set, on PostgreSQL in a schema of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from broker.api_auth import create_client
from broker.db import make_engine, session_factory
from services import dataset
from services.keys import KeyPair, generate
from services.settings import Settings
from tests.backends import BACKENDS, postgres_schema
from tests.loopback import serving

if TYPE_CHECKING:
    from services.cli import Service

NS = "http://www.atosworldline.com/wsabonnement/v1.0/"
OWN = dataset.MOCK_DISTRIBUTOR  # distributes the seeded mock resources
OTHER = dataset.EXEMPLE_DISTRIBUTOR
COLLEGE, LYCEE, ECOLE = dataset.COLLEGE_UAI, dataset.LYCEE_UAI, dataset.ECOLE_UAI
MATHS = "ark:/99999/r10001"
SEEDED_MATHS = f"ABO-MANUEL-MATHS-4E-{COLLEGE}"  # 30 student + 3 teacher licences, some used
SEEDED_ATLAS = f"ABO-ATLAS-GEOGRAPHIE-{COLLEGE}"  # the other distributor's


@dataclass(frozen=True)
class Live:
    base: str  # the web service, proxy header ignored
    proxied_base: str  # the same database, proxy certificate header trusted
    sessions: sessionmaker[Session]
    tokens: dict[str, str]  # own, other, ent, with_cert
    cert: KeyPair  # the certificate registered for the "with_cert" distributor


@pytest.fixture(scope="package", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('subs') / 'broker.sqlite3'}"
        return
    with postgres_schema("subs") as url:
        yield url


def _serve(settings_list: list[Settings]) -> Iterator[list[str]]:
    from broker.app import create_app
    from services.cli import Service, bind

    sockets = [bind("127.0.0.1", 0) for _ in settings_list]
    services = [
        Service(f"broker{i}", create_app(s), sock)
        for i, (s, sock) in enumerate(zip(settings_list, sockets, strict=True))
    ]
    for _ in serve_in_thread(services):
        yield [f"http://127.0.0.1:{sock.getsockname()[1]}/abonnements-ws" for sock in sockets]


def serve_in_thread(services: list[Service]) -> Iterator[None]:
    """Serve ``services`` as ``gar-testbed up`` does, in a thread, until the generator closes."""
    with serving(services, "subscriptions-ws"):
        yield


@pytest.fixture(scope="package")
def live(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    from broker.bootstrap import prepare

    data_dir: Path = tmp_path_factory.mktemp("subs-data")
    plain = Settings(data_dir=data_dir, host="127.0.0.1", DATABASE_URL=database_url)
    proxied = Settings(
        data_dir=data_dir,
        host="127.0.0.1",
        DATABASE_URL=database_url,
        api_trust_proxy_cert_header=True,
    )
    prepare(plain)
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    cert = generate("distributeur-certificat.example")
    with sessions.begin() as session:
        tokens = {
            "own": create_client(session, kind="distributor", ident=OWN, name="Simulé")[1],
            "other": create_client(session, kind="distributor", ident=OTHER, name="Exemple")[1],
            "ent": create_client(session, kind="ent", ident="ENT-TEST", name="ENT")[1],
            "with_cert": create_client(
                session,
                kind="distributor",
                ident="111111111_0000000000000001",
                name="Par certificat",
                cert_pem=cert.cert_pem,
            )[1],
        }
    try:
        for bases in _serve([plain, proxied]):
            yield Live(bases[0], bases[1], sessions, tokens, cert)
    finally:
        engine.dispose()


Client = Callable[..., httpx.Client]


@pytest.fixture(scope="package")
def client_for(live: Live) -> Iterator[Client]:
    """``client_for("own")``: a real HTTP client authenticated with that client's token.

    One client per (caller, server), kept for the package: making an httpx client loads a
    TLS context, which would otherwise dominate these tests' time.
    """
    opened: dict[tuple[str | None, str], httpx.Client] = {}

    def make(who: str | None = "own", *, base: str | None = None) -> httpx.Client:
        key = (who, base or live.base)
        if key not in opened:
            headers = {"Authorization": f"Bearer {live.tokens[who]}"} if who else {}
            opened[key] = httpx.Client(base_url=key[1], headers=headers, timeout=20)
        return opened[key]

    yield make
    for client in opened.values():
        client.close()


@pytest.fixture
def api(client_for: Client) -> httpx.Client:
    return client_for("own")


@pytest.fixture
def new_id() -> str:
    return f"ABO-T-{uuid.uuid4().hex[:12]}"
