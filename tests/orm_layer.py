"""Which statements run through the ORM's execution layer: shared by the specs of hot paths.

A statement built from a mapped class's attributes runs through that layer even when it only
reads columns (about 120 µs of CPU more per execution, bench/README.md); the hot paths build
their column reads on the tables (``broker.models.table``) and keep the ORM for loading
objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session


@contextmanager
def orm_statements() -> Iterator[list[ORMExecuteState]]:
    """Every statement any session runs through the ORM's execution layer meanwhile."""
    seen: list[ORMExecuteState] = []

    def record(state: ORMExecuteState) -> None:
        if state.is_orm_statement:
            seen.append(state)

    event.listen(Session, "do_orm_execute", record)
    try:
        yield seen
    finally:
        event.remove(Session, "do_orm_execute", record)


def column_reads(seen: list[ORMExecuteState]) -> list[str]:
    """The recorded statements that load no mapped object (their SQL's start): what the
    specs require to be empty."""
    return [str(state.statement)[:80] for state in seen if not _loads_objects(state)]


def _loads_objects(state: ORMExecuteState) -> bool:
    """A SELECT of at least one whole mapped class (its rows become objects)."""
    descriptions = getattr(state.statement, "column_descriptions", [])
    return state.is_select and any(isinstance(d.get("expr"), type) for d in descriptions)
