"""Signed seals catch what the chain alone cannot: a chain rewritten together with its head.

Each tampering here leaves a chain that verifies on its own (asserted first, so the test
shows the seal is what catches it), played by someone with the tables' owner rights.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from broker import audit, audit_checkpoint, audit_seal
from broker.models import AuditCheckpoint, AuditHead, AuditRecord, AuditSeal
from services.dataset import Dataset
from services.keys import KeyPair, generate
from tests.audit.conftest import NOW, make_history
from tests.audit.tamper import triggers_off


@pytest.fixture(scope="module")
def broker_key() -> KeyPair:
    return generate("gar-testbed broker (test)")


@pytest.fixture
def sealed(session: Session, academy: Dataset, broker_key: KeyPair) -> list[int]:
    """Two days of decisions (12 records), verified and sealed at the newest one."""
    for days_ago in (10, 0):
        make_history(session, academy, at=NOW - timedelta(days=days_ago))
    verdict = _verify(session, broker_key)
    assert verdict.ok and verdict.last is not None
    _seal(session, broker_key, verdict)
    return list(session.scalars(select(AuditRecord.id).order_by(AuditRecord.id)))


def _verify(session: Session, key: KeyPair,
            files: tuple[audit_seal.Seal, ...] = ()) -> audit_checkpoint.Verdict:
    session.expire_all()
    return audit_checkpoint.verify(session, [key.certificate], files)


def _seal(session: Session, key: KeyPair, verdict: audit_checkpoint.Verdict) -> audit_seal.Seal:
    row = audit_seal.write(session, key, now=NOW, reason="seal", last=verdict.last,
                           anchor_hash=verdict.anchor, records=verdict.records)
    session.commit()
    return audit_seal.of_row(row)


def _move_head_to(session: Session, record_id: int | None) -> None:
    """What hides a deletion or a rewrite from the chain alone: the head follows."""
    last = session.get(AuditRecord, record_id) if record_id is not None else None
    session.execute(update(AuditHead).values(
        last_id=record_id, last_hash=last.hash if last is not None else audit.GENESIS))


def _rehash_from(session: Session, first_id: int) -> None:
    """Recompute every hash from ``first_id`` on, as a tamperer who read the code would."""
    previous = session.scalar(select(AuditRecord.hash).where(AuditRecord.id < first_id)
                              .order_by(AuditRecord.id.desc()).limit(1)) or audit.GENESIS
    for entry in session.scalars(select(AuditRecord).where(AuditRecord.id >= first_id)
                                 .order_by(AuditRecord.id)):
        entry.prev_hash = previous
        entry.hash = audit.record_hash(entry)
        previous = entry.hash
    session.flush()


def test_a_sealed_chain_that_grows_still_verifies(session: Session, academy: Dataset,
                                                  sealed: list[int], broker_key: KeyPair) -> None:
    make_history(session, academy)
    verdict = _verify(session, broker_key)
    assert verdict.ok and verdict.seals == 1 and verdict.sealed_to == sealed[-1]
    assert "protégés que par la chaîne" in audit_checkpoint.explain(verdict)


def test_a_deleted_tail_with_the_head_moved_back_is_named(session: Session, sealed: list[int],
                                                          broker_key: KeyPair) -> None:
    with triggers_off(session):
        session.execute(delete(AuditRecord).where(AuditRecord.id >= sealed[-3]))
    _move_head_to(session, sealed[-4])
    session.commit()
    assert audit.first_break(session) is None  # the chain alone is fooled
    verdict = _verify(session, broker_key)
    assert (verdict.problem, verdict.broken_id) == (audit_seal.MISSING, sealed[-1])
    assert verdict.seal == "sceau n° 1"
    assert f"n° {sealed[-1]}" in audit_checkpoint.explain(verdict)


def test_an_edit_with_the_whole_chain_rehashed_is_detected(session: Session, sealed: list[int],
                                                           broker_key: KeyPair) -> None:
    with triggers_off(session):
        session.execute(update(AuditRecord).where(AuditRecord.id == sealed[3])
                        .values(released_codes=["IDO"]))
        _rehash_from(session, sealed[3])
    _move_head_to(session, sealed[-1])
    session.commit()
    assert audit.first_break(session) is None
    verdict = _verify(session, broker_key)
    assert (verdict.problem, verdict.broken_id) == (audit_seal.REWRITTEN, sealed[-1])


def test_a_wiped_trail_with_the_head_reset_is_detected(session: Session, sealed: list[int],
                                                       broker_key: KeyPair) -> None:
    with triggers_off(session):
        session.execute(delete(AuditRecord))
    session.execute(update(AuditHead).values(last_id=None, last_hash=audit.GENESIS,
                                             anchor_hash=audit.GENESIS))
    session.commit()
    assert audit.first_break(session) is None
    verdict = _verify(session, broker_key)
    assert (verdict.problem, verdict.broken_id) == (audit_seal.MISSING, sealed[-1])


def test_a_seal_kept_in_a_file_catches_a_wipe_of_the_seals_too(
    session: Session, sealed: list[int], broker_key: KeyPair
) -> None:
    kept = audit_seal.read_file(
        audit_seal.of_row(session.scalars(select(AuditSeal)).one()).as_json(), "sceau.json")
    with triggers_off(session):
        session.execute(delete(AuditRecord))
        session.execute(delete(AuditSeal))
        session.execute(delete(AuditCheckpoint))
    session.execute(update(AuditHead).values(last_id=None, last_hash=audit.GENESIS,
                                             anchor_hash=audit.GENESIS))
    session.commit()
    assert _verify(session, broker_key).ok  # nothing left in the database to tell
    verdict = _verify(session, broker_key, (kept,))
    assert (verdict.problem, verdict.seal) == (audit_seal.MISSING, "sceau.json")


def test_a_seal_not_signed_by_the_broker_is_refused(session: Session, sealed: list[int],
                                                    broker_key: KeyPair) -> None:
    verdict = _verify(session, broker_key)
    _seal(session, generate("not the broker"), verdict)
    assert _verify(session, broker_key).problem == audit_seal.FORGED


def test_an_edited_seal_file_is_refused(session: Session, sealed: list[int],
                                        broker_key: KeyPair) -> None:
    text = audit_seal.of_row(session.scalars(select(AuditSeal)).one()).as_json()
    forged = audit_seal.read_file(text.replace(f'"last_id": {sealed[-1]}',
                                               f'"last_id": {sealed[-2]}'), "sceau.json")
    assert _verify(session, broker_key, (forged,)).problem == audit_seal.FORGED


@pytest.mark.parametrize("text", ["", "{}", '{"format": "gar-testbed/audit-seal"}', "[1]",
                                  '{"format": "gar-testbed/audit-seal", "created_at": "x", '
                                  '"reason": "seal", "last_id": "1", "last_hash": "", '
                                  '"anchor_hash": "", "records": 1, "key_sha256": "", '
                                  '"signature": ""}'])
def test_a_malformed_seal_file_is_refused_in_french(text: str) -> None:
    with pytest.raises(ValueError, match="n'est pas un sceau"):
        audit_seal.read_file(text, "sceau.json")


def test_a_purge_past_the_sealed_record_keeps_the_seal_valid(
    session: Session, academy: Dataset, sealed: list[int], broker_key: KeyPair
) -> None:
    make_history(session, academy)
    purged = audit_checkpoint.purge(session, NOW + timedelta(days=1), broker_key, now=NOW)
    session.commit()
    assert purged.count > len(sealed)  # the sealed record left through the signed purge
    verdict = _verify(session, broker_key)
    assert verdict.ok and verdict.seals == 2  # the purge sealed what it left


def test_a_purge_seals_the_head_it_leaves(session: Session, sealed: list[int],
                                          broker_key: KeyPair) -> None:
    audit_checkpoint.purge(session, NOW - timedelta(days=5), broker_key, now=NOW)
    session.commit()
    newest = session.scalars(select(AuditSeal).order_by(AuditSeal.id.desc())).first()
    assert newest is not None and (newest.reason, newest.last_id) == ("purge", sealed[-1])
    assert newest.records == 6
