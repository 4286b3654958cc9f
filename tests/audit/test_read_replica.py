"""A read replica (``DATABASE_READ_URL``): the audit trail's views read it, nothing else does.

The replica here is a snapshot of the primary taken before one more access was recorded: a
replica lagging by one record. What the views answer shows which database they read.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from broker.db import make_engine, session_factory
from broker.models import AuditRecord
from services.dataset import COLLEGE_UAI, Dataset
from tests.audit.conftest import Audit, AuditDb, access, serve
from tests.backends import BACKENDS, postgres_schema


@dataclass(frozen=True)
class Lagging:
    primary: str
    replica: str
    on_primary: int  # records on the primary
    on_replica: int  # one fewer


def _count(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(AuditRecord))
                       .scalar_one())
    finally:
        engine.dispose()


def _backup(source: Path, target: Path) -> None:
    """A consistent copy, the write-ahead log included (a file copy could miss it)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


@pytest.fixture
def lagging(audit_db: AuditDb, academy: Dataset, tmp_path: Path) -> Lagging:
    shared = Path(audit_db.url.removeprefix("sqlite:///"))
    primary, replica = tmp_path / "primary.sqlite3", tmp_path / "replica.sqlite3"
    _backup(shared, primary)
    _backup(primary, replica)
    engine = make_engine(f"sqlite:///{primary}")
    with session_factory(engine)() as session:
        access(session, academy, "eleve.assigne", "maths", COLLEGE_UAI)
        session.commit()
    engine.dispose()
    urls = f"sqlite:///{primary}", f"sqlite:///{replica}"
    lag = Lagging(*urls, on_primary=_count(urls[0]), on_replica=_count(urls[1]))
    assert lag.on_primary == lag.on_replica + 1
    return lag


@pytest.fixture
def on_replica(lagging: Lagging, audit_db: AuditDb) -> Iterator[Audit]:
    with serve(lagging.primary, audit_db.data_dir, audit_db.tokens,
               DATABASE_READ_URL=lagging.replica) as audit:
        yield audit


@pytest.mark.parametrize("audit_db", ["sqlite"], indirect=True)
def test_the_records_api_reads_the_replica(on_replica: Audit, lagging: Lagging) -> None:
    answer = on_replica.client.get("/audit/api/records", headers=on_replica.bearer("auditor"))
    assert answer.status_code == 200
    assert answer.json()["total"] == lagging.on_replica


@pytest.mark.parametrize("audit_db", ["sqlite"], indirect=True)
def test_without_a_replica_the_records_api_reads_the_primary(
        lagging: Lagging, audit_db: AuditDb) -> None:
    with serve(lagging.primary, audit_db.data_dir, audit_db.tokens) as audit:
        answer = audit.client.get("/audit/api/records", headers=audit.bearer("auditor"))
    assert answer.json()["total"] == lagging.on_primary


@pytest.mark.parametrize("audit_db", ["sqlite"], indirect=True)
def test_the_export_reads_the_replica(on_replica: Audit, lagging: Lagging) -> None:
    answer = on_replica.client.get("/audit/api/records.jsonl", headers=on_replica.bearer("auditor"))
    assert len(answer.text.splitlines()) == lagging.on_replica


@pytest.mark.parametrize("audit_db", ["sqlite"], indirect=True)
def test_the_statistics_read_the_replica(
        on_replica: Audit, lagging: Lagging, audit_db: AuditDb) -> None:
    def granted(audit: Audit) -> object:
        answer = audit.client.get("/audit/api/statistics", headers=audit.bearer("auditor"))
        assert answer.status_code == 200
        return answer.json()["total"]

    with serve(lagging.primary, audit_db.data_dir, audit_db.tokens) as on_primary:
        assert granted(on_replica) != granted(on_primary)  # the access added after the snapshot


@pytest.mark.parametrize("audit_db", ["sqlite"], indirect=True)
def test_an_audit_session_opened_on_the_primary_reads_pages_from_the_replica(
        on_replica: Audit, lagging: Lagging) -> None:
    client = on_replica.client
    signed_in = client.post("/audit/connexion", data={"token": on_replica.tokens["auditor"]},
                            follow_redirects=False)
    assert signed_in.status_code == 303  # the session row is on the primary only
    page = client.get("/audit/")
    assert page.status_code == 200
    assert "Journal" in page.text


@pytest.mark.parametrize("audit_db", ["sqlite"], indirect=True)
def test_signing_out_writes_on_the_primary(on_replica: Audit, lagging: Lagging) -> None:
    client = on_replica.client
    client.post("/audit/connexion", data={"token": on_replica.tokens["auditor"]})
    page = client.get("/audit/")
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    out = client.post("/audit/deconnexion", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/audit/", follow_redirects=False).status_code == 303  # signed out


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite3'}"
    else:
        with postgres_schema("readonly") as url:
            yield url


def test_a_read_only_engine_reads_and_refuses_every_write(store_url: str) -> None:
    writer = make_engine(store_url)
    with writer.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
        connection.execute(text("INSERT INTO t VALUES (1)"))
    writer.dispose()
    reader = make_engine(store_url, read_only=True)
    try:
        with reader.connect() as connection:
            assert connection.execute(text("SELECT x FROM t")).scalar_one() == 1
        for write in ("INSERT INTO t VALUES (2)", "UPDATE t SET x = 3", "DELETE FROM t",
                      "CREATE TABLE u (y INTEGER)"):
            with reader.connect() as connection, pytest.raises(DBAPIError):
                connection.execute(text(write))
        with reader.connect() as connection:
            assert connection.execute(text("SELECT x FROM t")).scalar_one() == 1
    finally:
        reader.dispose()
