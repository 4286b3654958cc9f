"""Per-file bookkeeping of a directory-feed import, kept in the database, not in memory.

A file's keys (duplicate detection), the persons it names and the links it wants grow with
the file: held in Python they made the import's memory grow by ~0.5 KB per person. They go to
temporary tables of the import's own connection and transaction instead, so memory stays flat
whatever the size, and a refused file (rolled back) leaves nothing behind either. The tables
are emptied when a file starts and when it ends (a pooled connection keeps them).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Integer, TextClause, column, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import TextualSelect

BATCH = 500
_TABLES = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS feed_stage_keys "
    "(tag VARCHAR(32) NOT NULL, k TEXT NOT NULL, PRIMARY KEY (tag, k))",
    "CREATE TEMPORARY TABLE IF NOT EXISTS feed_stage_people "
    "(pk INTEGER NOT NULL PRIMARY KEY, in_file INTEGER NOT NULL)",
    "CREATE TEMPORARY TABLE IF NOT EXISTS feed_stage_links "
    "(entity VARCHAR(32) NOT NULL, pk INTEGER NOT NULL, target INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS feed_stage_links_pk ON feed_stage_links (entity, pk)",
)
_NAMES = ("feed_stage_keys", "feed_stage_people", "feed_stage_links")


def staged(*, in_file: bool = False) -> TextualSelect:
    """The staged persons' pks (only those the file names, if ``in_file``), as a subquery."""
    query: TextClause = text("SELECT pk FROM feed_stage_people WHERE in_file = 1" if in_file
                             else "SELECT pk FROM feed_stage_people")
    return query.columns(column("pk", Integer))


class Stage:
    """The temporary tables of one import, reached through the session's own connection."""

    def __init__(self, session: Session) -> None:
        self.session = session
        connection = session.connection()
        for statement in _TABLES:
            connection.exec_driver_sql(statement)
        self.clear()
        dbapi: Any = connection.connection.dbapi_connection
        self.cursor: Any = dbapi.cursor()
        mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
        self._first = (f"INSERT INTO feed_stage_keys (tag, k) VALUES ({mark}, {mark}) "  # noqa: S608
                       "ON CONFLICT DO NOTHING")
        self._people: list[tuple[int, int]] = []
        self._links: list[dict[str, Any]] = []

    def clear(self) -> None:
        connection = self.session.connection()
        for name in _NAMES:
            connection.exec_driver_sql(f"DELETE FROM {name}")  # noqa: S608 - constant names

    def first_key(self, tag: str, key: str) -> bool:
        """Record a key of ``tag``; False when the file already had it (one round trip)."""
        self.cursor.execute(self._first, (tag, key))
        return bool(self.cursor.rowcount == 1)

    def add_person(self, pk: int) -> None:
        self._people.append((pk, 1))
        if len(self._people) >= BATCH:
            self.flush()

    def add_link(self, entity: str, pk: int, target: int) -> None:
        self._links.append({"entity": entity, "pk": pk, "target": target})
        if len(self._links) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if self._people:
            self.session.execute(text("INSERT INTO feed_stage_people (pk, in_file) "
                                      "VALUES (:pk, :in_file) ON CONFLICT DO NOTHING"),
                                 [{"pk": pk, "in_file": f} for pk, f in self._people])
            self._people = []
        if self._links:
            self.session.execute(text("INSERT INTO feed_stage_links (entity, pk, target) "
                                      "VALUES (:entity, :pk, :target)"), self._links)
            self._links = []

    def people(self, size: int) -> Iterator[list[tuple[int, bool]]]:
        """Staged persons by increasing pk, ``size`` at a time: (pk, named by the file)."""
        self.flush()
        last = -1
        while True:
            rows = [(int(pk), bool(in_file)) for pk, in_file in self.session.execute(
                text("SELECT pk, in_file FROM feed_stage_people WHERE pk > :last "
                     "ORDER BY pk LIMIT :size"), {"last": last, "size": size})]
            if not rows:
                return
            yield rows
            last = rows[-1][0]

    def links(self, entity: str, low: int, high: int) -> set[tuple[int, int]]:
        """The file's links of ``entity`` for persons whose pk is in [low, high]."""
        self.flush()
        return {(int(pk), int(target)) for pk, target in self.session.execute(
            text("SELECT pk, target FROM feed_stage_links WHERE entity = :entity "
                 "AND pk BETWEEN :low AND :high"), {"entity": entity, "low": low, "high": high})}
