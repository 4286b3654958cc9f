"""Reading a directory-feed file as a stream of small records, whatever its size.

``lxml.etree.iterparse`` with the hardened settings of ``services.saml.xml`` (no DTD, no
entity, no network, no huge tree), validating the whole file against the shipped XSD as it
streams, and each top-level element on its own as soon as it ends, so that a refusal names
its line. Each element is turned into a :class:`Record` and cleared at once, with the
siblings before it: memory holds one element at a time. Order of sections and duplicate keys
are checked here too, with the line of the offending element.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import re
import subprocess
import sys
import threading
import zlib
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from lxml import etree

from services.feed.names import (
    KINDS,
    NAMESPACE,
    NAMESPACE_1D,
    VARIANTS,
    children,
    kind_of_root,
    root_tag,
    variant_of,
)
from services.feed.schema import element_schema, file_schema, stream_schema

_NS = f"{{{NAMESPACE}}}"
_NS_1D = f"{{{NAMESPACE_1D}}}"
_NESTED = {"GARPersonProfils", "GAREnsDisciplinesPostes", "GAREnsSpecialitesPostes"}
#: The roots and their top-level children: the only elements the fast path hands to Python.
_TOP_TAGS = sorted({root_tag(kind, variant) for kind in KINDS for variant in VARIANTS}
                   | {f"{{{VARIANTS[variant][0]}}}{tag}" for kind in KINDS for variant in VARIANTS
                      for tag in children(kind, variant)})
#: Any entity reference but the five predefined ones and character references.
_ENTITY = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos);|#[0-9]+;|#x[0-9A-Fa-f]+;)")
_FORBIDDEN = (b"<!DOCTYPE", b"<!ENTITY", b"<!ELEMENT", b"<!ATTLIST", b"<!NOTATION")


class FeedError(Exception):
    """A file refused whole: the line (0 when unknown), the reason (French), a stable code."""

    def __init__(self, code: str, line: int, reason: str) -> None:
        super().__init__(f"ligne {line} : {reason}")
        self.code = code
        self.line = line
        self.reason = reason


class ReaderFailed(RuntimeError):
    """The reader process crashed, or its output arrived damaged: the file is not at fault,
    nothing of it is kept (the caller rolls back), and importing it again is the remedy."""

    code = "feed.reader_failed"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass
class Record:
    """One top-level element: its leaf values by local name, and its nested blocks."""

    tag: str
    line: int
    values: dict[str, list[str]] = field(default_factory=dict)
    nested: dict[str, list[dict[str, list[str]]]] = field(default_factory=dict)

    def one(self, name: str) -> str:
        return self.values[name][0]

    def opt(self, name: str) -> str | None:
        found = self.values.get(name)
        return found[0] if found else None

    def all(self, name: str) -> list[str]:
        return self.values.get(name, [])


def _line(element: etree._Element) -> int:
    line: object = element.sourceline
    return line if isinstance(line, int) else 0


def _text(element: etree._Element) -> str:
    return "".join(str(part) for part in element.itertext()).strip()


def _leaves(element: etree._Element) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for child in element:
        if isinstance(child.tag, str):
            values.setdefault(etree.QName(child).localname, []).append(
                _text(child))
    return values


def _record(element: etree._Element) -> Record:
    record = Record(etree.QName(element).localname, _line(element))
    for child in element:
        if not isinstance(child.tag, str):
            continue
        name = etree.QName(child).localname
        if name in _NESTED:
            record.nested.setdefault(name, []).append(_leaves(child))
        else:
            record.values.setdefault(name, []).append(_text(child))
    return record


_KEYS: dict[str, tuple[str, ...]] = {
    "GAREleve": ("GARPersonIdentifiant",),
    "GAREnseignant": ("GARPersonIdentifiant",),
    "GARRespAff": ("GARPersonIdentifiant",),
    "GAREtab": ("GARStructureUAI",),
    "GARMEF": ("GARStructureUAI", "GARMEFCode"),
    "GARMatiere": ("GARStructureUAI", "GARMatiereCode"),
    "GARGroupe": ("GARGroupeCode", "GARStructureUAI"),
    "GARPersonGroupe": ("GARStructureUAI", "GARPersonIdentifiant", "GARGroupeCode"),
    "GAREnsGroupeMatiere": ("GARStructureUAI", "GARPersonIdentifiant", "GARGroupeCode"),
    "GAREnsClasseMatiere": ("GARStructureUAI", "GARPersonIdentifiant", "GARGroupeCode"),
    "GARPersonMEF": ("GARStructureUAI", "GARPersonIdentifiant", "GARMEFCode"),
    "GAREleveEnseignement": ("GARStructureUAI", "GARPersonIdentifiant", "GARMatiereCode"),
    "GARPersonMEFSTAT4": ("GARStructureUAI", "GARPersonIdentifiant", "GARMEFSTAT4"),
}


#: Records keys (tag, key) of several elements at once; the index of the first one the file
#: already had, else None (the database does it, a batch per round trip: flat memory).
NewKeys = Callable[[list[tuple[str, str]]], "int | None"]
KEY_BATCH = 1000


class _Checker:
    """Section order and duplicate keys, with the offending element's line.

    With a store, keys are checked a batch at a time: a duplicate is reported when its batch
    is checked (at the latest when the file ends), before anything is committed.
    """

    def __init__(self, kind: str, new_keys: NewKeys | None = None,
                 keyed_elsewhere: frozenset[str] = frozenset(), variant: str = "2d") -> None:
        self.order = children(kind, variant)
        #: Tags whose keys the caller checks itself (the importer, in SQL, at the end).
        self.keyed_elsewhere = keyed_elsewhere if new_keys is not None else frozenset()
        self.position = 0
        self.seen: dict[str, set[int]] = {}
        self.new_keys = new_keys
        self.pending: list[tuple[str, str]] = []
        self.lines: list[int] = []

    def check(self, record: Record) -> None:
        if record.tag not in self.order:
            raise FeedError("feed.invalid", record.line, f"élément inattendu : {record.tag}")
        index = self.order.index(record.tag)
        if index < self.position:
            raise FeedError("feed.invalid", record.line,
                            f"élément {record.tag} hors de l'ordre attendu "
                            f"({', '.join(self.order)})")
        self.position = index
        self.key(record)

    def key(self, record: Record) -> None:
        names = _KEYS.get(record.tag)
        if names is None or record.tag in self.keyed_elsewhere:
            return
        values = record.values
        key = tuple(values[n][0] for n in names)
        if self.new_keys is not None:
            self.pending.append((record.tag, "\x1f".join(key)))
            self.lines.append(record.line)
            if len(self.pending) >= KEY_BATCH:
                self.done()
            return
        # Without a store, 64-bit digests, not the strings: ~70 bytes per key.
        digest = int.from_bytes(hashlib.blake2b("\x1f".join(key).encode(), digest_size=8)
                                .digest(), "big")
        seen = self.seen.setdefault(record.tag, set())
        if digest in seen:
            raise FeedError("feed.duplicate_key", record.line,
                            f"clé en double dans {record.tag} : {' / '.join(key)}")
        seen.add(digest)

    def done(self) -> None:
        """Check the keys not checked yet."""
        if self.new_keys is None or not self.pending:
            return
        first = self.new_keys(self.pending)
        if first is not None:
            tag, key = self.pending[first]
            raise FeedError("feed.duplicate_key", self.lines[first],
                            f"clé en double dans {tag} : {key.replace(chr(31), ' / ')}")
        self.pending, self.lines = [], []


def _refuse_dtd(head: bytes) -> None:
    upper = head.upper()
    if any(marker in upper for marker in _FORBIDDEN):
        line = upper[: min(upper.find(m) for m in _FORBIDDEN if m in upper)].count(b"\n") + 1
        raise FeedError("feed.dtd_forbidden", line, "déclaration de type de document refusée")


class _Guarded:
    """A binary stream that refuses DTDs in the prolog and counts bytes read."""

    def __init__(self, stream: IO[bytes], max_bytes: int) -> None:
        self.stream = stream
        self.max_bytes = max_bytes
        self.read_bytes = 0
        self.lines = 1
        self.tail = b""
        self.head = b""

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(size if size and size > 0 else 65536)
        if not chunk:
            # Cut inside a tag, libxml2 may close what it read and report a misleading error.
            if self.tail.rstrip() and not self.tail.rstrip().endswith(b">"):
                raise FeedError("feed.truncated", self.lines,
                                "fichier tronqué : il s'arrête au milieu d'une balise")
            return chunk
        window = self.tail + chunk
        found = _ENTITY.search(window)
        if found is not None:
            line = self.lines - self.tail.count(b"\n") + window[: found.start()].count(b"\n")
            raise FeedError("feed.dtd_forbidden", line, "référence d'entité refusée")
        self.tail = window[-64:]
        self.lines += chunk.count(b"\n")
        self.read_bytes += len(chunk)
        if self.read_bytes > self.max_bytes:
            raise FeedError("feed.too_large", 0, f"fichier de plus de {self.max_bytes} octets")
        if len(self.head) < 4096:
            self.head += chunk[: 4096 - len(self.head)]
            _refuse_dtd(self.head)
        if b"<!" in chunk:  # a DOCTYPE can only stand before the root; be blunt anywhere
            _refuse_dtd(chunk)
        return chunk


def read_feed(stream: IO[bytes], *, max_bytes: int = 2 << 30, new_keys: NewKeys | None = None,
              keyed_elsewhere: frozenset[str] = frozenset(), parallel: bool = False,
              ) -> tuple[str, str, Records]:
    """The kind and ``Version`` of a feed file, and its records one by one.

    Duplicate keys are found through ``new_keys`` when given (the importer's staging table),
    except those of the tags in ``keyed_elsewhere`` (the importer checks them), else with
    in-memory digests (~70 bytes per key).

    A stream that can ``seek`` is read on the fast path (:func:`_fast`) — parsed in a child
    process if ``parallel`` (:class:`_Parallel`) —; any other is read, and a file the fast
    path refuses is read again, on the precise one (:func:`_precise`), which names the line
    and the reason.

    Raises :class:`FeedError` (on the first call or while iterating) for anything refused.
    Close the records (``close()``) if you stop before their end.
    """
    seekable = getattr(stream, "seekable", None)
    if callable(seekable) and seekable():
        if parallel:
            return _Parallel.start(stream, max_bytes, new_keys, keyed_elsewhere)
        return _fast(stream, max_bytes, new_keys, keyed_elsewhere)
    return _precise(stream, max_bytes, new_keys, keyed_elsewhere)


class Records(Protocol):
    """A file's records, one by one; ``close()`` stops reading (the stream is free again)."""

    def __iter__(self) -> Iterator[Record]: ...

    def __next__(self) -> Record: ...

    def close(self) -> None: ...


def _iterparse(source: _Guarded, **options: Any) -> Any:
    return etree.iterparse(
        source, resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_comments=True, remove_pis=True, **options)


class _Refused(Exception):
    """The fast path cannot go on; the precise path says why (``cause``: libxml2's error)."""

    def __init__(self, cause: etree.XMLSyntaxError | None = None) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _fast(stream: IO[bytes], max_bytes: int, new_keys: NewKeys | None,
          keyed_elsewhere: frozenset[str]) -> tuple[str, str, Records]:
    """libxml2 validates the whole stream in C against the schema without its keys (keys held
    in C memory grow with the file); only the top-level elements reach Python, and the keys
    are checked against the staging table a batch at a time.
    """
    variant = _peek_variant(stream)
    try:
        kind, version, parsed = _open_fast(stream, max_bytes, variant)
    except _Refused as refused:
        raise _precise_error(stream, max_bytes, refused.cause) from None
    return kind, version, _checked(parsed, _Checker(kind, new_keys, keyed_elsewhere, variant),
                                   stream, max_bytes)


def _open_fast(stream: IO[bytes], max_bytes: int, variant: str,
               ) -> tuple[str, str, Iterator[Record]]:
    """Kind, version and records of a stream on the fast path, keys not checked: anything
    wrong raises :class:`_Refused` (the records too: their parser's error as its cause)."""
    guarded = _Guarded(stream, max_bytes)
    etree.clear_error_log()
    events = _iterparse(guarded, events=("start", "end"), tag=_TOP_TAGS,
                        schema=stream_schema(variant))
    try:
        _event, root = next(events)
    except etree.XMLSyntaxError as exc:
        raise _Refused(exc) from None
    except StopIteration:
        raise _Refused from None
    kind = kind_of_root(root.tag)
    version = root.get("Version")
    docinfo = root.getroottree().docinfo
    if (kind is None or not version or docinfo.doctype or docinfo.internalDTD is not None
            or variant_of(root.tag) != variant):
        raise _Refused
    return kind, version, _fast_parse(events, root)


def _peek_variant(stream: IO[bytes]) -> str:
    """The variant of a file by its root's namespace, read from its head (then rewound)."""
    head = stream.read(65536)
    stream.seek(0)
    parser = etree.XMLPullParser(events=("start",), resolve_entities=False, no_network=True,
                                 load_dtd=False, huge_tree=False)
    try:
        parser.feed(head)
        for _event, element in parser.read_events():
            if isinstance(element, etree._Element):
                return variant_of(str(element.tag))
    except etree.XMLSyntaxError:
        pass  # the reader will say what is wrong
    return "2d"


def _fast_parse(events: Iterator[tuple[str, etree._Element]],
                root: etree._Element) -> Iterator[Record]:
    # libxml2 reports a validity error once the chunk it stands in is parsed: records from
    # that chunk may already have been handed out. The caller asks :func:`first_error`
    # about any error it meets, and the transaction is rolled back.
    ended = False
    try:
        for event, element in events:
            if event == "start":
                continue
            if element is root:
                ended = True
                continue  # read on: the parser reports the last chunk's errors after it
            if element.getparent() is not root:
                continue  # only in an invalid file: the parser is about to say so
            record = _fast_record(element)
            element.clear()
            while element.getprevious() is not None:
                del root[0]
            yield record
    except etree.XMLSyntaxError as exc:
        raise _Refused(exc) from None
    if not ended:
        raise _Refused


def _checked(parsed: Iterator[Record], checker: _Checker, stream: IO[bytes],
             max_bytes: int) -> Generator[Record, None, None]:
    """The records with their keys checked, in file order, each before it is handed out."""
    try:
        for record in parsed:
            checker.key(record)  # the order of sections is the schema's
            yield record
    except _Refused as refused:
        raise _precise_error(stream, max_bytes, refused.cause) from None
    checker.done()


#: Files from this size on are parsed in a child process (:class:`_Parallel`): below it,
#: starting one (~0.15 s) costs more than it saves.
PARALLEL_MIN_BYTES = 8 << 20
_CHUNK = 256
_PIPE = 1 << 20


def _frame(item: Any) -> bytes:
    """Length, CRC-32 and ``marshal`` data: a frame damaged on the way is refused, never
    decoded into records (~12 µs a 58 KB frame: no difference measurable on a whole import,
    bench/README.md)."""
    data = marshal.dumps(item)
    return len(data).to_bytes(4, "big") + zlib.crc32(data).to_bytes(4, "big") + data


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte to a pipe, with ``os.write`` and a loop.

    Not through Python's buffered file objects: a write(2) to a full pipe returns short when
    the process is stopped and continued (job control: Ctrl-Z then ``fg``, or a profiler
    attaching), and CPython 3.11's ``BufferedWriter`` then lost the rest of the frame (in a
    plain reproduction, 13.2 of 21.8 MB arrived; ``tests/feed/test_reader_pipe.py`` stops and
    continues the reader).
    """
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class _Parallel:
    """The fast path with its parsing in a child process (``python -m broker.feed_reader``):
    lxml and the Python that turns elements into records — about 60% of an import's CPU —
    run on another CPU while this process writes the previous records to the database.

    What stays here: the stream (a thread copies it to the child, through the caller's
    wrapper, so digest and progress are unchanged), the key checks (in file order, each
    just before its record is handed out, as in one process), and every refusal: the child
    only reports that and where libxml2 failed, and the file is read again here, on the
    precise path, once the child has ended. Records cross as ``marshal`` data (tuples,
    lists, dicts and strings only) in frames checked by CRC-32, at most a pipe's worth
    (1 MiB) ahead: memory stays flat in both processes. Both pipes are written with
    :func:`_write_all`, which survives a stop and continue.
    """

    def __init__(self, stream: IO[bytes], max_bytes: int, variant: str) -> None:
        self.stream = stream
        self.max_bytes = max_bytes
        root = str(Path(__file__).resolve().parent.parent)
        path = os.environ.get("PYTHONPATH")
        env = {**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else "")}
        self.child = subprocess.Popen(  # noqa: S603 - this interpreter, our own module
            [sys.executable, "-m", "broker.feed_reader", variant, str(max_bytes)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        for pipe in (self.child.stdin, self.child.stdout):
            # A larger pipe, fewer wake-ups (Linux only; the default 64 KiB works too).
            with contextlib.suppress(ImportError, AttributeError, OSError):
                import fcntl  # POSIX only

                fcntl.fcntl(pipe, fcntl.F_SETPIPE_SZ, _PIPE)  # type: ignore[arg-type]
        self.stopped = threading.Event()
        self.feeder = threading.Thread(target=self._feed, name="feed-copy", daemon=True)
        self.feeder.start()
        self.records: Generator[Record, None, None] | None = None

    @classmethod
    def start(cls, stream: IO[bytes], max_bytes: int, new_keys: NewKeys | None,
              keyed_elsewhere: frozenset[str]) -> tuple[str, str, Records]:
        variant = _peek_variant(stream)
        try:
            reader = cls(stream, max_bytes, variant)
        except OSError:  # no interpreter to start (embedded Python): one process, then
            return _fast(stream, max_bytes, new_keys, keyed_elsewhere)
        try:
            head = reader._receive()
            if head[0] != "head":
                raise reader._refusal(head)
        except BaseException:
            reader.close()
            raise
        kind, version = str(head[1]), str(head[2])
        reader.records = reader._consume(_Checker(kind, new_keys, keyed_elsewhere, variant))
        return kind, version, reader

    def _feed(self) -> None:
        """Copy the stream to the child (in a thread: file reads and pipe writes wait
        without the GIL)."""
        sink = self.child.stdin
        if sink is None:
            return
        try:
            while not self.stopped.is_set():
                chunk = self.stream.read(1 << 16)
                if not chunk:
                    break
                _write_all(sink.fileno(), chunk)
        except (OSError, ValueError):
            pass  # the child stopped reading: it has ended, or is being stopped
        finally:
            with contextlib.suppress(OSError, ValueError):
                sink.close()

    def _receive(self) -> tuple[Any, ...]:
        source = self.child.stdout
        head = source.read(8) if source is not None else b""
        size = int.from_bytes(head[:4], "big")
        data = source.read(size) if source is not None and len(head) == 8 else b""
        if len(head) < 8 or not data:
            return ("crashed",)
        if len(data) != size or zlib.crc32(data) != int.from_bytes(head[4:], "big"):
            return ("damaged", f"trame de {size} octets")
        try:
            item: tuple[Any, ...] = marshal.loads(data)  # noqa: S302 - our child's own output
        except (ValueError, EOFError, TypeError) as exc:
            return ("damaged", str(exc))
        return item

    def _end(self) -> None:
        """Wait for the child and the copying thread: the stream is the caller's again."""
        self.stopped.set()
        if self.child.stdout is not None:
            self.child.stdout.close()
        if self.child.poll() is None:
            self.child.kill()
        self.child.wait()
        self.feeder.join()

    def _refusal(self, item: tuple[Any, ...]) -> Exception:
        self._end()
        what = item[0]
        if what == "feed":
            return FeedError(str(item[1]), int(item[2]), str(item[3]))
        if what == "refused":
            message = None if item[1] is None else str(item[1])
            return _precise_refusal(self.stream, self.max_bytes, message, int(item[2]))
        if what == "damaged":
            return ReaderFailed(f"sortie du processus de lecture endommagée ({item[1]}) ; "
                                "rien n'a été écrit, relancez l'import")
        return ReaderFailed(f"le processus de lecture a échoué ({item[1:] or 'sans sortie'}) ; "
                            "rien n'a été écrit, relancez l'import")

    def _consume(self, checker: _Checker) -> Generator[Record, None, None]:
        while True:
            item = self._receive()
            if item[0] == "end":
                break
            if item[0] != "records":
                raise self._refusal(item)
            for tag, line, values, nested in item[1]:
                record = Record(tag, line, values, nested)
                checker.key(record)  # the order of sections is the schema's
                yield record
        self._end()
        checker.done()

    def __iter__(self) -> Iterator[Record]:
        return self

    def __next__(self) -> Record:
        if self.records is None:
            raise StopIteration
        return next(self.records)

    def close(self) -> None:
        """Stop the child (if still reading) and the copy; idempotent."""
        self._end()
        if self.records is not None:
            self.records.close()


