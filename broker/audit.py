"""The audit trail: one append-only, hash-chained record per decision.

A record holds who (internal person reference, never a value from an assertion), which
provider, resource and establishment, the decision and its basis, the attribute *codes*
released and a SHA-256 digest of the values — never the values. Each record's hash covers
its fields and the previous record's hash, so editing or deleting a record breaks the chain
(:func:`verify_chain`).

The database refuses to UPDATE a record, and to DELETE one outside :func:`purge` (triggers of
migration 0014, with a permit row the purge holds inside its own transaction): that stops the
application and accidents. A database owner can drop a trigger; what catches them is the chain
and, for a chain rewritten together with its head, the signed seals (``broker.audit_seal``).

Appends are serialised on the single ``audit_head`` row: the first statement of an append
updates it (and returns the previous hash), which on PostgreSQL takes its row lock until commit
and on SQLite takes the database's write lock. An append is two statements on PostgreSQL (the
record's INSERT and the head's UPDATE share one, a data-modifying CTE) and three on SQLite.
Two concurrent decisions therefore chain one after the other instead of both claiming the
same predecessor. The record joins the caller's transaction: a decision that rolls back
leaves no record, and none is committed here.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from broker.domain import Authentication, Grant, Refusal, Release
from broker.models import AuditHead, AuditPurgePermit, AuditRecord, table

GENESIS = "0" * 64
_HEAD_ID = 1
HEAD_ID = _HEAD_ID


def canonical_json(value: Any) -> bytes:
    """The one serialisation hashed: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def values_digest(release: Release) -> str:
    return hashlib.sha256(
        canonical_json({code: list(values) for code, values in release.attributes.items()})
    ).hexdigest()


def ido_digest(release: Release, key: bytes) -> str | None:
    """A keyed digest of the ``IDO`` released, or None when none was.

    Keyed (``key`` derives from the IDO secret), so that nobody but the broker can compute it
    from an ``IDO``: a provider holding its users' identifiers finds nothing in an export.
    The linkability check compares these digests across providers for one person.
    """
    values = release.attributes.get("IDO")
    if not values:
        return None
    return hmac.new(key, values[0].encode(), hashlib.sha256).hexdigest()


@functools.lru_cache(maxsize=4)
def ido_digest_key(ido_secret: bytes) -> bytes:
    return hmac.new(ido_secret, b"gar-testbed audit: IDO digest", hashlib.sha256).digest()


def _clip(value: str | None, size: int) -> str | None:
    """Untrusted identifiers (a requested resource id, say) are cut to the column size."""
    return None if value is None else value[:size]


#: Fields added after records existed (migration 0014): hashed only when set, so an older
#: record (NULL there) keeps its hash.
_LATER_FIELDS = ("upstream_protocol", "upstream_issuer", "upstream_assertion_id", "ido_digest")


def _fields(record: AuditRecord) -> dict[str, Any]:
    later = {name: getattr(record, name) for name in _LATER_FIELDS
             if getattr(record, name) is not None}
    return later | {
        "at": record.at.astimezone(UTC).isoformat(),
        "person_pk": record.person_pk,
        "provider_entity_id": record.provider_entity_id,
        "resource_id": record.resource_id,
        "uai": record.uai,
        "profile": record.profile,
        "protocol": record.protocol,
        "decision": record.decision,
        "code": record.code,
        "basis": record.basis,
        "released_codes": list(record.released_codes or []),
        "values_digest": record.values_digest,
        "assertion_id": record.assertion_id,
        "prev_hash": record.prev_hash,
    }


def record_hash(record: AuditRecord) -> str:
    return hashlib.sha256(record.prev_hash.encode() + canonical_json(_fields(record))).hexdigest()


