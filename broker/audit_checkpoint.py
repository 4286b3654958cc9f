"""Retention that keeps the audit trail provable: purge a prefix, sign what was purged.

Deleting the oldest records moves the chain's anchor (``AuditHead.anchor_hash``). Anyone with
write access to the database could move it too, and so hide a deleted prefix; hence each
purge stores a checkpoint (count, id range, the anchor before and after) signed with the
broker's RSA key, and :func:`verify` accepts an anchor only when a chain of valid checkpoints
leads from the genesis value to it. Without the private key a checkpoint cannot be forged.

Signatures are :mod:`broker.audit_signing`'s: checked against every key of the broker's ring
(a rollover leaves earlier checkpoints valid), never against a key found in the database.

:func:`verify` is ``gar-testbed audit verify``: the chain, then the checkpoints that account
for its anchor, then the seals (:mod:`broker.audit_seal`) that catch a chain rewritten
together with its head.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.x509 import Certificate
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broker import audit, audit_seal, audit_signing
from broker.models import AuditCheckpoint, AuditHead, AuditRecord, AuditSeal
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
    """What ``gar-testbed audit verify`` reports; ``problem`` is None when all holds.

    ``broken_id`` names the record (or the seal's record) at fault; ``seal`` the seal that
    failed. ``last`` is the newest record verified (id, hash) and ``anchor`` the chain's
    start: what a new seal signs. ``sealed_to`` is the newest seal's record: records after it
    are protected by the chain alone.
    """

    records: int
    checkpoints: int
    broken_id: int | None
    problem: str | None
    seals: int = 0
    seal: str | None = None
    last: tuple[int, str] | None = None
    anchor: str = audit.GENESIS
    sealed_to: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


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
    checkpoint.key_sha256 = audit_signing.fingerprint(keypair.certificate)
    checkpoint.signature = audit_signing.sign(_payload(checkpoint), keypair)


def signature_holds(checkpoint: AuditCheckpoint, keys: audit_signing.Trusted) -> bool:
    return audit_signing.holds(_payload(checkpoint), checkpoint.key_sha256, checkpoint.signature,
                               keys)


def purge(session: Session, before: datetime, keypair: KeyPair, *, now: datetime) -> Purged:
    """Delete the records older than ``before`` (a prefix) and store a signed checkpoint.

    Runs in the caller's transaction, under the chain's append lock, so no decision lands
    between the range being read and the prefix being deleted. A purge that deletes anything
    also seals the head it leaves.
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
    kept = session.scalar(select(func.count()).select_from(AuditRecord)) or 0
    audit_seal.write(session, keypair, now=now, reason="purge",
                     last=(head.last_id, head.last_hash) if head.last_id is not None else None,
                     anchor_hash=head.anchor_hash, records=kept)
    return Purged(count, checkpoint)


def verify(session: Session, certificates: Iterable[Certificate],
           seals: Sequence[audit_seal.Seal] = ()) -> Verdict:
    """The records' chain, the checkpoints that account for its anchor, then every seal.

    ``certificates``: the broker's key ring (``KeyRing.certificates()``); ``seals``: seals
    read from files, checked after the database's own. Run it on a snapshot (REPEATABLE READ
    on PostgreSQL) when decisions are being appended meanwhile.
    """
    keys = audit_signing.trusted(certificates)
    records = session.scalar(select(func.count()).select_from(AuditRecord)) or 0
    checkpoints = list(session.scalars(
        select(AuditCheckpoint).order_by(AuditCheckpoint.id)
        .execution_options(populate_existing=True)))
    stored = [audit_seal.of_row(row) for row in session.scalars(
        select(AuditSeal).order_by(AuditSeal.id).execution_options(populate_existing=True))]
    every_seal = [*stored, *seals]
    newest = session.execute(select(AuditRecord.id, AuditRecord.hash)
                             .order_by(AuditRecord.id.desc()).limit(1)).first()
    head = session.get(AuditHead, audit.HEAD_ID, populate_existing=True)
    anchor = head.anchor_hash if head is not None else audit.GENESIS
    sealed_ids = [s.last_id for s in every_seal if s.last_id is not None]

    def verdict(broken_id: int | None, problem: str | None, seal: str | None = None) -> Verdict:
        return Verdict(records, len(checkpoints), broken_id, problem, len(every_seal), seal,
                       (newest[0], newest[1]) if newest is not None else None, anchor,
                       max(sealed_ids, default=None))

    broken = audit.first_break(session)
    if broken is not None:
        return verdict(*broken)
    expected, last_purged = audit.GENESIS, 0
    for checkpoint in checkpoints:
        if not signature_holds(checkpoint, keys):
            return verdict(checkpoint.last_id, FORGED)
        if checkpoint.from_hash != expected or checkpoint.first_id <= last_purged:
            return verdict(checkpoint.first_id, GAP)
        expected, last_purged = checkpoint.to_hash, checkpoint.last_id
    if anchor != expected:
        return verdict(None, UNACCOUNTED)
    oldest = session.scalar(select(func.min(AuditRecord.id)))
    if oldest is not None and oldest <= last_purged:
        return verdict(oldest, GAP)
    for seal in every_seal:
        problem = audit_seal.check(session, seal, keys, checkpoints)
        if problem is not None:
            return verdict(seal.last_id, problem, seal.source)
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
    audit_seal.FORGED: "le {seal} n'est pas signé par une clé du GAR",
    audit_seal.REWRITTEN: "l'enregistrement n° {id}, scellé ({seal}), n'a plus la même "
                          "empreinte : la chaîne a été réécrite (modifiée puis recalculée) "
                          "jusqu'à lui au moins",
    audit_seal.MISSING: "l'enregistrement n° {id}, scellé ({seal}), a disparu sans purge "
                        "signée : des enregistrements ont été supprimés et la tête de chaîne "
                        "déplacée",
}


def explain(verdict: Verdict) -> str:
    if verdict.problem is None:
        unsealed = (verdict.last[0] if verdict.last is not None else 0) \
            - (verdict.sealed_to or 0)
        limit = (f" Scellé jusqu'au n° {verdict.sealed_to}" if verdict.sealed_to is not None
                 else " Aucun sceau encore")
        limit += (f" ; les enregistrements suivants (jusqu'au n° {verdict.last[0]}) ne sont "
                  "protégés que par la chaîne jusqu'au prochain sceau."
                  if verdict.last is not None and unsealed > 0 else ".")
        return (f"Journal d'audit intègre : {verdict.records} enregistrement(s), "
                f"{verdict.checkpoints} point(s) de contrôle de purge, {verdict.seals} "
                f"sceau(x) vérifié(s).{limit}")
    return "Journal d'audit altéré : " + EXPLANATIONS[verdict.problem].format(
        id=verdict.broken_id if verdict.broken_id is not None else "?",
        seal=verdict.seal or "sceau")
