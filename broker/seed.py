"""Load the synthetic academy into the broker's database, idempotently.

Every row is found by its natural key and created or brought up to date, so running the seed
on every start changes nothing the second time (``SeedSummary.created`` and ``.updated`` are
then zero). Rows the dataset does not mention are left alone. Trusted peers are not touched.
The caller owns the transaction: the seed flushes and never commits.

Resource declarations are validated first (``check_declaration`` against the catalogue and
the profiles of the resource's audience): a bad declaration raises ValueError before any write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from broker import licences, subscription_natures
from broker import models as m
from broker.feed import FeedReport, import_stream
from broker.resource_description import check_description, mediacentre_description
from services.attributes import (
    AUDIENCES,
    check_declaration,
    profiles_of,
)
from services.dataset import Dataset
from services.feed import writer as feed_writer

T = TypeVar("T", bound=m.Base)


@dataclass
class SeedSummary:
    establishments: int = 0
    persons: int = 0
    groups: int = 0
    providers: int = 0
    resources: int = 0
    subscriptions: int = 0
    assignments: int = 0
    created: int = 0
    updated: int = 0


class _Upserter:
    """Create-or-update by natural key, reading each table once and flushing per phase."""

    def __init__(self, session: Session, summary: SeedSummary) -> None:
        self.session = session
        self.summary = summary
        self.known: dict[tuple[type[m.Base], tuple[str, ...]], dict[tuple[Any, ...], Any]] = {}

    def _rows(self, model: type[T], names: tuple[str, ...]) -> dict[tuple[Any, ...], Any]:
        cache_key = (model, names)
        if cache_key not in self.known:
            self.known[cache_key] = {
                tuple(getattr(row, n) for n in names): row
                for row in self.session.scalars(select(model))
            }
        return self.known[cache_key]

    def __call__(self, model: type[T], key: Mapping[str, Any], values: Mapping[str, Any]) -> T:
        """The row of ``model`` with ``key``, created or updated to ``values`` (not flushed)."""
        names = tuple(key)
        rows = self._rows(model, names)
        found: T | None = rows.get(tuple(key.values()))
        if found is None:
            row = model(**key, **values)
            self.session.add(row)
            rows[tuple(key.values())] = row
            self.summary.created += 1
            return row
        changed = False
        for name, value in values.items():
            if getattr(found, name) != value:
                setattr(found, name, value)
                changed = True
        if changed:
            self.summary.updated += 1
        return found


def validate(dataset: Dataset) -> None:
    """Refuse a dataset whose resources declare codes outside the catalogue or audience."""
    audiences: dict[str, set[str]] = {}
    for subscription in dataset.subscriptions:
        audiences.setdefault(subscription.resource_id, set()).update(subscription.audience)
    for resource in dataset.resources:
        audience = audiences.get(resource.id) or set(AUDIENCES)  # automatic: everyone
        profiles = {p for a in audience for p in profiles_of(a)}
        problems = check_declaration([a.code for a in resource.attributes], profiles=profiles)
        problems += check_description(resource)
        if problems:
            raise ValueError(f"{resource.id}: " + "; ".join(problems))


def seed(session: Session, dataset: Dataset) -> SeedSummary:
    """The whole academy: people through the directory feed, then the catalogue."""
    validate(dataset)
    summary = SeedSummary()
    seed_people(session, dataset, summary)
    seed_catalogue(session, dataset, summary)
    return summary


def seed_people(session: Session, dataset: Dataset, summary: SeedSummary) -> None:
    """People enter only through the feed: the dataset written as feed files, then imported."""
    for name, content in feed_writer.documents(dataset, at=datetime.now(UTC)):
        report = import_stream(session, BytesIO(content), file_name=name,
                               ent_id=dataset.ent_id)
        add_report(summary, report)


def add_report(summary: SeedSummary, report: FeedReport) -> None:
    summary.created += report.total("added")
    summary.updated += report.total("changed") + report.total("removed")


def seed_catalogue(session: Session, dataset: Dataset, summary: SeedSummary) -> None:
    """Establishment registry details, providers, resources, subscriptions, assignments.

    The feed names establishments; their kind, academy and city come from the ministry's
    establishment registry, which the synthetic dataset stands for.
    """
    validate(dataset)
    upsert = _Upserter(session, summary)
    now = datetime.now(UTC)
    for est in dataset.establishments:
        upsert(m.Establishment, {"uai": est.uai},
               {"name": est.name, "kind": est.kind, "academy": est.academy, "city": est.city,
                "ent_id": dataset.ent_id})
    session.flush()
    # An establishment that (re)joins a kind gets its share of codeNatureUAI subscriptions.
    subscription_natures.sync(session, now, [est.uai for est in dataset.establishments])

    for provider in dataset.providers:
        upsert(m.Provider, {"id": provider.id},
               {"entity_id": provider.entity_id, "name": provider.name,
                "distributor_id": provider.distributor_id})
    for resource in dataset.resources:
        upsert(m.Resource, {"id": resource.id},
               {"provider_id": resource.provider_id, "title": resource.title,
                "editor_id": resource.editor_id, "editor_name": resource.editor_name,
                "access_url": resource.access_url, "protocol": resource.protocol,
                "delivery": resource.delivery, "presentation": resource.presentation,
                "displayable": resource.displayable, "distributable": resource.distributable,
                "family_id": resource.family_id,
                **mediacentre_description(resource)})
        for attribute in resource.attributes:
            upsert(m.ResourceAttribute, {"resource_id": resource.id, "code": attribute.code},
                   {"purpose": attribute.purpose})
    session.flush()
    titles = {r.id: r.title for r in dataset.resources}
    existing = {row.id: row for row in session.scalars(select(m.Subscription))}
    for sub in dataset.subscriptions:
        row_sub = existing.get(sub.id)
        values = {
            "resource_id": sub.resource_id, "uai": sub.uai, "distributor_id": sub.distributor_id,
            "comment": sub.comment, "resource_label": titles.get(sub.resource_id),
            "start_at": sub.start, "end_at": sub.end, "type": sub.type,
            "category": sub.category, "audience": list(sub.audience),
            "licences_global": sub.licences_global,
            "licences_unlimited": sub.licences_unlimited,
            "licences_student": sub.licences_student, "licences_teacher": sub.licences_teacher,
            "licences_librarian": sub.licences_librarian, "licences_other": sub.licences_other,
            "project_code": sub.project_code, "deleted": False,
        }
        # Timestamps of the record itself move only when its content does.
        if row_sub is None:
            values |= {"created_at": now, "updated_at": now}
        elif _differs(row_sub, values):
            values["updated_at"] = now
        upsert(m.Subscription, {"id": sub.id}, values)
    session.flush()
    assigned = {(a.subscription_id, a.target_kind, a.target_value)
                for a in session.scalars(select(m.Assignment))}
    for assignment in dataset.assignments:
        key = {"subscription_id": assignment.subscription_id,
               "target_kind": assignment.target_kind, "target_value": assignment.target_value}
        if tuple(key.values()) not in assigned:  # an assignment's date is when it was made
            upsert(m.Assignment, key, {"created_at": now})
    session.flush()
    _allocate_licences(session, dataset, now)

    summary.establishments = len(dataset.establishments)
    summary.persons = len(dataset.persons)
    summary.groups = len(dataset.groups)
    summary.providers = len(dataset.providers)
    summary.resources = len(dataset.resources)
    summary.subscriptions = len(dataset.subscriptions)
    summary.assignments = len(dataset.assignments)


def _allocate_licences(session: Session, dataset: Dataset, now: datetime) -> None:
    """The dataset's assignments give their licences (to whoever lacks one: idempotent)."""
    keys = {(a.subscription_id, a.target_kind, a.target_value) for a in dataset.assignments}
    for row in session.scalars(select(m.Assignment).order_by(m.Assignment.id)).all():
        subscription = session.get(m.Subscription, row.subscription_id)
        if subscription is not None and (row.subscription_id, row.target_kind,
                                         row.target_value) in keys:
            licences.top_up(session, subscription, row, now=now, actor_pk=None)


def _differs(row: m.Base, values: Mapping[str, Any]) -> bool:
    return any(getattr(row, name) != value for name, value in values.items())
