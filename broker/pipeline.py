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
        _audit(session, None, target, refusal, None, None, now)
        return refusal
    decision = access.decide(session, person, target.resource_id, uai=target.uai, today=now.date())
    if isinstance(decision, Refusal):
        _audit(session, person.pk, target, decision, None, None, now)
        return decision
    declared = release.declared_attributes(session, target.resource_id)
    released = release.release(
        person, decision, declared, ido_secret=ido_secret, ido_scope=ido_scope
    )
    answer = deliver(Granted(decision, released))
    _audit(session, person.pk, target, decision, released, assertion_id, now)
    return answer


def _audit(
    session: Session,
    person_pk: int | None,
    target: Target,
    decision: Grant | Refusal,
    released: Release | None,
    assertion_id: str | None,
    now: datetime,
) -> None:
    uai = target.uai
    if isinstance(decision, Grant) and uai is None:
        uai = ",".join(decision.uais)
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
    )
