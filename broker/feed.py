"""Importing directory-feed files (GAR_REFERENCE §1): one file, one transaction, one report.

A file is streamed (:mod:`broker.feed_parse`) and applied as it is read
(:mod:`broker.feed_apply`) inside one transaction: any refusal — invalid, truncated,
duplicate key, unknown UAI — rolls the whole file back, so nothing of a bad file is written.
Each applied file is recorded in ``feed_imports`` (name, kind, ENT, sha256, counts).
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy.orm import Session, sessionmaker

from broker import models as m
from broker.feed_apply import KEYED_IN_SQL, Importer
from broker.feed_parse import PARALLEL_MIN_BYTES, FeedError, Records, first_error, read_feed
from broker.feed_stage import Stage
from services.feed.names import parse_name

__all__ = ["FeedError", "FeedReport", "import_file", "import_stream"]

Tick = Callable[[int], None]


@dataclass
class FeedReport:
    """What a file changed: per entity kind, added / changed / removed; warnings (French)."""

    file_name: str
    kind: str
    ent_id: str
    sha256: str
    records: int
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def total(self, what: str) -> int:
        return sum(c[what] for c in self.counts.values())

    def summary(self) -> str:
        return (f"{self.file_name} ({self.kind}) : {self.records} éléments, "
                f"{self.total('added')} ajoutés, {self.total('changed')} modifiés, "
                f"{self.total('removed')} supprimés")

    def as_json(self) -> dict[str, Any]:
        return {"file": self.file_name, "kind": self.kind, "ent_id": self.ent_id,
                "sha256": self.sha256, "records": self.records, "counts": self.counts,
                "added": self.total("added"), "changed": self.total("changed"),
                "removed": self.total("removed"), "warnings": self.warnings}


class _Hashing:
    def __init__(self, stream: IO[bytes], tick: Tick | None) -> None:
        self.stream = stream
        self.digest = hashlib.sha256()
        self.tick = tick
        self.position = 0
        self.ticked = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(size)
        self.digest.update(chunk)
        self.position += len(chunk)
        if self.tick is not None and self.position > self.ticked:
            self.tick(self.position - self.ticked)  # bytes read again are not progress
            self.ticked = self.position
        return chunk

    def seekable(self) -> bool:
        check = getattr(self.stream, "seekable", None)
        return bool(callable(check) and check())

    def seek(self, offset: int) -> None:
        """Back to the start (the variant is read from the head; a refused file is read
        again for its line): the digest starts over."""
        if offset != 0:
            raise ValueError("only a rewind to the start is supported")
        self.stream.seek(0)
        self.digest = hashlib.sha256()
        self.position = 0


def _cpus() -> int:
    """CPUs this process may run on: a reader process only pays with a second one (with
    one, it is the same work plus the transfer)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if callable(affinity) else (os.cpu_count() or 1)


def _size(stream: IO[bytes]) -> int:
    """The bytes left to read in a seekable stream (0 if it cannot tell)."""
    check = getattr(stream, "seekable", None)
    if not (callable(check) and check()):
        return 0
    try:
        here = stream.tell()
        end = stream.seek(0, io.SEEK_END)
        stream.seek(here)
    except (OSError, ValueError):
        return 0
    return max(0, end - here)


def _earliest(stream: _Hashing, exc: Exception, max_bytes: int) -> Exception:
    """The error a refused file is refused for: the first in the file.

    The fast reader hands out a chunk's records before libxml2 reports that chunk's validity
    errors, and links and keys are checked in batches: an invalid element may thus reach the
    importer, or an error be found after a later one. The file is read again on the precise
    path (error path only), and the earlier of the two errors wins.
    """
    if not stream.seekable():
        return exc
    found = first_error(stream, max_bytes)  # type: ignore[arg-type]
    if found is not None and (not isinstance(exc, FeedError) or found.line <= exc.line
                              or exc.line == 0):
        return found
    return exc


def ent_of(file_name: str, default: str | None) -> str:
    """The ENT a file comes from: its conforming name, else ``default``; FeedError if neither."""
    parsed = parse_name(Path(file_name).name)
    if parsed is not None:
        return parsed.ent_id
    if default:
        return default
    raise FeedError("feed.unknown_ent", 0,
                    "ENT inconnu : nom de fichier non conforme et aucun idENT donné")


def import_stream(session: Session, stream: IO[bytes], *, file_name: str, ent_id: str,
                  strict: bool = False, max_bytes: int = 2 << 30,
                  tick: Tick | None = None) -> FeedReport:
    """Apply one file in the caller's transaction (flushes, never commits).

    On :class:`FeedError` the caller must roll back: some rows may have been flushed.
    """
    hashing = _Hashing(stream, tick)
    stage = Stage(session)
    records: Records | None = None
    try:
        kind, version, records = read_feed(
            hashing, max_bytes=max_bytes,  # type: ignore[arg-type]
            new_keys=stage.new_keys, keyed_elsewhere=KEYED_IN_SQL,
            parallel=_size(stream) >= PARALLEL_MIN_BYTES and _cpus() > 1)
        importer = Importer(session, kind=kind, ent_id=ent_id, strict=strict, stage=stage)
        try:
            for record in records:
                importer.add(record)
            outcome = importer.finish()
        except Exception as exc:
            records.close()  # the reader may be reading ahead: the stream is ours again
            raise _earliest(hashing, exc, max_bytes) from None
    finally:
        if records is not None:
            records.close()
        stage.close()
    counts = {name: {"added": c.added, "changed": c.changed, "removed": c.removed}
              for name, c in sorted(outcome.counts.items())}
    report = FeedReport(Path(file_name).name, kind, ent_id, hashing.digest.hexdigest(),
                        outcome.records, counts, outcome.warnings)
    session.add(m.FeedImport(file_name=report.file_name[:255], kind=kind, ent_id=ent_id,
                             version=version[:16], sha256=report.sha256, records=report.records,
                             counts=counts, at=datetime.now(UTC)))
    session.flush()
    return report


def import_file(sessions: sessionmaker[Session], path: Path, *, ent_id: str | None = None,
                strict: bool = False, tick: Tick | None = None) -> FeedReport:
    """Import one file in its own transaction; FeedError (nothing written) when refused."""
    ent = ent_of(path.name, ent_id)
    with path.open("rb") as stream, sessions.begin() as session:
        return import_stream(session, stream, file_name=path.name, ent_id=ent, strict=strict,
                             tick=tick)
