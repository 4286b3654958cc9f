"""Subscriptions for every establishment of a kind (``codeNatureUAI``, GAR_REFERENCE §3).

The distributor sees one subscription: a row with ``uai`` NULL and ``nature_uai`` set (e.g.
``340``, every collège). Inside the broker each establishment of that nature gets a *share*:
an ordinary subscription row with the same terms, its establishment, and ``parent_id`` naming
the distributor's subscription. Everything establishment-side (access decision, licence
ledger, assignments, console, mediacentre list) works on shares exactly as on a subscription
given with ``uaiEtab``, so each establishment has its own licence counts: the terms' counts
apply per establishment (the real GAR's accounting for these is *unverified*; this is the
testbed's choice, stated in the README).

Shares follow the directory: :func:`sync` gives one to an establishment that joins the nature
later (a new establishment, or one whose kind changed) and retires the share of one that left
it. The establishment registry (``broker.seed``) calls it whenever it writes establishments.
Nothing here commits; the caller owns the transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from broker.models import Establishment, Subscription
from broker.subscription_rules import SubscriptionError
from broker.subscription_xml import NATURES

#: ``codeNatureUAI`` -> the establishment kind it covers (the inverse of ``NATURES``).
KIND_OF_NATURE: Mapping[str, str] = {codes[0]: kind for kind, codes in NATURES.items()}
#: The columns a share copies from its subscription (everything but identity and place).
TERMS = (
    "resource_id", "distributor_id", "comment", "resource_label", "start_at", "end_at", "type",
    "category", "audience", "licences_global", "licences_unlimited", "licences_student",
    "licences_teacher", "licences_librarian", "licences_other", "project_code", "nature_uai",
)
_MAX_ID = 64


def kind_of(nature_uai: str) -> str:
    """The establishment kind of a ``codeNatureUAI``; refused when the testbed has no such kind."""
    kind = KIND_OF_NATURE.get(nature_uai)
    if kind is None:
        known = ", ".join(f"{code} ({kind})" for code, kind in KIND_OF_NATURE.items())
        raise SubscriptionError(
            "subscription.nature_uai_unknown",
            f"codeNatureUAI inconnu : {nature_uai!r} (valeurs prises en charge : {known}).",
        )
    return kind


def share_id(parent_id: str, uai: str) -> str:
    """``<id>@<UAI>``; hashed when that would not fit the column."""
    plain = f"{parent_id}@{uai}"
    if len(plain) < _MAX_ID:  # room for the "_" a retired share takes
        return plain
    return f"{parent_id}@{hashlib.sha256(uai.encode()).hexdigest()[:12]}"


def is_share(row: Subscription) -> bool:
    return row.parent_id is not None


def is_by_nature(row: Subscription) -> bool:
    """The distributor's codeNatureUAI subscription itself (not one of its shares)."""
    return row.uai is None and row.nature_uai is not None


def copy_terms(source: Subscription, target: Subscription) -> None:
    for name in TERMS:
        value = getattr(source, name)
        setattr(target, name, list(value) if isinstance(value, list) else value)
    target.updated_at = source.updated_at


def shares(session: Session, parent_id: str) -> list[Subscription]:
    """The live shares of a codeNatureUAI subscription, by establishment."""
    return list(session.scalars(
        select(Subscription)
        .where(Subscription.parent_id == parent_id, Subscription.deleted.is_(False))
        .order_by(Subscription.uai)
    ))


def retire(session: Session, row: Subscription, now: datetime) -> None:
    """Mark deleted, keeping the row under its id prefixed with ``_`` (GAR_REFERENCE §3)."""
    kept = f"_{row.id}"
    suffix = 1
    while session.get(Subscription, kept) is not None:  # deleted before, re-created since
        suffix += 1
        kept = f"_{row.id}_{suffix}"
    row.id = kept
    row.deleted = True
    row.updated_at = now
    session.flush()


def create_shares(session: Session, parent: Subscription, now: datetime,
                  uais: Iterable[str] | None = None) -> list[Subscription]:
    """One share per establishment of the parent's nature (or of ``uais``) lacking one."""
    assert parent.nature_uai is not None
    query = select(Establishment.uai).where(
        Establishment.kind == kind_of(parent.nature_uai)).order_by(Establishment.uai)
    if uais is not None:
        query = query.where(Establishment.uai.in_(list(uais)))
    have = {row.uai for row in shares(session, parent.id)}
    created = []
    for uai in session.scalars(query):
        if uai in have:
            continue
        share = Subscription(id=share_id(parent.id, uai), uai=uai, parent_id=parent.id,
                             created_at=now, deleted=False)
        copy_terms(parent, share)
        session.add(share)
        created.append(share)
    session.flush()
    return created


def sync(session: Session, now: datetime, uais: Iterable[str] | None = None) -> tuple[int, int]:
    """Bring shares in line with the establishments' kinds; (shares created, retired).

    Limited to ``uais`` when given (the establishments just written). A retired share keeps
    its assignments and ledger under its ``_`` id, as a deleted subscription does.
    """
    wanted = None if uais is None else sorted(set(uais))
    created = retired = 0
    parents = session.scalars(
        select(Subscription)
        .where(Subscription.uai.is_(None), Subscription.nature_uai.is_not(None),
               Subscription.deleted.is_(False))
        .order_by(Subscription.id)
    ).all()
    for parent in parents:
        assert parent.nature_uai is not None
        kind = KIND_OF_NATURE.get(parent.nature_uai)
        created += len(create_shares(session, parent, now, wanted))
        for share in shares(session, parent.id):
            if wanted is not None and share.uai not in wanted:
                continue
            establishment = session.get(Establishment, share.uai)
            if establishment is None or establishment.kind != kind:
                retire(session, share, now)
                retired += 1
    return created, retired
