"""Reading a directory-feed file as a stream of small records, whatever its size.

``lxml.etree.iterparse`` with the hardened settings of ``services.saml.xml`` (no DTD, no
entity, no network, no huge tree), validating the whole file against the shipped XSD as it
streams, and each top-level element on its own as soon as it ends, so that a refusal names
its line. Each element is turned into a :class:`Record` and cleared at once, with the
siblings before it: memory holds one element at a time. Order of sections and duplicate keys
are checked here too, with the line of the offending element.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

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
              keyed_elsewhere: frozenset[str] = frozenset(),
              ) -> tuple[str, str, Iterator[Record]]:
    """The kind and ``Version`` of a feed file, and its records one by one.

    Duplicate keys are found through ``new_keys`` when given (the importer's staging table),
    except those of the tags in ``keyed_elsewhere`` (the importer checks them), else with
    in-memory digests (~70 bytes per key).

    A stream that can ``seek`` is read on the fast path (:func:`_fast`); any other is read,
    and a file the fast path refuses is read again, on the precise one (:func:`_precise`),
    which names the line and the reason.

    Raises :class:`FeedError` (on the first call or while iterating) for anything refused.
    """
    seekable = getattr(stream, "seekable", None)
    if callable(seekable) and seekable():
        return _fast(stream, max_bytes, new_keys, keyed_elsewhere)
    return _precise(stream, max_bytes, new_keys, keyed_elsewhere)


def _iterparse(source: _Guarded, **options: Any) -> Any:
    return etree.iterparse(
        source, resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_comments=True, remove_pis=True, **options)


def _fast(stream: IO[bytes], max_bytes: int, new_keys: NewKeys | None,
          keyed_elsewhere: frozenset[str]) -> tuple[str, str, Iterator[Record]]:
    """libxml2 validates the whole stream in C against the schema without its keys (keys held
    in C memory grow with the file); only the top-level elements reach Python, and the keys
    are checked against the staging table a batch at a time.
    """
    variant = _peek_variant(stream)
    guarded = _Guarded(stream, max_bytes)
    etree.clear_error_log()
    events = _iterparse(guarded, events=("start", "end"), tag=_TOP_TAGS,
                        schema=stream_schema(variant))
    try:
        _event, root = next(events)
    except etree.XMLSyntaxError as exc:
        raise _precise_error(stream, max_bytes, exc) from None
    except StopIteration:
        raise _precise_error(stream, max_bytes, None) from None
    kind = kind_of_root(root.tag)
    version = root.get("Version")
    docinfo = root.getroottree().docinfo
    if (kind is None or not version or docinfo.doctype or docinfo.internalDTD is not None
            or variant_of(root.tag) != variant):
        raise _precise_error(stream, max_bytes, None)
    return kind, version, _fast_records(events, root,
                                        _Checker(kind, new_keys, keyed_elsewhere, variant),
                                        stream, max_bytes)


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


def _fast_records(events: Iterator[tuple[str, etree._Element]], root: etree._Element,
                  checker: _Checker, stream: IO[bytes], max_bytes: int) -> Iterator[Record]:
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
            checker.key(record)  # the order of sections is the schema's
            element.clear()
            while element.getprevious() is not None:
                del root[0]
            yield record
    except etree.XMLSyntaxError as exc:
        raise _precise_error(stream, max_bytes, exc) from None
    if not ended:
        raise _precise_error(stream, max_bytes, None)
    checker.done()


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
    found = first_error(stream, max_bytes)
    if found is not None:
        return found
    message = _clean(str(cause.msg or cause)) if cause is not None else "fichier invalide"
    return FeedError("feed.invalid", (cause.lineno or 0) if cause is not None else 0, message)


def _precise(stream: IO[bytes], max_bytes: int, new_keys: NewKeys | None,
             keyed_elsewhere: frozenset[str] = frozenset(),
             ) -> tuple[str, str, Iterator[Record]]:
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
             checker: _Checker, guarded: _Guarded, variant: str) -> Iterator[Record]:
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
