"""The importer's memory does not follow the file's size (README, "How a file is applied").

A students file of about 20 MiB (78,000 elements) and its groups file, generated as the
benchmark generates them (``services.feed.bulk``), are imported in child processes (the
students with the establishments and teachers before, the groups alone after them, so that each
file's peak is its own). Each file's peak resident memory once 10% of it was read and at its
end must agree within a margin: on PostgreSQL they are equal (measured: +0.1 MiB); on SQLite
the end is about 6 MiB higher (its page caches fill up to about 60% of the students file, then
stop: +3 MiB at a million people in bench/). Memory that grew with the file does not fit:
libxml2 holding the XSD's keys (measured +44 MiB), or even a tuple kept per element (+13 MiB on
SQLite). No time is measured: ``bench/`` does that.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.feed import bulk
from tests.backends import BACKENDS, postgres_schema

ROOT = Path(__file__).resolve().parent.parent.parent
PEOPLE = 20_000
MARGIN_MIB = {"sqlite": 12.0, "postgres": 4.0}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("memory")
    sizes = bulk.generate(folder, PEOPLE, 500)
    assert sizes["students"] >= 19_000
    return folder


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(backend, URL) of a fresh database."""
    if request.param == "sqlite":
        yield "sqlite", f"sqlite:///{tmp_path / 'memory.sqlite3'}"
        return
    with postgres_schema("memory") as schema_url:
        yield "postgres", schema_url


def _import(url: str, *paths: Path) -> dict[str, tuple[float, float]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAR_")}
    done = subprocess.run(
        [sys.executable, "-m", "tests.feed.memory_child", url, *map(str, paths)],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return {name: (early, end) for name, (early, end) in
            json.loads(done.stdout.strip().splitlines()[-1]).items()}


def test_importing_a_large_students_file_then_its_groups_keeps_memory_flat(
    files: Path, store: tuple[str, str]
) -> None:
    backend, url = store
    people = _import(url, *(files / f"{n}.xml" for n in ("etab", "eleves", "enseignants")))
    groups = _import(url, files / "groupes.xml")

    for name, (at_a_tenth, at_the_end) in (("eleves", people["eleves.xml"]),
                                          ("groupes", groups["groupes.xml"])):
        assert at_the_end - at_a_tenth <= MARGIN_MIB[backend], (
            f"{name}: {at_a_tenth:.1f} MiB at 10% of the file, {at_the_end:.1f} MiB at its end")
