"""Benchmark: subscriptions created per second through the real XML web service.

A prepared broker (the synthetic academy) is served by uvicorn in a child process on a free
loopback port, so only the broker is measured; this process is the distributor: httpx clients
with a per-distributor bearer token, each ``PUT /abonnements-ws/{id}`` carrying an
``abonnement`` body written as a distributor's client writes it (GAR_REFERENCE §3). Each run
creates ``--count`` new subscriptions with ``--clients`` concurrent keep-alive connections;
the figure is the median of ``--runs`` runs (after one warm-up run that is not counted).
Every answer must be 201, or the benchmark stops.

    python bench/subscriptions_ws.py [--count 1000] [--runs 5] [--clients 4]
                                     [--postgres postgresql+psycopg://...]

SQLite always; PostgreSQL too with ``--postgres`` (or ``TEST_POSTGRES_URL``), in a
throw-away schema dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NS = "http://www.atosworldline.com/wsabonnement/v1.0/"
RESOURCE = "ark:/99999/r10001"


def body(subscription_id: str, distributor: str, uai: str, year: int) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<abonnement xmlns="{NS}">
  <idAbonnement>{subscription_id}</idAbonnement>
  <commentaireAbonnement>Banc de mesure</commentaireAbonnement>
  <idDistributeurCom>{distributor}</idDistributeurCom>
  <idRessource>{RESOURCE}</idRessource>
  <typeIdRessource>ark</typeIdRessource>
  <libelleRessource>Mathématiques 4e</libelleRessource>
  <debutValidite>{year}-09-01T00:00:00</debutValidite>
  <finValidite>{year + 1}-08-31T23:59:59</finValidite>
  <uaiEtab>{uai}</uaiEtab>
  <categorieAffectation>transferable</categorieAffectation>
  <typeAffectation>INDIV</typeAffectation>
  <nbLicenceEleve>25</nbLicenceEleve>
  <nbLicenceEnseignant>2</nbLicenceEnseignant>
  <publicCible>ELEVE</publicCible>
  <publicCible>ENSEIGNANT</publicCible>
  <codeProjetRessource>PRJ-BENCH</codeProjetRessource>
</abonnement>""".encode()


def serve(data_dir: str, database_url: str, port: int) -> None:
    """The child process: the broker app alone, one uvicorn worker, no access log."""
    import uvicorn

    from broker.app import create_app
    from services.settings import Settings

    settings = Settings(data_dir=Path(data_dir), host="127.0.0.1", DATABASE_URL=database_url)
    uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning",
                access_log=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from broker.db import normalise_url

    schema = f"bench_subs_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_url(url))
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield make_url(normalise_url(url)).update_query_dict(
            {"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def broker(data_dir: Path, database_url: str) -> Iterator[tuple[str, str]]:
    """A prepared broker in a child process: (base URL of the web service, token)."""
    import httpx

    from broker.api_auth import create_client
    from broker.bootstrap import prepare
    from broker.db import make_engine, session_factory
    from services import dataset
    from services.settings import Settings

    prepare(Settings(data_dir=data_dir, host="127.0.0.1", DATABASE_URL=database_url))
    engine = make_engine(database_url)
    with session_factory(engine).begin() as session:
        token = create_client(session, kind="distributor", ident=dataset.MOCK_DISTRIBUTOR,
                              name="Banc de mesure")[1]
    engine.dispose()
    port = free_port()
    child = subprocess.Popen(  # noqa: S603 - this very script
        [sys.executable, __file__, "--serve", str(data_dir), database_url, str(port)])
    base = f"http://127.0.0.1:{port}/abonnements-ws"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/etablissements/etablissements.xml",
                          headers={"Authorization": f"Bearer {token}"}, timeout=2)
                break
            except httpx.TransportError:
                if child.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the broker did not start") from None
                time.sleep(0.1)
        yield base, token
    finally:
        child.terminate()
        child.wait(timeout=15)


def one_run(base: str, token: str, prefix: str, count: int, clients: int) -> float:
    """Create ``count`` subscriptions with ``clients`` connections; subscriptions per second."""
    import httpx

    from services import dataset

    now = datetime.now(UTC)
    year = now.year if now.month >= 9 else now.year - 1
    bodies = [(f"{prefix}-{i:06d}", body(f"{prefix}-{i:06d}", dataset.MOCK_DISTRIBUTOR,
                                         dataset.COLLEGE_UAI, year)) for i in range(count)]
    shares = [bodies[k::clients] for k in range(clients)]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/xml"}

    def work(mine: list[tuple[str, bytes]]) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            for subscription_id, content in mine:
                answer = client.put(f"/{subscription_id}", content=content)
                if answer.status_code != 201:
                    raise SystemExit(f"{subscription_id}: {answer.status_code} {answer.text}")

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(work, shares))
    return count / (time.perf_counter() - started)


def measure(store: str, database_url: str, args: argparse.Namespace) -> float:
    with tempfile.TemporaryDirectory() as work, broker(Path(work), database_url) as (base, token):
        one_run(base, token, "WARM", max(50, args.count // 10), args.clients)
        rates = []
        for run in range(args.runs):
            rate = one_run(base, token, f"B{run}", args.count, args.clients)
            rates.append(rate)
            print(f"  {store}: run {run + 1}/{args.runs}: {rate:,.0f} subscriptions/s",
                  flush=True)
        return statistics.median(rates)


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--serve":
        serve(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1000, help="subscriptions per run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--clients", type=int, default=4, help="concurrent connections")
    parser.add_argument("--postgres", default=os.environ.get("TEST_POSTGRES_URL"),
                        help="PostgreSQL URL (a throw-away schema is used)")
    args = parser.parse_args()
    print(f"conditions: {args.count} subscriptions per run, {args.runs} runs (median), "
          f"{args.clients} concurrent keep-alive clients, 1 uvicorn worker in its own process, "
          f"token auth, XML bodies; Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, {platform.machine()}", flush=True)
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        results["SQLite (file, WAL)"] = measure(
            "sqlite", f"sqlite:///{Path(folder) / 'broker.sqlite3'}", args)
    if args.postgres:
        with postgres_schema(args.postgres) as url:
            results["PostgreSQL 15 (loopback)"] = measure("postgres", url, args)
    else:
        print("PostgreSQL skipped: give --postgres or set TEST_POSTGRES_URL")
    for store, rate in results.items():
        print(f"{store}: median {rate:,.0f} subscriptions created per second")


if __name__ == "__main__":
    main()
