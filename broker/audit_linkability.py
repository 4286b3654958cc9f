"""The linkability check: the same person's ``IDO`` differs from one provider to the next.

Two checks, shown side by side because they prove different things:

- *released* (what the audit trail proves): every granted access recorded a keyed digest of
  the ``IDO`` it released (``AuditRecord.ido_digest``). For each person who received an
  ``IDO`` from two providers or more over the period, are the digests all different? This
  is what providers actually got, whatever the configuration was at the time. Records older
  than migration 0014 carry no digest and are not counted.
- *computed* (what the configuration would do): the broker's own function
  (:func:`broker.release.ido`) with its secret and its current scope, for a sample of
  persons and every registered provider, including people and providers with no access yet.

The verdict is ``linkable`` when either finds a person with one ``IDO`` at two providers.
Nothing here shows an ``IDO``, nor a prefix of one: a provider holds the full values, so
even a truncated value or a plain hash of it would let that provider find its own users in
the report. Each value is shown as an HMAC under a key drawn for this one report: equal
digests mean equal values within the report, and mean nothing outside it. Persons are
numbered, never named.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from broker.audit_scope import AuditError, Filters, Period, Scope, conditions
from broker.models import AuditRecord, Person, PersonProfile, Provider
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
class Released:
    """What the audit trail proves over ``period``: persons with an IDO from 2+ providers."""

    period_from: str
    period_to: str
    persons_checked: int
    persons_linkable: int

    @property
    def verdict(self) -> str:
        if self.persons_checked == 0:
            return "not_applicable"
        return "unlinkable" if self.persons_linkable == 0 else "linkable"


@dataclass(frozen=True)
class Linkability:
    ido_scope: str
    providers: list[str]
    persons_checked: int
    persons_linkable: int
    examples: list[PersonCheck]
    released: Released

    @property
    def computed_verdict(self) -> str:
        """``unlinkable`` when every checked person has a different IDO at every provider."""
        if len(self.providers) < 2 or self.persons_checked == 0:
            return "not_applicable"
        return "unlinkable" if self.persons_linkable == 0 else "linkable"

    @property
    def verdict(self) -> str:
        verdicts = {self.computed_verdict, self.released.verdict}
        if "linkable" in verdicts:
            return "linkable"
        return "unlinkable" if "unlinkable" in verdicts else "not_applicable"

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "computed_verdict": self.computed_verdict,
                "released": {**asdict(self.released), "verdict": self.released.verdict},
                "verdict": self.verdict}


def released(session: Session, scope: Scope, period: Period) -> Released:
    """From the trail: for each person, the providers that got each IDO digest."""
    query = select(AuditRecord.person_pk, AuditRecord.provider_entity_id,
                   AuditRecord.ido_digest).where(
        *conditions(scope, Filters(period, decision="granted")),
        AuditRecord.person_pk.is_not(None), AuditRecord.ido_digest.is_not(None))
    seen: dict[int, dict[str, set[str]]] = {}  # person -> digest -> providers
    for person_pk, provider, digest in session.execute(query.execution_options(yield_per=1000)):
        if person_pk is not None and digest is not None:  # the query's own conditions
            seen.setdefault(person_pk, {}).setdefault(digest, set()).add(provider or "")
    several = [digests for digests in seen.values()
               if len({p for providers in digests.values() for p in providers}) > 1]
    linkable = sum(1 for digests in several
                   if any(len(providers) > 1 for providers in digests.values()))
    return Released(period.start.isoformat(), period.end.isoformat(), len(several), linkable)


def check(session: Session, scope: Scope, *, ido_secret: bytes, ido_scope: str,
          period: Period, sample: int = SAMPLE) -> Linkability:
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
    return Linkability(ido_scope, providers, checked, linkable, examples,
                       released(session, scope, period))
