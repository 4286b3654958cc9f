"""The plain values the broker's pipeline passes from step to step.

Protocol-neutral on purpose: inbound SAML or OIDC produce an ``Authentication``, outbound
SAML, OIDC or CAS consume a ``Release``; nothing in between knows which.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Authentication:
    """Who the upstream identity provider says the person is, as it said it."""

    issuer: str
    protocol: str
    subject: str
    attributes: Mapping[str, Sequence[str]]
    assertion_id: str | None
    session_index: str | None
    # When the person presented their credentials, as the provider says (SAML AuthnInstant,
    # OIDC auth_time); a login that asked for fresh credentials (CAS renew) checks it.
    authenticated_at: datetime | None = None


@dataclass(frozen=True)
class PersonView:
    """Our directory record of a person: what the access decision and release may use.

    Birth date and INE are deliberately absent, so no release can leak them. Per-establishment
    values are keyed by UAI so a release can be scoped to the establishment of the access.
    """

    pk: int
    person_id: str
    ent_id: str
    profiles: Mapping[str, str]  # uai -> canonical profile
    last_name: str
    first_name: str
    civility: str | None
    emails: tuple[str, ...] = ()
    divisions: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    groups: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    levels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # MEFSTAT4
    subjects: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    respaff: tuple[str, ...] = ()  # UAIs where the person is an assignment officer

    @property
    def establishments(self) -> tuple[str, ...]:
        return tuple(sorted(self.profiles))


@dataclass(frozen=True)
class Grant:
    resource_id: str
    provider_entity_id: str
    uais: tuple[str, ...]  # establishments where access holds
    profile: str
    subscription_ids: tuple[str, ...]
    assignment_ids: tuple[int, ...]
    basis: str  # "INDIV" | "ETABL" | "automatic"


@dataclass(frozen=True)
class Refusal:
    code: str  # stable, e.g. "access.no_assignment"
    reason: str  # French, for the page
    action: str  # French: what to do
    resource_id: str | None
    uai: str | None


@dataclass(frozen=True)
class Release:
    attributes: Mapping[str, tuple[str, ...]]  # code -> values