def serve_child(variant: str, max_bytes: int) -> None:
    """The child's side of :class:`_Parallel`: the file on stdin, framed records on stdout."""
    source = sys.stdin.buffer
    out = sys.stdout.fileno()
    last: tuple[Any, ...] = ("end",)
    try:
        kind, version, parsed = _open_fast(source, max_bytes, variant)
        _write_all(out, _frame(("head", kind, version)))
        chunk: list[tuple[str, int, dict[str, list[str]], dict[str, Any]]] = []
        for r in parsed:
            chunk.append((r.tag, r.line, r.values, r.nested))
            if len(chunk) >= _CHUNK:
                _write_all(out, _frame(("records", chunk)))
                chunk = []
        _write_all(out, _frame(("records", chunk)))
    except BrokenPipeError:
        return  # the parent stopped listening
    except _Refused as refused:
        last = ("refused", *_cause(refused.cause))
    except FeedError as exc:
        last = ("feed", exc.code, exc.line, exc.reason)
    except Exception as exc:  # reported to the parent, which raises it
        last = ("crashed", repr(exc)[:500])
    with contextlib.suppress(BrokenPipeError):
        _write_all(out, _frame(last))


_LOCAL: dict[str, str] = {}


def _local(tag: str) -> str:
    name = _LOCAL.get(tag)
    if name is None:
        name = tag[len(_NS):] if tag.startswith(_NS) else etree.QName(tag).localname
        if len(_LOCAL) < 512:
            _LOCAL[tag] = name
    return name


