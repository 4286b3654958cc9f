"""Retention that keeps the audit trail provable: purge a prefix, sign what was purged.

Deleting the oldest records moves the chain's anchor (``AuditHead.anchor_hash``). Anyone with
write access to the database could move it too, and so hide a deleted prefix; hence each
purge stores a checkpoint (count, id range, the anchor before and after) signed with the
broker's RSA key, and :func:`verify` accepts an anchor only when a chain of valid checkpoints
leads from the genesis value to it. Without the private key a checkpoint cannot be forged.

The signature is plain RSASSA-PKCS1-v1_5 with SHA-256 over the canonical JSON the chain
already hashes (no JOSE header to negotiate: one algorithm, pinned). Key rotation is not
handled: a checkpoint signed by another key than the broker's current one fails verification.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import Certificate
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broker import audit
from broker.models import AuditCheckpoint, AuditHead, AuditRecord
from services.keys import KeyPair

#: Why verification fails outside the records themselves (stable codes).
FORGED = "audit.checkpoint_forged"  # a signature that the broker's key did not make
GAP = "audit.checkpoint_gap"  # checkpoints that do not chain, or a record they claim purged
UNACCOUNTED = "audit.anchor_unaccounted"  # the anchor moved with no checkpoint behind it


@dataclass(frozen=True)
class Purged:
    count: int
    checkpoint: AuditCheckpoint | None  # None when nothing was old enough


@dataclass(frozen=True)
class Verdict:
    """What ``gar-testbed audit verify`` reports; ``problem`` is None when all holds."""

    records: int
    checkpoints: int
    broken_id: int | None
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _fingerprint(certificate: Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex()


def _payload(checkpoint: AuditCheckpoint) -> bytes:
    fields: dict[str, Any] = {
        "created_at": checkpoint.created_at.astimezone(UTC).isoformat(),
        "cutoff": checkpoint.cutoff.astimezone(UTC).isoformat(),
        "count": checkpoint.count,
        "first_id": checkpoint.first_id,
        "last_id": checkpoint.last_id,
        "from_hash": checkpoint.from_hash,
        "to_hash": checkpoint.to_hash,
        "key_sha256": checkpoint.key_sha256,
    }
    return audit.canonical_json(fields)


def sign(checkpoint: AuditCheckpoint, keypair: KeyPair) -> None:
    checkpoint.key_sha256 = _fingerprint(keypair.certificate)
    signature = keypair.private_key.sign(_payload(checkpoint), padding.PKCS1v15(), hashes.SHA256())
    checkpoint.signature = base64.b64encode(signature).decode()


def signature_holds(checkpoint: AuditCheckpoint, certificate: Certificate) -> bool:
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey) or checkpoint.key_sha256 != _fingerprint(certificate):
        return False
    try:
        signature = base64.b64decode(checkpoint.signature, validate=True)
        key.verify(signature, _payload(checkpoint), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def purge(session: Session, before: datetime, keypair: KeyPair, *, now: datetime) -> Purged:
    """Delete the records older than ``before`` (a prefix) and store a signed checkpoint.

    Runs in the caller's transaction, under the chain's append lock, so no decision lands
    between the range being read and the prefix being deleted.
    """
    if before.tzinfo is None or now.tzinfo is None:
        raise ValueError("purge times must be timezone-aware")
    anchor_before = audit.lock_head(session).anchor_hash
    first_kept = audit.first_kept_id(session, before)
    if first_kept is None:
        return Purged(0, None)
    first_id, last_id, count = session.execute(
        select(func.min(AuditRecord.id), func.max(AuditRecord.id), func.count())
        .where(AuditRecord.id < first_kept)).one()
    if not count:
        return Purged(0, None)
    deleted = audit.purge(session, before)
    head = session.get(AuditHead, audit.HEAD_ID)
    assert head is not None and deleted == count
    checkpoint = AuditCheckpoint(
        created_at=now.astimezone(UTC),
        cutoff=before.astimezone(UTC),
        count=count,
        first_id=first_id,
        last_id=last_id,
        from_hash=anchor_before,
        to_hash=head.anchor_hash,
        key_sha256="",
        signature="",
    )
    sign(checkpoint, keypair)
    session.add(checkpoint)
    session.flush()
    return Purged(count, checkpoint)


def verify(session: Session, certificate: Certificate | None) -> Verdict:
    """The records' chain, then the checkpoints that account for the anchor it starts from.

    ``certificate`` is the broker's; it may be None only when there is no checkpoint to check.
    """
    records = session.scalar(select(func.count()).select_from(AuditRecord)) or 0
    checkpoints = list(session.scalars(
        select(AuditCheckpoint).order_by(AuditCheckpoint.id)
        .execution_options(populate_existing=True)))

    def verdict(broken_id: int | None, problem: str | None) -> Verdict:
        return Verdict(records, len(checkpoints), broken_id, problem)

    broken = audit.first_break(session)
    if broken is not None:
        return verdict(*broken)
    expected, last_purged = audit.GENESIS, 0
    for checkpoint in checkpoints:
        if certificate is None or not signature_holds(checkpoint, certificate):
            return verdict(checkpoint.last_id, FORGED)
        if checkpoint.from_hash != expected or checkpoint.first_id <= last_purged:
            return verdict(checkpoint.first_id, GAP)
        expected, last_purged = checkpoint.to_hash, checkpoint.last_id
    head = session.get(AuditHead, audit.HEAD_ID, populate_existing=True)
    anchor = head.anchor_hash if head is not None else audit.GENESIS
    if anchor != expected:
        return verdict(None, UNACCOUNTED)
    oldest = session.scalar(select(func.min(AuditRecord.id)))
    if oldest is not None and oldest <= last_purged:
        return verdict(oldest, GAP)
    return verdict(None, None)


#: French sentences for the command line (codes are the contract).
EXPLANATIONS = {
    audit.ALTERED: "l'enregistrement n° {id} a été modifié (son empreinte ne correspond plus)",
    audit.UNLINKED: "la chaîne est rompue à l'enregistrement n° {id} : un enregistrement a été "
                    "inséré ou supprimé juste avant lui",
    audit.TAIL_MISSING: "les derniers enregistrements (jusqu'au n° {id}) ont été supprimés",
    audit.INSERTED: "l'enregistrement n° {id} a été inséré hors du GAR (après le dernier "
                    "enregistrement connu de la tête de chaîne)",
    FORGED: "le point de contrôle de purge couvrant jusqu'au n° {id} n'est pas signé par la "
            "clé du GAR",
    GAP: "les points de contrôle de purge ne se suivent pas (autour du n° {id})",
    UNACCOUNTED: "le début de la chaîne a été déplacé sans point de contrôle signé : "
                 "des enregistrements anciens ont été supprimés hors purge",
}


def explain(verdict: Verdict) -> str:
    if verdict.problem is None:
        return (f"Journal d'audit intègre : {verdict.records} enregistrement(s), "
                f"{verdict.checkpoints} point(s) de contrôle de purge vérifié(s).")
    return "Journal d'audit altéré : " + EXPLANATIONS[verdict.problem].format(
        id=verdict.broken_id if verdict.broken_id is not None else "?")
