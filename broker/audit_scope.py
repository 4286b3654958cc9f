"""Who may read which audit records, and the filters a reviewer applies, as SQL conditions.

Three scopes (DESIGN.md, "Statistics"): an auditor sees everything; an establishment's
officer only records of the establishments they manage; a provider (distributor) only
records of its own resources. A filter that names something outside the scope is refused
(``audit.out_of_scope``), never silently emptied, so a reviewer knows what they asked for
is not theirs. A record's ``uai`` may list several establishments (``A,B``: a grant that
named none); it belongs to each of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.orm import Session

from broker.models import AuditRecord, Provider, Resource

MAX_PERIOD_DAYS = 366
DEFAULT_PERIOD_DAYS = 30
DECISIONS = ("granted", "refused")
_UAI = re.compile(r"[0-9]{7}[A-Za-z]")


class AuditError(Exception):
    """A request the audit pages or API refuse; ``code`` is the contract."""

    def __init__(self, code: str, status: int, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}")
        self.code, self.status, self.detail = code, status, detail


@dataclass(frozen=True)
class Scope:
    kind: Literal["all", "establishments", "provider"]
    label: str  # French, shown on pages
    uais: frozenset[str] = field(default_factory=frozenset)
    resource_ids: frozenset[str] = field(default_factory=frozenset)

    @property
    def shows_persons(self) -> bool:
        """Providers never see our internal person reference: it is the same for every
        provider, so it would let two of them link a person the IDO keeps apart."""
        return self.kind != "provider"


EVERYTHING = Scope("all", "toutes les données (auditeur)")


def for_officer(establishments: Iterable[str]) -> Scope:
    uais = frozenset(establishments)
    return Scope("establishments", "établissement(s) " + ", ".join(sorted(uais)), uais=uais)


def for_distributor(session: Session, distributor_id: str, name: str) -> Scope:
    own = session.scalars(
        select(Resource.id).join(Provider, Provider.id == Resource.provider_id)
        .where(Provider.distributor_id == distributor_id)
    )
    return Scope("provider", f"ressources du fournisseur {name}", resource_ids=frozenset(own))


@dataclass(frozen=True)
class Period:
    """Whole UTC days, both ends included."""

    start: date
    end: date

    @classmethod
    def of(cls, start: date | None, end: date | None, *, today: date) -> Period:
        end = end or today
        start = start or end - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
        if start > end:
            raise ValueError("la date de début est postérieure à la date de fin")
        if (end - start).days + 1 > MAX_PERIOD_DAYS:
            raise ValueError(f"période trop longue (au plus {MAX_PERIOD_DAYS} jours)")
        return cls(start, end)

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time(0), tzinfo=UTC)

    @property
    def until(self) -> datetime:
        """Exclusive upper bound: midnight after the last day."""
        return datetime.combine(self.end + timedelta(days=1), time(0), tzinfo=UTC)

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


@dataclass(frozen=True)
class Filters:
    period: Period
    provider: str | None = None  # provider entity id
    resource: str | None = None
    uai: str | None = None
    decision: str | None = None


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def uai_matches(uai: str) -> ColumnElement[bool]:
    """Records of this establishment, alone or in a list."""
    column, escaped = AuditRecord.uai, _escape_like(uai)
    return or_(column == uai, column.like(f"{escaped},%", escape="\\"),
               column.like(f"%,{escaped}", escape="\\"),
               column.like(f"%,{escaped},%", escape="\\"))


def record_uais(value: str | None) -> list[str]:
    return [part for part in (value or "").split(",") if part]


def scope_condition(scope: Scope) -> ColumnElement[bool]:
    if scope.kind == "all":
        return true()
    if scope.kind == "establishments":
        return or_(*(uai_matches(uai) for uai in sorted(scope.uais))) if scope.uais else false()
    if not scope.resource_ids:
        return false()
    return AuditRecord.resource_id.in_(sorted(scope.resource_ids))


def check_filters(scope: Scope, filters: Filters) -> None:
    """Refuse a filter that is malformed or names what the scope does not cover."""
    if filters.decision is not None and filters.decision not in DECISIONS:
        raise AuditError("audit.bad_filter", 400, "decision")
    if filters.uai is not None and not _UAI.fullmatch(filters.uai):
        raise AuditError("audit.bad_filter", 400, "uai")
    if scope.kind == "establishments" and filters.uai is not None \
            and filters.uai.upper() not in scope.uais:
        raise AuditError("audit.out_of_scope", 403, filters.uai)
    if scope.kind == "provider" and filters.resource is not None \
            and filters.resource not in scope.resource_ids:
        raise AuditError("audit.out_of_scope", 403, filters.resource[:255])


def conditions(scope: Scope, filters: Filters) -> list[ColumnElement[bool]]:
    """The WHERE clause of a reviewer's query: scope, period and filters (checked first)."""
    check_filters(scope, filters)
    where = [scope_condition(scope), AuditRecord.at >= filters.period.since,
             AuditRecord.at < filters.period.until]
    if filters.provider is not None:
        where.append(AuditRecord.provider_entity_id == filters.provider)
    if filters.resource is not None:
        where.append(AuditRecord.resource_id == filters.resource)
    if filters.uai is not None:
        where.append(uai_matches(filters.uai.upper()))
    if filters.decision is not None:
        where.append(AuditRecord.decision == filters.decision)
    return where


def visible_uais(scope: Scope, value: str | None) -> list[str]:
    """The establishments of a record this scope may count it under."""
    uais = record_uais(value)
    return [u for u in uais if u in scope.uais] if scope.kind == "establishments" else uais
