"""The protocol-neutral middle of the broker: who is it, may they, what is released, audit.

Each step is a plain function from the domain modules; this file only orders them, so the
same decision, release and audit serve every inbound and outbound protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy.orm import Session

from broker import access, audit, directory, release
from broker.domain import Authentication, Grant, Refusal, Release

Answer = TypeVar("Answer")


@dataclass(frozen=True)
class Granted:
    grant: Grant
    release: Release


@dataclass(frozen=True)
class Target:
    """What the outbound side is asked for: a resource, maybe in one establishment."""

    provider_entity_id: str
    resource_id: str
    uai: str | None
    protocol: str


def run(
    session: Session,
    auth: Authentication,
    target: Target,
    *,
    now: datetime,
    ido_secret: bytes,
    ido_scope: str,
    assertion_id: str,
    deliver: Callable[[Granted], Answer],
) -> Answer | Refusal:
    """Decide, release, let ``deliver`` build the outbound answer, and audit last.

    The audit record joins the caller's transaction, so a failure anywhere (``deliver``
    included) leaves none. It is appended last because an append holds the chain's single
    head lock until the commit: building and signing the outbound message (RSA, XML) before
    it keeps every instance's logins from queueing behind one another's signatures.
    """
    person = directory.find_person(session, auth)
    if person is None:
        refusal = access.refusal(
            "access.unknown_person", resource_id=target.resource_id, uai=target.uai
        )
        _audit(session, None, auth, target, refusal, now)
        return refusal
    decision = access.decide(session, person, target.resource_id, uai=target.uai, today=now.date())
    if isinstance(decision, Refusal):
        _audit(session, person.pk, auth, target, decision, now, where=person.establishments)
        return decision
    declared = release.declared_attributes(session, target.resource_id)
    released = release.release(
        person, decision, declared, ido_secret=ido_secret, ido_scope=ido_scope
    )
    answer = deliver(Granted(decision, released))
    _audit(session, person.pk, auth, target, decision, now, where=decision.uais,
           released=released, assertion_id=assertion_id,
           ido_digest=audit.ido_digest(released, audit.ido_digest_key(ido_secret)))
    return answer


def _audit(
    session: Session,
    person_pk: int | None,
    auth: Authentication,
    target: Target,
    decision: Grant | Refusal,
    now: datetime,
    *,
    where: tuple[str, ...] = (),
    released: Release | None = None,
    assertion_id: str | None = None,
    ido_digest: str | None = None,
) -> None:
    """``where``: the establishments decided in when the request named none (a grant's, or
    every one of the person's for a refusal), so each one's officer sees the record."""
    uai = target.uai or ",".join(where) or (decision.uai if isinstance(decision, Refusal)
                                            else None)
    audit.record(
        session,
        person_pk=person_pk,
        provider_entity_id=target.provider_entity_id,
        resource_id=target.resource_id,
        uai=uai,
        protocol=target.protocol,
        decision=decision,
        release=released,
        assertion_id=assertion_id,
        at=now,
        upstream=auth,
        ido_digest=ido_digest,
    )
