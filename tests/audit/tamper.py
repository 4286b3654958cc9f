"""Tampering as someone with the database owner's rights would do it: triggers off first.

Migration 0014's triggers refuse UPDATE and DELETE of audit rows to the application. The
tests that show the chain and the seals catching a tamperer play one who is not stopped by
them: the owner of the tables, who can switch them off (PostgreSQL) or drop them (SQLite).
They are back, unchanged, when the block ends, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.orm import Session

GUARDED = ("audit_records", "audit_checkpoints", "audit_seals")


@contextmanager
def triggers_off(session: Session) -> Iterator[None]:
    if session.get_bind().dialect.name == "postgresql":
        for table in GUARDED:
            session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only"))
        yield
        for table in GUARDED:
            session.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only"))
        return
    triggers = session.execute(text(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN "
        "('audit_records', 'audit_checkpoints', 'audit_seals')")).all()
    assert triggers, "migration 0014's triggers are missing"
    for name, _ in triggers:
        session.execute(text(f'DROP TRIGGER "{name}"'))
    yield
    for _, sql in triggers:
        session.execute(text(sql))