def _fast_record(element: etree._Element) -> Record:
    """:func:`_record` for a valid element: leaves hold text only, no comment, no PI."""
    local = _LOCAL
    record = Record(local.get(element.tag) or _local(element.tag),
                    _line(element))
    values = record.values
    for child in element:
        name = local.get(child.tag) or _local(child.tag)
        if name in _NESTED:
            block: dict[str, list[str]] = {}
            for leaf in child:
                block.setdefault(local.get(leaf.tag) or _local(leaf.tag),
                                 []).append((leaf.text or "").strip())
            record.nested.setdefault(name, []).append(block)
        else:
            found = values.get(name)
            text = (child.text or "").strip()
            if found is None:
                values[name] = [text]
            else:
                found.append(text)
    return record


def first_error(stream: IO[bytes], max_bytes: int = 2 << 30) -> FeedError | None:
    """The first error of a file on the precise path (keys aside), None if it has none."""
    stream.seek(0)
    try:
        _kind, _version, records = _precise(stream, max_bytes, lambda _keys: None)
        for _ in records:
            pass
    except FeedError as exc:
        return exc
    return None


def _precise_error(stream: IO[bytes], max_bytes: int,
                   cause: etree.XMLSyntaxError | None) -> FeedError:
    """Read the refused file again on the precise path, for its line and reason."""
    return _precise_refusal(stream, max_bytes, *_cause(cause))


