"""The reader holds one element at a time, whatever the file's size."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import pytest
from lxml import etree

from broker import feed_parse
from services.dataset import Dataset
from tests.feed.conftest import feed_files


def test_each_element_is_freed_before_the_next_is_read(academy: Dataset) -> None:
    seen: list[bool] = []

    def spy(original: Any) -> Any:
        def spying(element: etree._Element) -> feed_parse.Record:
            # Of what was read before, only the last element remains, emptied (the parser
            # may have read a little ahead: following siblings do not count).
            previous = element.getprevious()
            seen.append(previous is None or (len(previous) == 0
                                             and previous.getprevious() is None))
            return original(element)  # type: ignore[no-any-return]
        return spying

    patch = pytest.MonkeyPatch()
    patch.setattr(feed_parse, "_record", spy(feed_parse._record))  # precise path
    patch.setattr(feed_parse, "_fast_record", spy(feed_parse._fast_record))  # fast path
    try:
        _kind, _version, records = feed_parse.read_feed(BytesIO(feed_files(academy)["Eleve"]))
        count = sum(1 for _ in records)
    finally:
        patch.undo()
    assert count > 50 and set(seen) == {True}


def test_records_carry_values_nested_blocks_and_lines(academy: Dataset) -> None:
    kind, version, records = feed_parse.read_feed(BytesIO(feed_files(academy)["Enseignant"]))
    first = next(iter(records))
    assert (kind, version, first.tag, first.line) == ("Enseignant", "1.7", "GAREnseignant", 3)
    assert first.one("GARPersonIdentifiant") == academy.person("enseignant").person_id
    assert len(first.nested["GARPersonProfils"]) == 2


class _Pipe:
    """A stream that cannot seek: read on the precise path only."""

    def __init__(self, content: bytes) -> None:
        self.inner = BytesIO(content)

    def read(self, size: int = -1) -> bytes:
        return self.inner.read(size)


def test_the_fast_and_the_precise_readers_yield_the_same_records(academy: Dataset) -> None:
    for content in feed_files(academy).values():
        fast = feed_parse.read_feed(BytesIO(content))
        precise = feed_parse.read_feed(_Pipe(content))  # type: ignore[arg-type]
        assert fast[:2] == precise[:2]
        assert list(fast[2]) == list(precise[2])
