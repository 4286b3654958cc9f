"""Access statistics: granted accesses per day, resource, establishment and profile.

Never a person: only those four keys and a count leave this module; the query does not even
select the person column. An access granted without a named establishment counts under each
establishment it was granted in (the scope may hide some of them), so the per-establishment
figures can add up to more than the total.

Small counts single people out: in a small school, "1 access by a teacher to this resource
on that day" is someone. For an officer or a provider every figure between 1 and
``min_count - 1`` (``GAR_AUDIT_STATS_MIN_COUNT``, default 5) is suppressed: ``null`` with
``"suppressed": true`` in JSON, an empty count and ``suppressed`` = ``true`` in CSV, "< 5"
on the page. Auditors see every count. Only primary suppression: a suppressed cell can
sometimes be worked out by subtracting the shown ones from a shown total (README says so).

The chart is plain SVG built here, escaped, with no JavaScript (the page works with scripts
off and prints); a table on the page carries the same figures for screen readers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from xml.sax.saxutils import escape, quoteattr

from sqlalchemy import select
from sqlalchemy.orm import Session

from broker.audit_scope import Filters, Scope, conditions, visible_uais
from broker.models import AuditRecord

CSV_HEADER = ("day", "resource_id", "uai", "profile", "accesses", "suppressed")
#: What one figure becomes for the reader: the count, or None when suppressed.
Shown = int | None


def threshold_for(scope: Scope, min_count: int) -> int:
    """The smallest count this reader may see (1: every count)."""
    return 1 if scope.kind == "all" else max(min_count, 1)


@dataclass(frozen=True)
class Statistics:
    days: list[tuple[date, int]]  # every day of the period, zeros included
    by_resource: list[tuple[str, int]]
    by_establishment: list[tuple[str, int]]
    by_profile: list[tuple[str, int]]
    cells: list[tuple[date, str, str, str, int]]  # day, resource, uai, profile, accesses
    total: int
    min_count: int = 1  # counts from 1 to min_count - 1 are suppressed

    def shown(self, count: int) -> Shown:
        return None if 0 < count < self.min_count else count

    def figure(self, count: int) -> dict[str, object]:
        shown = self.shown(count)
        return {"accesses": shown, "suppressed": shown is None}

    def rows(self) -> Iterator[dict[str, object]]:
        for day, resource, uai, profile, count in self.cells:
            shown = self.shown(count)
            yield {"day": day.isoformat(), "resource_id": resource, "uai": uai,
                   "profile": profile, "accesses": shown,
                   "suppressed": "true" if shown is None else "false"}

    def days_shown(self) -> list[tuple[date, Shown]]:
        return [(day, self.shown(count)) for day, count in self.days]

    def as_json(self) -> dict[str, object]:
        return {
            "suppressed_below": self.min_count if self.min_count > 1 else None,
            "total": self.figure(self.total),
            "days": [{"day": d.isoformat(), **self.figure(n)} for d, n in self.days],
            "resources": [{"resource_id": r, **self.figure(n)} for r, n in self.by_resource],
            "establishments": [{"uai": u, **self.figure(n)} for u, n in self.by_establishment],
            "profiles": [{"profile": p, **self.figure(n)} for p, n in self.by_profile],
            "cells": [{**row, "suppressed": row["suppressed"] == "true"} for row in self.rows()],
        }


def statistics(session: Session, scope: Scope, filters: Filters, *,
               min_count: int = 1) -> Statistics:
    """``min_count``: the setting; applied only to a scope other than the auditor's."""
    where = conditions(scope, Filters(filters.period, filters.provider, filters.resource,
                                      filters.uai, "granted"))
    query = select(AuditRecord.at, AuditRecord.resource_id, AuditRecord.uai,
                   AuditRecord.profile).where(*where)
    cells: Counter[tuple[date, str, str, str]] = Counter()
    per_day: Counter[date] = Counter()
    by_resource: Counter[str] = Counter()
    by_establishment: Counter[str] = Counter()
    by_profile: Counter[str] = Counter()
    total = 0
    for at, resource, uai_list, profile in session.execute(query.execution_options(yield_per=1000)):
        day, resource, profile = at.date(), resource or "", profile or ""
        total += 1
        per_day[day] += 1
        by_resource[resource] += 1
        by_profile[profile] += 1
        uais = visible_uais(scope, uai_list)
        if filters.uai is not None:
            uais = [u for u in uais if u == filters.uai.upper()]
        for uai in uais or [""]:
            by_establishment[uai] += 1
            cells[(day, resource, uai, profile)] += 1

    def ranked(counter: Counter[str]) -> list[tuple[str, int]]:
        return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))

    return Statistics(
        days=[(d, per_day.get(d, 0)) for d in filters.period.days()],
        by_resource=ranked(by_resource),
        by_establishment=ranked(by_establishment),
        by_profile=ranked(by_profile),
        cells=[(*key, n) for key, n in sorted(cells.items())],
        total=total,
        min_count=threshold_for(scope, min_count),
    )


def bar_chart(series: list[tuple[date, Shown]], *, title: str, table_id: str,
              min_count: int = 1) -> str:
    """An SVG bar chart of accesses per day (safe to embed: everything escaped).

    ``table_id`` names the table holding the same figures: the chart is described by it. A
    suppressed day is drawn as an empty outlined bar (``data-suppressed``), never a height.
    """
    width, height, top, bottom, left = 720, 220, 20, 40, 40
    plot_w, plot_h = width - left - 10, height - top - bottom
    peak = max((n for _, n in series if n is not None), default=0) or 1
    step = plot_w / max(len(series), 1)
    bar = max(step * 0.8, 1.0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" id="chart" '
        f'viewBox="0 0 {width} {height}" width="100%" aria-labelledby="chart-title" '
        f'aria-describedby={quoteattr(table_id)}>',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" '
        'stroke="#333"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" font-size="11">{peak}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" font-size="11">0</text>',
    ]
    label_every = max(1, len(series) // 10)
    for i, (day, count) in enumerate(series):
        x = left + i * step + (step - bar) / 2
        if count is None:
            parts.append(
                f'<rect x="{x:.1f}" y="{top:.1f}" width="{bar:.1f}" height="{plot_h:.1f}" '
                f'fill="none" stroke="#999" stroke-dasharray="2 2" '
                f'data-day={quoteattr(day.isoformat())} data-suppressed="true">'
                f'<title>{escape(day.strftime("%d/%m/%Y"))} : moins de {min_count} (masqué)'
                f'</title></rect>')
        else:
            h = plot_h * count / peak
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="#1d4f91" data-day={quoteattr(day.isoformat())} '
                f'data-count="{count}">'
                f'<title>{escape(day.strftime("%d/%m/%Y"))} : {count}</title></rect>'
            )
        if i % label_every == 0:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 16}" '
                         f'text-anchor="middle" font-size="11">{day:%d/%m}</text>')
    parts.append("</svg>")
    return "".join(parts)
