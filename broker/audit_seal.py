"""Signed seals of the chain's head: what a tamperer who also rewrites ``audit_head`` cannot fake.

The hash chain shows an edit, an insertion or a deletion only as long as the head row still
remembers the true end. Someone with write access to the database can delete the tail and
move the head back, or edit a record and re-hash everything after it, or empty the table and
reset the head: the chain then verifies. A seal is the newest record's id and hash (and the
anchor, and the count) signed with the broker's key, which lives on the broker's disk, out of
the database's reach. ``audit verify`` checks every seal: the sealed record must still be
there with the sealed hash, or have left through a signed purge checkpoint.

Seals are written by ``gar-testbed audit seal`` (which can also write one to a file the
operator keeps elsewhere, for when the database's seals themselves are deleted), by every
successful ``audit verify`` and by every purge; never per access, so the login path pays
nothing. The limit: records appended after the newest seal are protected by the chain alone
until the next one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from broker import audit, audit_signing
from broker.models import AuditCheckpoint, AuditRecord, AuditSeal
from services.keys import KeyPair

#: Why a seal fails (stable codes, after the chain's own).
FORGED = "audit.seal_forged"  # not signed by a key of the broker's ring
REWRITTEN = "audit.seal_mismatch"  # the sealed record is there with another hash
MISSING = "audit.seal_missing"  # the sealed record is gone and no purge checkpoint covers it
FILE_FORMAT = "gar-testbed/audit-seal"
REASONS = ("verify", "seal", "purge")


@dataclass(frozen=True)
class Seal:
    """A seal as read from the database or from a file; ``source`` says which, for messages."""

    created_at: datetime
    reason: str
    last_id: int | None
    last_hash: str
    anchor_hash: str
    records: int
    key_sha256: str
    signature: str
    source: str

    def payload(self) -> bytes:
        return audit.canonical_json({
            "created_at": self.created_at.astimezone(UTC).isoformat(),
            "reason": self.reason,
            "last_id": self.last_id,
            "last_hash": self.last_hash,
            "anchor_hash": self.anchor_hash,
            "records": self.records,
            "key_sha256": self.key_sha256,
        })

    def as_json(self) -> str:
        fields = json.loads(self.payload())
        return json.dumps({"format": FILE_FORMAT, **fields, "signature": self.signature},
                          indent=2, ensure_ascii=False) + "\n"


def of_row(row: AuditSeal) -> Seal:
    return Seal(row.created_at, row.reason, row.last_id, row.last_hash, row.anchor_hash,
                row.records, row.key_sha256, row.signature, f"sceau n° {row.id}")


def write(session: Session, keypair: KeyPair, *, now: datetime, reason: str,
          last: tuple[int, str] | None, anchor_hash: str, records: int) -> AuditSeal:
    """Sign and store a seal of ``last`` (the newest record's id and hash; None: empty chain)."""
    if reason not in REASONS:
        raise ValueError(f"unknown seal reason {reason!r}")
    unsigned = Seal(now.astimezone(UTC), reason, last[0] if last else None,
                    last[1] if last else anchor_hash, anchor_hash, records,
                    audit_signing.fingerprint(keypair.certificate), "", "")
    row = AuditSeal(created_at=unsigned.created_at, reason=reason, last_id=unsigned.last_id,
                    last_hash=unsigned.last_hash, anchor_hash=anchor_hash, records=records,
                    key_sha256=unsigned.key_sha256,
                    signature=audit_signing.sign(unsigned.payload(), keypair))
    session.add(row)
    session.flush()
    return row


def read_file(text: str, source: str) -> Seal:
    """A seal written by ``audit seal --output``; ``ValueError`` (French) when malformed."""
    try:
        data: Any = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != FILE_FORMAT:
            raise ValueError
        last_id = data["last_id"]
        fields = (data["reason"], data["last_hash"], data["anchor_hash"], data["key_sha256"],
                  data["signature"])
        if not all(isinstance(f, str) for f in fields) or not isinstance(data["records"], int) \
                or not (last_id is None or isinstance(last_id, int)):
            raise ValueError
        created_at = datetime.fromisoformat(data["created_at"])
        if created_at.tzinfo is None:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"{source} n'est pas un sceau du journal d'audit lisible") from None
    return Seal(created_at, data["reason"], last_id, data["last_hash"], data["anchor_hash"],
                data["records"], data["key_sha256"], data["signature"], source)


def check(session: Session, seal: Seal, keys: audit_signing.Trusted,
          checkpoints: list[AuditCheckpoint]) -> str | None:
    """Why the chain no longer extends ``seal`` (a code above), or None when it does.

    Called once the chain and the checkpoints verified: a sealed record that is still there
    with its hash proves every record before it unchanged, since each hash covers the last.
    """
    if seal.reason not in REASONS or not audit_signing.holds(
            seal.payload(), seal.key_sha256, seal.signature, keys):
        return FORGED
    if seal.last_id is None:
        return None  # an empty chain was sealed: nothing it can still prove
    sealed = session.get(AuditRecord, seal.last_id, populate_existing=True)
    if sealed is not None:
        return None if sealed.hash == seal.last_hash else REWRITTEN
    for checkpoint in checkpoints:  # verified already: a signed purge took it
        if checkpoint.first_id <= seal.last_id <= checkpoint.last_id:
            if checkpoint.last_id == seal.last_id and checkpoint.to_hash != seal.last_hash:
                return REWRITTEN
            return None
    return MISSING
