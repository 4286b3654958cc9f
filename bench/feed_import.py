"""Benchmark: import a national-size directory feed (students, teachers, groups) into a fresh store.

Writes (streaming, in this process, before any measure) one big file of each kind for
``--people`` people — deliberately past the 10,000-node packaging limit, to show that the
import's memory stays flat — then runs ``--runs`` imports, each in a fresh child process on a
fresh database (a new SQLite file, or a new PostgreSQL schema), and prints for each file its
time, its elements and people per second, the importer's CPU time (its own and its reader
process's, when a big file is parsed in one; with PostgreSQL on this machine, the server
backend's too), and the child's peak resident
memory (``VmHWM``) with its value once 10% of the file was read (flat: the two agree).
The summary gives medians over the runs.

``--parse-floor`` instead measures, in this process, the CPU per student of reading the
students file with lxml alone (``iterparse`` and ``clear``), then validating it against the
XSD in C as the reader does (the floor of any reader in this stack that validates), against
the importer's reader (``read_feed``'s fast path, records out, no store).

    python bench/feed_import.py --people 100000 [--store sqlite|postgres]
        [--postgres-url postgresql+psycopg://gar:gar@127.0.0.1:5432/gar_feed] [--runs 3]
    python bench/feed_import.py --people 100000 --parse-floor
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FILES = ("etab", "eleves", "enseignants", "groupes")


def peak_mib() -> float:
    """This process's peak resident memory since it started (``VmHWM``).

    Not ``getrusage``'s ``ru_maxrss``: across ``exec`` Linux carries the parent's peak into it,
    which would hide a child's growth below the size of the process that started it.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _server_cpu(engine: Any) -> tuple[int, float] | None:
    """The PostgreSQL backend the pool hands out, and its CPU seconds so far (user + system),
    when the server runs on this machine and its ``/proc`` is readable; else None.

    The server's own work is the part of a PostgreSQL import's wall time that the importer's
    CPU time does not show, and on a shared machine its CPU time is the figure that compares.
    """
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as connection:
        pid = int(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar())
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return pid, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    """CPU seconds of this process's ended children (the import's reader processes)."""
    times = os.times()
    return times.children_user + times.children_system


def one_run(folder: Path, url: str) -> dict[str, Any]:
    """Import the four files into the store at ``url``; figures per file (child process)."""
    from broker.db import make_engine, migrate, session_factory
    from broker.feed import import_file

    engine = make_engine(url)
    migrate(engine)
    sessions = session_factory(engine)
    figures: dict[str, Any] = {"baseline_mib": peak_mib()}
    for name in FILES:
        path = folder / f"{name}.xml"
        size = path.stat().st_size
        read, early = [0], []

        def tick(n: int, size: int = size, read: list[int] = read,
                 early: list[float] = early) -> None:
            read[0] += n
            if not early and read[0] >= size // 10:
                early.append(peak_mib())

        server = _server_cpu(engine)
        wall, cpu, children = time.perf_counter(), time.process_time(), _children_cpu()
        report = import_file(sessions, path, ent_id="ENT-BENCH", tick=tick)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        children = _children_cpu() - children  # the reader process of a big file, if any
        after = _server_cpu(engine)  # the same backend if the pool kept its one connection
        figures[name] = {"seconds": wall, "cpu_seconds": cpu + children,
                         "reader_cpu_seconds": children,
                         "server_cpu_seconds": after[1] - server[1]
                         if server is not None and after is not None and after[0] == server[0]
                         else None,
                         "elements": report.records, "mib": size / 2**20,
                         "peak_mib": peak_mib(), "peak_at_10pct_mib": early[0] if early else None,
                         "counts": report.counts}
    engine.dispose()
    return figures


def parse_floor(path: Path, runs: int = 3) -> None:
    """Print the CPU per element of lxml alone and of the importer's reader (best of runs)."""
    from lxml import etree

    from broker.feed_parse import _peek_variant, read_feed
    from services.feed.schema import stream_schema

    with path.open("rb") as stream:
        variant = _peek_variant(stream)

    def lxml_alone(validating: bool) -> int:
        count = 0
        schema = {"schema": stream_schema(variant)} if validating else {}
        for _event, element in etree.iterparse(str(path), tag="{*}GAREleve", **schema):
            element.clear()
            while element.getprevious() is not None:  # the records before it, of any kind
                del element.getparent()[0]  # type: ignore[union-attr]
            count += 1
        return count

    def ours() -> int:
        with path.open("rb") as stream:
            _kind, _version, records = read_feed(stream)
            return sum(1 for record in records if record.tag == "GAREleve")

    figures = {}
    for name, read in (("lxml alone (iterparse, clear)", lambda: lxml_alone(False)),
                       ("lxml validating against the XSD, as the reader does",
                        lambda: lxml_alone(True)),
                       ("the importer's reader (records, no store)", ours)):
        best, count = float("inf"), 0
        for _ in range(runs):
            started = time.process_time()
            count = read()
            best = min(best, time.process_time() - started)
        figures[name] = best / count * 1e6
        print(f"  {name}: {figures[name]:.1f} µs of CPU per student ({count} students, "
              f"best of {runs})", flush=True)
    alone, validating, reader = figures.values()
    print(f"SUMMARY: reading the students file costs {alone:.1f} µs per student with lxml alone, "
          f"{validating:.1f} µs validating, {reader:.1f} µs with the importer's reader")


