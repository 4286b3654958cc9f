"""The database itself refuses to edit or delete audit rows (migration 0014), except a purge.

What this stops is the application and accidents: the tables' owner can switch the triggers
off (tests/audit/tamper.py plays that), and the chain and the seals catch them then.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import Engine, MetaData, Table, delete, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from broker import audit, audit_checkpoint
from broker.db import alembic_config, migrate, session_factory
from broker.models import AuditCheckpoint, AuditPurgePermit, AuditRecord, AuditSeal
from services.dataset import Dataset
from services.keys import KeyPair, generate
from tests.audit.conftest import NOW, make_history


@pytest.fixture(scope="module")
def broker_key() -> KeyPair:
    return generate("gar-testbed broker (test)")


@pytest.fixture
def purged(session: Session, academy: Dataset, broker_key: KeyPair) -> Session:
    """Records of 20 days ago purged (a checkpoint and a seal), and today's kept."""
    make_history(session, academy, at=NOW - timedelta(days=20))
    make_history(session, academy)
    assert audit_checkpoint.purge(session, NOW - timedelta(days=5), broker_key, now=NOW).count == 6
    session.commit()
    return session


def _refused(session: Session, statement: object) -> None:
    with pytest.raises(DBAPIError, match=r"audit\.append_only"):
        session.execute(statement)  # type: ignore[call-overload]
    session.rollback()


def test_a_raw_update_of_a_record_is_refused(purged: Session) -> None:
    _refused(purged, update(AuditRecord).values(released_codes=["IDO"]))


def test_a_raw_delete_of_a_record_is_refused(purged: Session) -> None:
    _refused(purged, delete(AuditRecord).where(AuditRecord.id == 8))
    assert purged.scalar(select(func.count()).select_from(AuditRecord)) == 6


@pytest.mark.parametrize("table", [AuditCheckpoint, AuditSeal])
def test_checkpoints_and_seals_can_be_neither_edited_nor_deleted(purged: Session,
                                                                 table: type) -> None:
    _refused(purged, update(table).values(key_sha256="0" * 64))
    _refused(purged, delete(table))
    assert purged.scalar(select(func.count()).select_from(table)) == 1


def test_a_truncate_is_refused_on_postgresql(purged: Session) -> None:
    if purged.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE (a DELETE without WHERE fires the triggers)")
    for table in ("audit_records", "audit_checkpoints", "audit_seals"):
        _refused(purged, text(f"TRUNCATE {table}"))


def test_a_purge_still_deletes_and_leaves_no_permit_behind(purged: Session, academy: Dataset,
                                                           broker_key: KeyPair) -> None:
    assert purged.scalar(select(func.count()).select_from(AuditPurgePermit)) == 0
    make_history(purged, academy, at=NOW + timedelta(days=1))
    assert audit_checkpoint.purge(purged, NOW + timedelta(hours=12), broker_key,
                                  now=NOW).count == 6
    purged.commit()
    assert purged.scalar(select(func.count()).select_from(AuditPurgePermit)) == 0
    assert audit_checkpoint.verify(purged, [broker_key.certificate]).ok
    _refused(purged, delete(AuditRecord))  # and the next raw delete is refused again


def test_records_written_before_migration_0014_still_verify_after_it(engine: Engine) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0013")
    older = Table("audit_records", MetaData(), autoload_with=engine)
    assert "upstream_protocol" not in older.c
    row = {"at": NOW, "person_pk": 1, "provider_entity_id": "https://sp",
           "resource_id": "ark:/99999/r10001", "uai": "0359901X", "profile": "National_elv",
           "protocol": "saml", "decision": "granted", "code": "access.granted", "basis": None,
           "released_codes": ["IDO"], "values_digest": "d" * 64, "assertion_id": "_a",
           "prev_hash": audit.GENESIS}
    fields = {**row, "at": NOW.isoformat()}
    row["hash"] = hashlib.sha256(audit.GENESIS.encode() + audit.canonical_json(fields)).hexdigest()
    with engine.begin() as connection:  # as the code before 0014 appended it
        new_id = connection.execute(older.insert().values(row)).inserted_primary_key[0]
        connection.execute(text("UPDATE audit_head SET last_id = :id, last_hash = :hash"),
                           {"id": new_id, "hash": row["hash"]})
    migrate(engine)
    with session_factory(engine)() as session:
        assert audit_checkpoint.verify(session, []).ok
        _refused(session, update(AuditRecord).values(uai=None))
