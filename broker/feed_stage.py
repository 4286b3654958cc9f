"""Per-file bookkeeping of a directory-feed import, kept in the database, not in memory.

A file's keys (duplicate detection), the persons it names, the links it wants (MEFs,
subjects, levels, memberships) and the groups it declares grow with the file: held in Python
they made the import's memory grow with it. They go to temporary tables of the import's own
connection and transaction instead, written in batches (one multi-row statement per
``BATCH`` rows, not one round trip per element), so memory stays flat whatever the size and
the diff against the directory is computed in SQL. A refused file (rolled back) leaves
nothing behind either. The tables are emptied when a file starts and when it ends (a pooled
connection keeps them).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, TextClause, column, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import TextualSelect

BATCH = 1000
_TABLES = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS feed_stage_keys "
    "(tag VARCHAR(32) NOT NULL, k TEXT NOT NULL, PRIMARY KEY (tag, k))",
    "CREATE TEMPORARY TABLE IF NOT EXISTS feed_stage_people "
    "(pk INTEGER NOT NULL PRIMARY KEY, in_file INTEGER NOT NULL)",
    # Resolved links: (entity, person pk, target id) or (entity, person pk, uai, code).
    "CREATE TEMPORARY TABLE IF NOT EXISTS feed_stage_links "
    "(entity VARCHAR(32) NOT NULL, pk INTEGER NOT NULL, target INTEGER, "
    "uai VARCHAR(45), code VARCHAR(255))",
    "CREATE INDEX IF NOT EXISTS feed_stage_links_pk ON feed_stage_links (entity, pk, target)",
    # Links as the file names them (a person's id, not yet a pk), with their line for errors.
    "CREATE TEMPORARY TABLE IF NOT EXISTS feed_stage_raw "
    "(entity VARCHAR(32) NOT NULL, uai VARCHAR(45) NOT NULL, person_id VARCHAR(64) NOT NULL, "
    "code VARCHAR(255), target INTEGER, line INTEGER NOT NULL)",
    "CREATE TEMPORARY TABLE IF NOT EXISTS feed_stage_groups "
    "(id INTEGER NOT NULL PRIMARY KEY, uai VARCHAR(45) NOT NULL, code VARCHAR(255) NOT NULL)",
    "CREATE UNIQUE INDEX IF NOT EXISTS feed_stage_groups_key ON feed_stage_groups (uai, code)",
    "CREATE TEMPORARY TABLE IF NOT EXISTS feed_stage_uais (uai VARCHAR(45) NOT NULL PRIMARY KEY)",
)
_NAMES = ("feed_stage_keys", "feed_stage_people", "feed_stage_links", "feed_stage_raw",
          "feed_stage_groups", "feed_stage_uais")
_COLUMNS: dict[str, tuple[str, ...]] = {
    "feed_stage_people": ("pk", "in_file"),
    "feed_stage_links": ("entity", "pk", "target", "uai", "code"),
    "feed_stage_raw": ("entity", "uai", "person_id", "code", "target", "line"),
    "feed_stage_groups": ("id", "uai", "code"),
    "feed_stage_uais": ("uai",),
}
#: PostgreSQL array types of the columns, for ``unnest``: one short statement whatever the
#: batch (psycopg parses a statement's placeholders anew when it is too long to cache).
_PG_TYPES: dict[str, tuple[str, ...]] = {
    "feed_stage_keys": ("text", "text"),
    "feed_stage_people": ("int", "int"),
    "feed_stage_links": ("text", "int", "int", "text", "text"),
    "feed_stage_raw": ("text", "text", "text", "text", "int", "int"),
    "feed_stage_groups": ("int", "text", "text"),
    "feed_stage_uais": ("text",),
}


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
        self.postgres = connection.dialect.name == "postgresql"
        for statement in _TABLES:
            connection.exec_driver_sql(statement)
        self.clear()
        dbapi: Any = connection.connection.dbapi_connection
        self._dbapi = dbapi
        self._threshold: int | None = None
        if self.postgres:
            # The same batch statements run hundreds of times: psycopg would prepare them,
            # and PostgreSQL's generic plan, made while the tables were small, scanned the
            # whole persons table per batch once it had grown (0.6 s a batch at 100,000
            # people). Unprepared, each execution is planned with its values. Not
            # ``SET plan_cache_mode = force_custom_plan``, which did the same: it also
            # re-planned every foreign-key check (one cached query per inserted row, ~12 µs
            # a check instead of ~4: 10 s of server time in a 100,000-student file).
            self._threshold = dbapi.prepare_threshold
            dbapi.prepare_threshold = None
        self.cursor: Any = dbapi.cursor()
        self.mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
        self._rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in _COLUMNS}

    def close(self) -> None:
        """Give the connection back as it was (statement preparation on again)."""
        if self.postgres:
            self._dbapi.prepare_threshold = self._threshold

    def clear(self) -> None:
        connection = self.session.connection()
        for name in _NAMES:
            connection.exec_driver_sql(f"DELETE FROM {name}")  # noqa: S608 - constant names

    def copy(self, table: str, names: tuple[str, ...] | list[str],
             rows: list[tuple[Any, ...]]) -> None:
        """PostgreSQL: rows in with ``COPY … FROM STDIN``, one round trip per batch. For rows
        nothing is read back from: 294,000 staged links went in in 0.57 s instead of 1.35 s
        as ``unnest`` arrays, 0.17 s of client CPU instead of 0.96 (psycopg dumps the arrays
        in Python, a COPY row in C)."""
        with self.cursor.copy(
                f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def _insert(self, table: str, rows: list[tuple[Any, ...]], *, suffix: str = "") -> Any:
        """One multi-row INSERT (the driver's executemany is one round trip per row)."""
        names = _COLUMNS.get(table, ("tag", "k"))
        if self.postgres and not suffix:
            self.copy(table, names, rows)
            return self.cursor
        if self.postgres:
            arrays = ", ".join(f"%s::{kind}[]" for kind in _PG_TYPES[table])
            sql = (f"INSERT INTO {table} ({', '.join(names)}) "  # noqa: S608 - constants
                   f"SELECT * FROM unnest({arrays}){suffix}")
            self.cursor.execute(sql, [list(column) for column in zip(*rows, strict=True)])
            return self.cursor
        one = "(" + ", ".join([self.mark] * len(names)) + ")"
        sql = (f"INSERT INTO {table} ({', '.join(names)}) VALUES "  # noqa: S608 - constants
               + ", ".join([one] * len(rows)) + suffix)
        self.cursor.execute(sql, [value for row in rows for value in row])
        return self.cursor

    def new_keys(self, keys: list[tuple[str, str]]) -> int | None:
        """Record keys (tag, key); the index of the first one the file already had, else None."""
        first: int | None = None
        unique: dict[tuple[str, str], int] = {}
        for index, key in enumerate(keys):
            if key in unique:
                first = index if first is None else min(first, index)
            else:
                unique[key] = index
        for start in range(0, len(unique), BATCH):
            chunk = list(unique)[start:start + BATCH]
            cursor = self._insert("feed_stage_keys", chunk,
                                  suffix=" ON CONFLICT DO NOTHING RETURNING tag, k")
            inserted = {(str(tag), str(k)) for tag, k in cursor.fetchall()}
            for key in chunk:
                if key not in inserted:
                    first = unique[key] if first is None else min(first, unique[key])
        return first

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        rows = self._rows[table]
        rows.append(row)
        if len(rows) >= BATCH:
            self._insert(table, rows)
            rows.clear()

    def add_person(self, pk: int, in_file: int = 1) -> None:
        self.add("feed_stage_people", (pk, in_file))

    def flush(self) -> None:
        for table, rows in self._rows.items():
            if rows:
                self._insert(table, rows)
                rows.clear()

    def analyze(self) -> None:
        """PostgreSQL never analyses temporary tables by itself: plans need their sizes."""
        self.flush()
        if self.postgres:
            for name in _NAMES:
                self.session.connection().exec_driver_sql(f"ANALYZE {name}")

    def run(self, sql: str, **params: Any) -> int:
        """One set-based statement over the staged rows; the number of rows it touched."""
        self.flush()
        result: Any = self.session.execute(text(sql), params)
        return int(result.rowcount or 0)