def _postgres_schema(url: str, schema: str, *, drop: bool) -> str:
    """A fresh schema on the server for one run (dropped afterwards); its URL."""
    from sqlalchemy import create_engine, text

    from broker.db import normalise_url

    engine = create_engine(normalise_url(url))
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        if not drop:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    separator = "&" if "?" in url else "?"
    return f"{normalise_url(url)}{separator}options=-csearch_path%3D{schema}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--per-establishment", type=int, default=500,
                        help="students per establishment (plus one teacher per two classes)")
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--postgres-url", default=os.environ.get(
        "BENCH_POSTGRES_URL", "postgresql+psycopg://gar:gar@127.0.0.1:5432/gar_feed"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--parse-floor", action="store_true",
                        help="only measure reading the students file (see above), no import")
    parser.add_argument("--one-run", nargs=2, metavar=("FOLDER", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_run:
        print(json.dumps(one_run(Path(args.one_run[0]), args.one_run[1])))
        return

    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as work:
        folder = Path(work)
        started = time.perf_counter()
        from services.feed import bulk

        sizes = bulk.generate(folder, args.people, args.per_establishment)
        people = sizes["students"] + sizes["teachers"]
        print(f"generated {sizes['establishments']} establishments, {sizes['students']} students,"
              f" {sizes['teachers']} teachers: " + ", ".join(
                  f"{n} {(folder / f'{n}.xml').stat().st_size / 2**20:.0f} MiB" for n in FILES)
              + f" in {time.perf_counter() - started:.0f} s", flush=True)
        if args.parse_floor:
            parse_floor(folder / "eleves.xml")
            return
        print(f"conditions: store {args.store}, {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.1f} at start, Python {platform.python_version()},"
              f" one transaction per file, fresh database per run", flush=True)
        runs: list[dict[str, Any]] = []
        for run in range(args.runs):
            if args.store == "sqlite":
                url = f"sqlite:///{folder / f'run{run}.sqlite3'}"
            else:
                url = _postgres_schema(args.postgres_url, f"bench_feed_{os.getpid()}_{run}",
                                       drop=False)
            try:
                child = subprocess.run(  # noqa: S603 - this very script
                    [sys.executable, __file__, "--one-run", str(folder), url],
                    check=False, capture_output=True, text=True)
                if child.returncode != 0:  # say why: a bare CalledProcessError hides it
                    raise SystemExit(f"run {run + 1} failed (exit {child.returncode}):\n"
                                     f"{child.stderr.strip()}")
                output = child.stdout
            finally:
                if args.store == "postgres":
                    _postgres_schema(args.postgres_url, f"bench_feed_{os.getpid()}_{run}",
                                     drop=True)
                else:
                    for suffix in ("", "-wal", "-shm"):
                        Path(f"{folder / f'run{run}.sqlite3'}{suffix}").unlink(missing_ok=True)
            figures = json.loads(output.strip().splitlines()[-1])
            runs.append(figures)
            line = ", ".join(
                f"{n} {figures[n]['seconds']:.1f} s ({figures[n]['cpu_seconds']:.1f} CPU s"
                + (f" of which reader {figures[n]['reader_cpu_seconds']:.1f}"
                   if figures[n].get("reader_cpu_seconds") else "")
                + (f", server {figures[n]['server_cpu_seconds']:.1f} CPU s"
                   if figures[n].get("server_cpu_seconds") is not None else "")
                + f", peak {figures[n]['peak_mib']:.0f} MiB)" for n in FILES)
            print(f"run {run + 1}: {line}", flush=True)

        def median(name: str, key: str) -> float:
            return statistics.median(r[name][key] for r in runs)

        person_seconds = [r["eleves"]["seconds"] + r["enseignants"]["seconds"] for r in runs]
        person_cpu = [r["eleves"]["cpu_seconds"] + r["enseignants"]["cpu_seconds"] for r in runs]
        server_cpu = [r["eleves"]["server_cpu_seconds"] + r["enseignants"]["server_cpu_seconds"]
                      for r in runs if r["eleves"].get("server_cpu_seconds") is not None
                      and r["enseignants"].get("server_cpu_seconds") is not None]
        for name in FILES:
            print(f"{name}: median {median(name, 'seconds'):.1f} s, "
                  f"{median(name, 'elements') / median(name, 'seconds'):.0f} elements/s, "
                  f"{median(name, 'mib'):.0f} MiB, peak RSS {median(name, 'peak_mib'):.0f} MiB "
                  f"(at 10% of the file: {median(name, 'peak_at_10pct_mib'):.0f} MiB)")
        memberships = runs[0]["groupes"]["counts"]["memberships"]["added"]
        print(f"groupes: {memberships} memberships in {median('groupes', 'seconds'):.1f} s = "
              f"{memberships / median('groupes', 'seconds'):.0f} memberships/s")
        print(f"SUMMARY: {people} people (students + teachers files) in "
              f"{statistics.median(person_seconds):.1f} s = "
              f"{people / statistics.median(person_seconds):.0f} people/s "
              f"({people / statistics.median(person_cpu):.0f} per importer CPU-second"
              + (f", {people / statistics.median(server_cpu):.0f} per server CPU-second"
                 if len(server_cpu) == len(runs) else "")
              + "), peak RSS "
              f"{max(r[n]['peak_mib'] for r in runs for n in FILES):.0f} MiB, "
              f"median of {len(runs)} runs, store {args.store}")


if __name__ == "__main__":
    main()
