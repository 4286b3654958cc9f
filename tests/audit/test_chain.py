"""The hash chain names the first broken record; retention purges leave it verifiable."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from broker import audit, audit_checkpoint
from broker.models import AuditCheckpoint, AuditHead, AuditRecord
from services.dataset import Dataset
from services.keys import KeyPair, generate
from tests.audit.conftest import NOW, make_history
from tests.audit.tamper import triggers_off


@pytest.fixture(scope="module")
def broker_key() -> KeyPair:
    return generate("gar-testbed broker (test)")


@pytest.fixture
def history(session: Session, academy: Dataset) -> list[int]:
    """Three days of decisions, oldest first: six records a day."""
    for days_ago in (20, 10, 0):
        make_history(session, academy, at=NOW - timedelta(days=days_ago))
    return list(session.scalars(select(AuditRecord.id).order_by(AuditRecord.id)))


def _verify(session: Session, key: KeyPair) -> audit_checkpoint.Verdict:
    session.expire_all()
    return audit_checkpoint.verify(session, [key.certificate])


def test_an_untouched_trail_verifies(session: Session, history: list[int],
                                     broker_key: KeyPair) -> None:
    verdict = _verify(session, broker_key)
    assert verdict.ok and verdict.records == len(history) == 18


def test_an_edited_record_is_named(session: Session, history: list[int],
                                   broker_key: KeyPair) -> None:
    with triggers_off(session):
        session.execute(update(AuditRecord).where(AuditRecord.id == history[4])
                        .values(released_codes=["IDO"]))
    session.commit()
    verdict = _verify(session, broker_key)
    assert (verdict.broken_id, verdict.problem) == (history[4], audit.ALTERED)


def test_a_deleted_record_breaks_the_link_of_the_next_one(session: Session, history: list[int],
                                                          broker_key: KeyPair) -> None:
    with triggers_off(session):
        session.execute(delete(AuditRecord).where(AuditRecord.id == history[7]))
    session.commit()
    verdict = _verify(session, broker_key)
    assert (verdict.broken_id, verdict.problem) == (history[8], audit.UNLINKED)


def test_deleting_the_newest_records_is_detected(session: Session, history: list[int],
                                                 broker_key: KeyPair) -> None:
    with triggers_off(session):
        session.execute(delete(AuditRecord).where(AuditRecord.id >= history[-2]))
    session.commit()
    verdict = _verify(session, broker_key)
    assert (verdict.broken_id, verdict.problem) == (history[-1], audit.TAIL_MISSING)


def test_a_record_inserted_with_a_correct_hash_is_named(session: Session, history: list[int],
                                                        broker_key: KeyPair) -> None:
    last = session.get(AuditRecord, history[-1])
    assert last is not None
    forged = AuditRecord(at=NOW, person_pk=None, provider_entity_id="https://sp",
                         resource_id="ark:/99999/r10001", uai=None, profile="National_elv",
                         protocol="saml", decision="granted", code="access.granted", basis=None,
                         released_codes=["NOM"], values_digest=None, assertion_id=None,
                         prev_hash=last.hash)
    forged.hash = audit.record_hash(forged)
    session.add(forged)  # straight into the table, not through audit.record
    session.commit()
    verdict = _verify(session, broker_key)
    assert (verdict.broken_id, verdict.problem) == (forged.id, audit.INSERTED)


def test_purge_keeps_verification_green(session: Session, history: list[int],
                                        broker_key: KeyPair) -> None:
    purged = audit_checkpoint.purge(session, NOW - timedelta(days=5), broker_key, now=NOW)
    session.commit()
    assert purged.count == 12 and purged.checkpoint is not None
    assert (purged.checkpoint.first_id, purged.checkpoint.last_id) == (history[0], history[11])
    verdict = _verify(session, broker_key)
    assert verdict.ok and verdict.records == 6 and verdict.checkpoints == 1


def test_successive_purges_chain_their_checkpoints(session: Session, history: list[int],
                                                   broker_key: KeyPair) -> None:
    audit_checkpoint.purge(session, NOW - timedelta(days=15), broker_key, now=NOW)
    audit_checkpoint.purge(session, NOW - timedelta(days=5), broker_key, now=NOW)
    session.commit()
    first, second = session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id))
    assert first.from_hash == audit.GENESIS and second.from_hash == first.to_hash
    assert _verify(session, broker_key).ok


def test_purging_nothing_writes_no_checkpoint(session: Session, history: list[int],
                                              broker_key: KeyPair) -> None:
    purged = audit_checkpoint.purge(session, NOW - timedelta(days=365), broker_key, now=NOW)
    session.commit()
    assert purged == audit_checkpoint.Purged(0, None)
    assert session.scalar(select(func.count()).select_from(AuditCheckpoint)) == 0


def test_purging_past_every_record_keeps_the_newest_and_the_trail_grows_on(
    session: Session, academy: Dataset, history: list[int], broker_key: KeyPair
) -> None:
    purged = audit_checkpoint.purge(session, NOW + timedelta(days=1), broker_key, now=NOW)
    session.commit()
    assert purged.count == len(history) - 1
    make_history(session, academy)
    verdict = _verify(session, broker_key)
    assert verdict.ok and verdict.records == 7
    assert min(session.scalars(select(AuditRecord.id))) == history[-1]


def test_a_checkpoint_with_an_edited_count_is_detected(session: Session, history: list[int],
                                                       broker_key: KeyPair) -> None:
    audit_checkpoint.purge(session, NOW - timedelta(days=5), broker_key, now=NOW)
    with triggers_off(session):
        session.execute(update(AuditCheckpoint).values(count=1))
    session.commit()
    verdict = _verify(session, broker_key)
    assert verdict.problem == audit_checkpoint.FORGED


def test_a_checkpoint_signed_with_another_key_is_detected(session: Session, history: list[int],
                                                          broker_key: KeyPair) -> None:
    intruder = generate("not the broker")
    audit_checkpoint.purge(session, NOW - timedelta(days=5), intruder, now=NOW)
    session.commit()
    verdict = _verify(session, broker_key)
    assert verdict.problem == audit_checkpoint.FORGED


def test_old_records_deleted_without_a_checkpoint_are_detected(
    session: Session, history: list[int], broker_key: KeyPair
) -> None:
    kept = session.get(AuditRecord, history[6])
    assert kept is not None
    with triggers_off(session):
        session.execute(delete(AuditRecord).where(AuditRecord.id < history[6]))
    session.execute(update(AuditHead).values(anchor_hash=kept.prev_hash))  # hide the deletion
    session.commit()
    verdict = _verify(session, broker_key)
    assert verdict.problem == audit_checkpoint.UNACCOUNTED


def test_a_deleted_checkpoint_is_detected(session: Session, history: list[int],
                                          broker_key: KeyPair) -> None:
    audit_checkpoint.purge(session, NOW - timedelta(days=15), broker_key, now=NOW)
    audit_checkpoint.purge(session, NOW - timedelta(days=5), broker_key, now=NOW)
    first = session.scalars(select(AuditCheckpoint.id).order_by(AuditCheckpoint.id)).first()
    with triggers_off(session):
        session.execute(delete(AuditCheckpoint).where(AuditCheckpoint.id == first))
    session.commit()
    verdict = _verify(session, broker_key)
    assert verdict.problem == audit_checkpoint.GAP
