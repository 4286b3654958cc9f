"""The pipes between the importer and its reader process lose nothing, and a damaged frame is
refused, never decoded into records.

A write(2) to a full pipe returns short when the writing process is stopped and continued
(Ctrl-Z then ``fg``, a debugger or a profiler attaching): CPython 3.11's buffered writer
then dropped the rest of the frame (the importer failed with "bad marshal data", or could
have decoded wrong records).
"""

from __future__ import annotations

import os
import signal
import threading
import time
import zlib
from io import BytesIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from broker import feed_parse
from services.feed import bulk

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="POSIX job control")


@pytest.fixture(scope="module")
def students(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A students file whose records fill the 1 MiB pipe twice over (~2.3 MB of frames)."""
    folder = tmp_path_factory.mktemp("bulk")
    bulk.generate(folder, 5_000, 500)
    return folder / "eleves.xml"


def _expected(path: Path) -> list[feed_parse.Record]:
    with path.open("rb") as stream:
        return list(feed_parse.read_feed(stream)[2])


def _stop_and_continue(pid: int, done: threading.Event) -> None:
    while not done.is_set():
        try:
            os.kill(pid, signal.SIGSTOP)
            time.sleep(0.0005)
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            return
        time.sleep(0.001)


def test_records_cross_whole_when_the_reader_is_stopped_and_continued(students: Path) -> None:
    expected = _expected(students)
    done = threading.Event()
    with students.open("rb") as stream:
        _kind, _version, reader = feed_parse._Parallel.start(stream, 1 << 30, None, frozenset())
        jolt = threading.Thread(target=_stop_and_continue, args=(reader.child.pid, done),
                                daemon=True)
        jolt.start()
        received: list[feed_parse.Record] = []
        try:
            for record in reader:
                received.append(record)
                if len(received) % 256 == 0:
                    time.sleep(0.02)  # a slow consumer: the child waits on a full pipe
        finally:
            done.set()
            jolt.join()
            reader.close()
    assert received == expected


def test_the_stream_copy_writes_every_byte_when_pipe_writes_come_short(
        students: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _expected(students)
    write = os.write
    shortened: list[int] = []

    def short(fd: int, data: Any) -> int:
        shortened.append(fd)
        return write(fd, bytes(data[:1000]))  # as a stopped process's write(2) can return

    monkeypatch.setattr(feed_parse.os, "write", short)
    with students.open("rb") as stream:
        reader = feed_parse._Parallel.start(stream, 1 << 30, None, frozenset())[2]
        try:
            received = list(reader)
        finally:
            reader.close()
    assert shortened and received == expected


def _receiving(frames: bytes) -> Any:
    """A reader whose child (no process) has written ``frames`` and ended."""
    reader: Any = object.__new__(feed_parse._Parallel)
    reader.child = SimpleNamespace(stdout=BytesIO(frames), poll=lambda: 0, wait=lambda: 0)
    reader.stopped = threading.Event()
    reader.feeder = threading.Thread(target=lambda: None)
    reader.feeder.start()
    return reader


RECORD = ("GAREleve", 3, {"GARPersonIdentifiant": ["elv-1"], "GARPersonNom": ["Martin"]}, {})


def test_a_frame_is_its_length_checksum_and_data() -> None:
    frame = feed_parse._frame(("records", [RECORD]))
    size, crc, data = int.from_bytes(frame[:4], "big"), frame[4:8], frame[8:]
    assert size == len(data) and crc == zlib.crc32(data).to_bytes(4, "big")
    assert _receiving(frame)._receive() == ("records", [RECORD])


@pytest.mark.parametrize("damage", ["flipped byte", "lost bytes", "next frame's head inside"])
def test_a_damaged_frame_is_refused_not_decoded(damage: str) -> None:
    frame = feed_parse._frame(("records", [RECORD]))
    following = feed_parse._frame(("end",))
    if damage == "flipped byte":
        stream = frame[:20] + bytes([frame[20] ^ 0x01]) + frame[21:] + following
    elif damage == "lost bytes":
        stream = frame[:30] + frame[40:] + following
    else:
        stream = frame[:30] + following + frame[30:]
    assert _receiving(stream)._receive()[0] == "damaged"


def test_records_before_a_damaged_frame_are_handed_out_then_the_import_fails() -> None:
    good = feed_parse._frame(("records", [RECORD]))
    damaged = bytearray(feed_parse._frame(("records", [RECORD])))
    damaged[-1] ^= 0x01
    reader = _receiving(good + bytes(damaged) + feed_parse._frame(("end",)))
    records = reader._consume(feed_parse._Checker("Eleve"))
    assert next(records).values["GARPersonNom"] == ["Martin"]
    with pytest.raises(feed_parse.ReaderFailed, match="sortie du processus de lecture "
                       "endommagée") as failed:
        next(records)
    assert failed.value.code == "feed.reader_failed"
