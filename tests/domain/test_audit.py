"""The audit trail: one record per decision, codes not values, a chain that shows tampering."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session

from broker.access import refusal
from broker.audit import GENESIS, purge, record, verify_chain
from broker.db import session_factory
from broker.domain import Grant, Release
from broker.models import AuditRecord
from tests.audit.tamper import triggers_off

AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
GRANT = Grant(resource_id="ark:/99999/r10001", provider_entity_id="https://sp", uais=("0359901X",),
              profile="National_elv", subscription_ids=("ABO-1",), assignment_ids=(7,),
              basis="INDIV")
RELEASE = Release(attributes={"IDO": ("f" * 128,), "NOM": ("Martin",), "DIV": ("4A##4A",)})


def _granted(session: Session, at: datetime = AT, assertion_id: str = "_x") -> AuditRecord:
    return record(session, person_pk=1, provider_entity_id="https://sp",
                  resource_id=GRANT.resource_id, uai="0359901X", protocol="saml", decision=GRANT,
                  release=RELEASE, assertion_id=assertion_id, at=at)


def _refused(session: Session, at: datetime = AT) -> AuditRecord:
    return record(session, person_pk=None, provider_entity_id="https://sp",
                  resource_id="ark:/99999/r10001", uai=None, protocol="saml",
                  decision=refusal("access.unknown_person"), release=None, assertion_id=None,
                  at=at)


def _chain(migrated: Engine, count: int) -> list[int]:
    with session_factory(migrated)() as session:
        ids = [_granted(session, AT + timedelta(minutes=i), f"_a{i}").id for i in range(count)]
        session.commit()
    return ids


def test_a_grant_records_codes_basis_and_a_digest_never_values(migrated: Engine) -> None:
    with session_factory(migrated)() as session:
        entry = _granted(session)
        session.commit()
        stored = session.get(AuditRecord, entry.id)
        assert stored is not None
        assert stored.decision == "granted" and stored.profile == "National_elv"
        assert stored.released_codes == ["IDO", "NOM", "DIV"]
        assert stored.basis == {"basis": "INDIV", "subscription_ids": ["ABO-1"],
                                "assignment_ids": [7], "uais": ["0359901X"]}
        canonical = json.dumps({"IDO": ["f" * 128], "NOM": ["Martin"], "DIV": ["4A##4A"]},
                               sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert stored.values_digest == hashlib.sha256(canonical.encode()).hexdigest()
        row_text = repr([getattr(stored, c.key) for c in AuditRecord.__table__.columns])
        assert "Martin" not in row_text and "f" * 128 not in row_text


def test_a_refusal_records_its_code_and_no_release(migrated: Engine) -> None:
    with session_factory(migrated)() as session:
        entry = _refused(session)
        session.commit()
        assert (entry.decision, entry.code) == ("refused", "access.unknown_person")
        assert entry.person_pk is None and entry.released_codes == []
        assert entry.values_digest is None and entry.basis is None


def test_the_record_joins_the_callers_transaction(migrated: Engine) -> None:
    sessions = session_factory(migrated)
    with sessions() as session:
        _granted(session)
        session.rollback()
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(AuditRecord)) == 0
        assert verify_chain(session) is None


def test_the_first_record_chains_from_genesis(migrated: Engine) -> None:
    with session_factory(migrated)() as session:
        first, second = _granted(session), _refused(session)
        session.commit()
        assert first.prev_hash == GENESIS
        assert second.prev_hash == first.hash


def test_an_intact_chain_verifies(migrated: Engine) -> None:
    _chain(migrated, 4)
    with session_factory(migrated)() as session:
        assert verify_chain(session) is None


def test_an_empty_chain_verifies(migrated: Engine) -> None:
    with session_factory(migrated)() as session:
        assert verify_chain(session) is None


@pytest.mark.parametrize(("column", "value"), [("resource_id", "ark:/99999/autre"),
                                               ("decision", "refused"),
                                               ("released_codes", ["IDO"]),
                                               ("person_pk", 2)])
def test_an_edited_record_is_detected(migrated: Engine, column: str, value: object) -> None:
    ids = _chain(migrated, 3)
    with session_factory(migrated)() as session:
        with triggers_off(session):
            session.execute(update(AuditRecord).where(AuditRecord.id == ids[1])
                            .values({column: value}))
        session.commit()
        assert verify_chain(session) == ids[1]


def test_an_edited_time_is_detected(migrated: Engine) -> None:
    ids = _chain(migrated, 3)
    with session_factory(migrated)() as session:
        with triggers_off(session):
            session.execute(update(AuditRecord).where(AuditRecord.id == ids[0])
                            .values(at=AT - timedelta(days=1)))
        session.commit()
        assert verify_chain(session) == ids[0]


def test_a_deleted_record_is_detected(migrated: Engine) -> None:
    ids = _chain(migrated, 3)
    with session_factory(migrated)() as session:
        with triggers_off(session):
            session.execute(delete(AuditRecord).where(AuditRecord.id == ids[1]))
        session.commit()
        assert verify_chain(session) == ids[2]


def test_a_deleted_last_record_is_detected(migrated: Engine) -> None:
    ids = _chain(migrated, 3)
    with session_factory(migrated)() as session:
        with triggers_off(session):
            session.execute(delete(AuditRecord).where(AuditRecord.id == ids[2]))
        session.commit()
        assert verify_chain(session) == ids[2]


def test_a_deleted_first_record_is_detected(migrated: Engine) -> None:
    ids = _chain(migrated, 3)
    with session_factory(migrated)() as session:
        with triggers_off(session):
            session.execute(delete(AuditRecord).where(AuditRecord.id == ids[0]))
        session.commit()
        assert verify_chain(session) == ids[1]


def test_a_rehashed_edit_still_breaks_the_next_link(migrated: Engine) -> None:
    ids = _chain(migrated, 3)
    with session_factory(migrated)() as session:
        with triggers_off(session):
            session.execute(update(AuditRecord).where(AuditRecord.id == ids[1])
                            .values(hash="0" * 64))
        session.commit()
        assert verify_chain(session) == ids[1]


def test_purging_old_records_keeps_a_verifiable_chain(migrated: Engine) -> None:
    ids = _chain(migrated, 4)
    with session_factory(migrated)() as session:
        assert purge(session, AT + timedelta(minutes=2)) == 2
        session.commit()
        assert session.scalars(select(AuditRecord.id).order_by(AuditRecord.id)).all() == ids[2:]
        assert verify_chain(session) is None
        _granted(session, AT + timedelta(minutes=10))
        session.commit()
        assert verify_chain(session) is None


def test_a_deletion_after_a_purge_is_still_detected(migrated: Engine) -> None:
    ids = _chain(migrated, 4)
    with session_factory(migrated)() as session:
        purge(session, AT + timedelta(minutes=1))
        with triggers_off(session):
            session.execute(delete(AuditRecord).where(AuditRecord.id == ids[1]))
        session.commit()
        assert verify_chain(session) == ids[2]


def test_a_naive_time_is_refused(migrated: Engine) -> None:
    with session_factory(migrated)() as session, pytest.raises(ValueError):
        _granted(session, at=datetime(2026, 11, 23, 10, 0))


def test_an_oversized_requested_resource_id_is_cut_to_the_column(migrated: Engine) -> None:
    with session_factory(migrated)() as session:
        entry = record(session, person_pk=1, provider_entity_id="https://sp",
                       resource_id="x" * 10_000, uai="u" * 1000, protocol="saml",
                       decision=refusal("access.unknown_resource"), release=None,
                       assertion_id="a" * 1000, at=AT)
        session.commit()
        assert entry.resource_id == "x" * 255
        assert verify_chain(session) is None


def test_concurrent_appends_keep_one_chain(migrated: Engine) -> None:
    sessions = session_factory(migrated)
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def append(worker: int) -> None:
        try:
            start.wait()
            for i in range(5):
                with sessions() as session:
                    _granted(session, AT + timedelta(seconds=i), f"_w{worker}_{i}")
                    session.commit()
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=append, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(AuditRecord)) == 20
        assert verify_chain(session) is None