def _cause(cause: etree.XMLSyntaxError | None) -> tuple[str | None, int]:
    """libxml2's message and line, if it said anything."""
    if cause is None:
        return None, 0
    return str(cause.msg or cause), cause.lineno or 0


def _precise_refusal(stream: IO[bytes], max_bytes: int, message: str | None,
                     line: int) -> FeedError:
    """:func:`_precise_error` with libxml2's message and line as plain values."""
    found = first_error(stream, max_bytes)
    if found is not None:
        return found
    return FeedError("feed.invalid", line,
                     _clean(message) if message is not None else "fichier invalide")


def _precise(stream: IO[bytes], max_bytes: int, new_keys: NewKeys | None,
             keyed_elsewhere: frozenset[str] = frozenset(),
             ) -> tuple[str, str, Records]:
    """Each top-level element validated on its own as it ends, so a refusal names its line."""
    guarded = _Guarded(stream, max_bytes)
    etree.clear_error_log()  # the log is per thread: an earlier document's errors must not show
    # No ``schema=`` here: libxml2's streaming validation keeps every key it checks in C
    # memory (measured: +69 MiB for 20,000 students against +25 MiB without). The root is
    # validated against the file schema below, each top-level element against the same
    # types as it ends, and order and keys by :class:`_Checker`: the same rules, flat memory.
    events = _iterparse(guarded, events=("start", "end"))
    try:
        _event, root = next(events)
    except etree.XMLSyntaxError as exc:
        raise _syntax(exc, events) from None
    except StopIteration:
        raise FeedError("feed.malformed", 0, "fichier vide") from None
    kind = kind_of_root(root.tag)
    if kind is None:
        raise FeedError("feed.unknown_root", _line(root) or 1,
                        f"élément racine inconnu : {root.tag[:120]}")
    version = root.get("Version")
    if not version:
        raise FeedError("feed.invalid", _line(root) or 1, "attribut Version manquant")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise FeedError("feed.dtd_forbidden", 1, "déclaration de type de document refusée")
    variant = variant_of(root.tag)
    shell = etree.Element(root.tag, dict(root.attrib))
    if not file_schema(variant).validate(shell):
        error: Any = file_schema(variant).error_log.last_error  # type: ignore[attr-defined]
        raise FeedError("feed.invalid", _line(root) or 1, _clean(str(error.message)))
    return kind, version, _records(events, root,
                                   _Checker(kind, new_keys, keyed_elsewhere, variant), guarded,
                                   variant)


