"""The linkability check: the same person's ``IDO`` differs from one provider to the next.

Computed with the broker's own function (:func:`broker.release.ido`), its secret and its
configured scope, for a sample of persons and every registered provider. Nothing here shows
an ``IDO``, nor a prefix of one: a provider holds the full values, so even a truncated value
or a plain hash of it would let that provider find its own users in the report. Each value
is shown as an HMAC under a key drawn for this one report: equal digests mean equal values
within the report, and mean nothing outside it. Persons are numbered, never named.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from broker.audit_scope import AuditError, Scope
from broker.models import Person, PersonProfile, Provider
from broker.release import ido

SAMPLE = 200
SHOWN = 5
DIGEST_CHARS = 16


@dataclass(frozen=True)
class PersonCheck:
    label: str
    digests: list[str]  # one per provider, in ``Linkability.providers`` order
    distinct: bool


@dataclass(frozen=True)
class Linkability:
    ido_scope: str
    providers: list[str]
    persons_checked: int
    persons_linkable: int
    examples: list[PersonCheck]

    @property
    def verdict(self) -> str:
        """``unlinkable`` when every checked person has a different IDO at every provider."""
        if len(self.providers) < 2 or self.persons_checked == 0:
            return "not_applicable"
        return "unlinkable" if self.persons_linkable == 0 else "linkable"

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "verdict": self.verdict}


def check(session: Session, scope: Scope, *, ido_secret: bytes, ido_scope: str,
          sample: int = SAMPLE) -> Linkability:
    if scope.kind == "provider":
        # A provider has no business comparing its identifiers with another provider's.
        raise AuditError("audit.forbidden", 403, "linkability")
    providers = list(session.scalars(select(Provider.entity_id).order_by(Provider.entity_id)))
    query = select(Person.ent_id, Person.person_id).order_by(Person.id).limit(sample)
    if scope.kind == "establishments":
        query = query.where(Person.id.in_(
            select(PersonProfile.person_pk).where(PersonProfile.uai.in_(sorted(scope.uais)))))
    key = secrets.token_bytes(32)

    def digest(value: str) -> str:
        return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:DIGEST_CHARS]

    checked = linkable = 0
    examples: list[PersonCheck] = []
    for ent_id, person_id in session.execute(query):
        values = [ido(ido_secret, ent_id, person_id,
                      entity_id if ido_scope == "provider" else None) for entity_id in providers]
        distinct = len(set(values)) == len(values)
        checked += 1
        linkable += 0 if distinct else 1
        if len(examples) < SHOWN:
            examples.append(PersonCheck(f"Personne {checked}", [digest(v) for v in values],
                                        distinct))
    return Linkability(ido_scope, providers, checked, linkable, examples)