def _lock_head(session: Session) -> AuditHead:
    """Take the append lock (a write, first) and return the chain head."""
    locked = session.execute(
        update(AuditHead).where(AuditHead.id == _HEAD_ID).values(last_id=AuditHead.last_id)
        .execution_options(synchronize_session=False)
    )
    if getattr(locked, "rowcount", 0) != 1:
        # Only for a schema made without the migration (which creates the row).
        session.add(AuditHead(id=_HEAD_ID, last_id=None, last_hash=GENESIS, anchor_hash=GENESIS))
        session.flush()
    head = session.scalars(
        select(AuditHead).where(AuditHead.id == _HEAD_ID).with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    return head


def lock_head(session: Session) -> AuditHead:
    """Take the chain's append lock (retention purges take it too) and return the head."""
    return _lock_head(session)


def record(
    session: Session,
    *,
    person_pk: int | None,
    provider_entity_id: str | None,
    resource_id: str | None,
    uai: str | None,
    protocol: str,
    decision: Grant | Refusal,
    release: Release | None,
    assertion_id: str | None,
    at: datetime,
    upstream: Authentication | None = None,
    ido_digest: str | None = None,
) -> AuditRecord:
    """Append one decision to the chain in the caller's transaction.

    ``assertion_id`` is what went out (assertion, token or ticket id; None for a refusal),
    ``upstream`` who vouched for the person and how (protocol, issuer, assertion or token id).
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("audit times must be timezone-aware")
    at = at.astimezone(UTC)
    if isinstance(decision, Grant):
        outcome, code, profile = "granted", "access.granted", decision.profile
        basis: dict[str, Any] | None = {
            "basis": decision.basis,
            "subscription_ids": list(decision.subscription_ids),
            "assignment_ids": list(decision.assignment_ids),
            "uais": list(decision.uais),
        }
    else:
        outcome, code, profile, basis = "refused", decision.code, None, None
    prev_hash = _lock_for_append(session)
    entry = AuditRecord(
        at=at,
        person_pk=person_pk,
        provider_entity_id=_clip(provider_entity_id, 1024),
        resource_id=_clip(resource_id, 255),
        uai=_clip(uai, 255),
        profile=profile,
        protocol=protocol[:16],
        decision=outcome,
        code=code[:64],
        basis=basis,
        released_codes=list(release.attributes) if release is not None else [],
        values_digest=values_digest(release) if release is not None else None,
        assertion_id=_clip(assertion_id, 256),
        prev_hash=prev_hash,
        upstream_protocol=_clip(upstream.protocol, 16) if upstream is not None else None,
        upstream_issuer=_clip(upstream.issuer, 1024) if upstream is not None else None,
        upstream_assertion_id=_clip(upstream.assertion_id, 256) if upstream is not None
        else None,
        ido_digest=ido_digest,
    )
    entry.hash = record_hash(entry)
    entry.id = _append(session, entry)
    return entry


_RECORDS = table(AuditRecord)
_HEAD = table(AuditHead)
_RECORD_COLUMNS = tuple(c.key for c in _RECORDS.columns if c.key != "id")

# The append's statements, built once on the tables (Core: no ORM bulk-update machinery), with
# bound parameters (``b_`` + column): building them per login, with the values inlined, cost
# more than running them.
_LOCK = (
    update(_HEAD).where(_HEAD.c.id == _HEAD_ID).values(last_id=_HEAD.c.last_id)
    .returning(_HEAD.c.last_hash)
)
_INSERT = insert(_RECORDS).values(
    {key: bindparam(f"b_{key}", type_=_RECORDS.c[key].type) for key in _RECORD_COLUMNS}
).returning(_RECORDS.c.id)
_MOVE_HEAD = update(_HEAD).where(_HEAD.c.id == _HEAD_ID).values(
    last_id=bindparam("b_last_id"), last_hash=bindparam("b_last_hash")
)
_APPENDED = _INSERT.cte("appended")
_INSERT_AND_MOVE_HEAD = (  # PostgreSQL: the INSERT as a data-modifying CTE of the UPDATE
    update(_HEAD).add_cte(_APPENDED).where(_HEAD.c.id == _HEAD_ID)
    .values(last_id=select(_APPENDED.c.id).scalar_subquery(), last_hash=bindparam("b_last_hash"))
    .returning(_HEAD.c.last_id)
)


def _lock_for_append(session: Session) -> str:
    """Take the append lock and read the chain's last hash: one UPDATE … RETURNING."""
    locked = session.execute(_LOCK).scalar_one_or_none()
    if locked is None:
        # Only for a schema made without the migration (which creates the row).
        return _lock_head(session).last_hash
    return str(locked)


def _append(session: Session, entry: AuditRecord) -> int:
    """Insert the record and move the head onto it; the record's id.

    Core statements, not the unit of work: no flush, no identity-map bookkeeping. On
    PostgreSQL the INSERT is a data-modifying CTE of the head's UPDATE (one round trip).
    """
    values: dict[str, Any] = {f"b_{key}": getattr(entry, key) for key in _RECORD_COLUMNS}
    values["b_last_hash"] = entry.hash
    if session.get_bind().dialect.name == "postgresql":
        new_id = session.execute(_INSERT_AND_MOVE_HEAD, values).scalar_one()
    else:
        new_id = session.execute(_INSERT, values).scalar_one()
        session.execute(_MOVE_HEAD, {"b_last_id": new_id, "b_last_hash": entry.hash})
    held = session.identity_map.get(session.identity_key(AuditHead, _HEAD_ID))
    if held is not None:
        session.expire(held)  # an AuditHead loaded earlier in this session is now stale
    assert new_id is not None
    return int(new_id)


#: Why a chain breaks at a record (stable codes, see :func:`first_break`).
ALTERED = "audit.record_altered"  # its fields no longer give its hash: edited
UNLINKED = "audit.link_broken"  # its predecessor is not the one it names: inserted or deleted
TAIL_MISSING = "audit.tail_missing"  # the newest records the head remembers are gone
INSERTED = "audit.record_inserted"  # a record after the newest one the head remembers


def first_break(session: Session) -> tuple[int, str] | None:
    """The first record that breaks the chain and why (a code above), or None when it holds.

    A missing tail (the newest records deleted) is reported as the id the head remembers.
    """
    head = session.get(AuditHead, _HEAD_ID, populate_existing=True)
    expected = head.anchor_hash if head is not None else GENESIS
    for entry in session.scalars(
        select(AuditRecord).order_by(AuditRecord.id).execution_options(populate_existing=True,
                                                                       yield_per=500)
    ):
        if record_hash(entry) != entry.hash:
            return entry.id, ALTERED
        if entry.prev_hash != expected:
            return entry.id, UNLINKED
        if head is not None and entry.prev_hash == head.last_hash and head.last_id is not None \
                and entry.id > head.last_id:
            return entry.id, INSERTED  # chained on correctly, but never appended under the lock
        expected = entry.hash
    if head is not None and head.last_hash != expected:
        return (head.last_id if head.last_id is not None else 0), TAIL_MISSING
    return None


def verify_chain(session: Session) -> int | None:
    """The id of the first record that breaks the chain, or None when it holds."""
    broken = first_break(session)
    return None if broken is None else broken[0]


def first_kept_id(session: Session, before: datetime) -> int | None:
    """The oldest record a purge at ``before`` keeps; None only when there is no record.

    The newest record is always kept, however old: SQLite reuses the ids of an emptied table,
    and a purged id coming back would make the purge checkpoints' id ranges ambiguous.
    """
    found = session.scalar(select(func.min(AuditRecord.id)).where(AuditRecord.at >= before))
    return found if found is not None else session.scalar(select(func.max(AuditRecord.id)))


def purge(session: Session, before: datetime) -> int:
    """Delete the oldest records up to the first one at or after ``before``; re-anchor.

    Only a prefix of the chain is removed, so what is kept still verifies from the new anchor.
    Returns the number of records deleted. The DELETE runs under a permit row inserted and
    removed here, in the caller's transaction: the triggers refuse any other deletion.
    """
    if before.tzinfo is None:
        raise ValueError("purge cut-off must be timezone-aware")
    _lock_head(session)
    kept_id = first_kept_id(session, before)
    first_kept = session.get(AuditRecord, kept_id) if kept_id is not None else None
    if first_kept is None:
        return 0
    head = session.get(AuditHead, _HEAD_ID)
    assert head is not None
    head.anchor_hash = first_kept.prev_hash
    session.execute(insert(AuditPurgePermit).values(id=1))
    result = session.execute(delete(AuditRecord).where(AuditRecord.id < first_kept.id)
                             .execution_options(synchronize_session=False))
    session.execute(delete(AuditPurgePermit))
    session.flush()
    return int(getattr(result, "rowcount", 0) or 0)