def _records(events: Iterator[tuple[str, etree._Element]], root: etree._Element,
             checker: _Checker, guarded: _Guarded, variant: str,
             ) -> Generator[Record, None, None]:
    validator = element_schema(variant)
    namespace = f"{{{VARIANTS[variant][0]}}}"
    depth = 1
    last_line = _line(root) or 1
    try:
        for event, element in events:
            if event == "start":
                depth += 1
                continue
            depth -= 1
            if element is root:
                checker.done()
                return
            if depth != 1:
                continue
            last_line = _line(element) or last_line
            if not isinstance(element.tag, str) or not element.tag.startswith(namespace):
                raise FeedError("feed.invalid", last_line, f"élément inattendu : {element.tag}")
            if not validator.validate(element):
                error: Any = validator.error_log.last_error  # type: ignore[attr-defined]
                line = error.line if isinstance(error.line, int) and error.line else last_line
                raise FeedError("feed.invalid", line, _clean(str(error.message)))
            record = _record(element)
            checker.check(record)
            element.clear()
            while element.getprevious() is not None:
                del root[0]
            yield record
    except etree.XMLSyntaxError as exc:
        raise _syntax(exc, events, last_line) from None
    raise FeedError("feed.truncated", guarded.lines,
                    "fichier tronqué : l'élément racine n'est jamais fermé")


def _clean(message: str) -> str:
    return message.replace(_NS_1D, "").replace(_NS, "")[:300]


def _syntax(exc: etree.XMLSyntaxError, events: Any, fallback: int = 0) -> FeedError:
    """The parser's first real complaint (iterparse's own message is often "no element found")."""
    line, message = exc.lineno or 0, str(exc.msg or exc)
    entries: list[Any] = [e for e in events.error_log if e.level_name in ("ERROR", "FATAL")]
    if entries:
        line, message = entries[0].line or line, str(entries[0].message)
    message = _clean(message)
    code = "feed.malformed"
    if "Schemas validity" in message or "Element '" in message:
        code = "feed.duplicate_key" if "Duplicate key" in message else "feed.invalid"
    return FeedError(code, line or fallback, message)
