"""Reading the audit trail: one page of records, or all of them streamed as CSV / JSON Lines.

A record as a reviewer sees it holds codes and digests only (the trail never held a value).
Exports stream from the database in batches (``yield_per``), so a year of records is never
in memory at once; each export opens its own session because the response outlives the
request's.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broker.audit_scope import Filters, Scope, conditions
from broker.models import AuditRecord

MAX_PER_PAGE = 500
BATCH = 500
COLUMNS = ("id", "at", "person", "upstream_protocol", "upstream_issuer",
           "upstream_assertion_id", "provider_entity_id", "resource_id", "uai", "profile",
           "protocol", "decision", "code", "basis", "released_codes", "values_digest",
           "assertion_id", "hash")


@dataclass(frozen=True)
class RecordPage:
    items: list[dict[str, Any]]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def as_dict(record: AuditRecord, scope: Scope) -> dict[str, Any]:
    """A record as this scope may see it. A provider gets neither the person reference nor
    the identity provider's assertion id (both would let it match its accesses with another
    provider's); nobody gets ``ido_digest``, used only by the linkability check."""
    return {
        "id": record.id,
        "at": record.at.isoformat(),
        "person": record.person_pk if scope.shows_persons else None,
        "upstream_protocol": record.upstream_protocol,
        "upstream_issuer": record.upstream_issuer,
        "upstream_assertion_id": record.upstream_assertion_id if scope.shows_persons else None,
        "provider_entity_id": record.provider_entity_id,
        "resource_id": record.resource_id,
        "uai": record.uai,
        "profile": record.profile,
        "protocol": record.protocol,
        "decision": record.decision,
        "code": record.code,
        "basis": record.basis,
        "released_codes": list(record.released_codes or []),
        "values_digest": record.values_digest,
        "assertion_id": record.assertion_id,
        "hash": record.hash,
    }


def page(session: Session, scope: Scope, filters: Filters, *, number: int,
         per_page: int) -> RecordPage:
    """Newest first. ``number`` starts at 1; out-of-range numbers give an empty page."""
    if number < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise ValueError("page or per_page out of range")
    where = conditions(scope, filters)
    total = session.scalar(select(func.count()).select_from(AuditRecord).where(*where)) or 0
    rows = session.scalars(
        select(AuditRecord).where(*where).order_by(AuditRecord.id.desc())
        .offset((number - 1) * per_page).limit(per_page)
    )
    return RecordPage([as_dict(r, scope) for r in rows], total, number, per_page)


def stream(open_session: Callable[[], Session], scope: Scope,
           filters: Filters) -> Iterator[dict[str, Any]]:
    """Every matching record, oldest first, in batches, in a session of its own."""
    where = conditions(scope, filters)  # checked before the first byte is sent
    return _stream(open_session, scope, where)


def _stream(open_session: Callable[[], Session], scope: Scope, where: list[Any]
            ) -> Iterator[dict[str, Any]]:
    with open_session() as session:
        query = select(AuditRecord).where(*where).order_by(AuditRecord.id)
        for record in session.scalars(query.execution_options(yield_per=BATCH)):
            yield as_dict(record, scope)


def jsonl(rows: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    for row in rows:
        yield json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    text = str(value)
    # A spreadsheet would run a cell starting with = + - @ as a formula (CSV injection);
    # identifiers come from strangers (a requested resource id), so such cells get a quote.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_lines(header: tuple[str, ...], rows: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(row.get(name)) for name in header])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()
