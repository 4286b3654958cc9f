"""Benchmark: stream one big ``GAR-ENT-Eleve`` file into a fresh SQLite broker.

Generates (in a child process, so its memory does not count) a national-size academy and
writes its students as ONE file — deliberately past the 10,000-node packaging limit, to show
that the import's memory stays flat — then imports the establishments and that file, and
prints people per second and the peak resident memory (``resource.getrusage``).

    python bench/feed_import.py [--students 100000] [--per-establishment 1000]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def generate(folder: Path, students: int, per_establishment: int) -> None:
    from services.dataset import build
    from services.feed.writer import documents, nodes_by_kind, render

    data = build(provider_base="http://127.0.0.1:8002",
                 establishments=max(1, students // per_establishment),
                 students_per_establishment=per_establishment)
    at = datetime(2026, 9, 1, tzinfo=UTC)
    etab = next(content for name, content in documents(data, at=at) if "_Etab_" in name)
    (folder / "etab.xml").write_bytes(etab)
    eleves = [node for nodes in nodes_by_kind(data)["Eleve"].values() for node in nodes]
    rank = {"GAREleve": 0, "GARPersonMEF": 1, "GAREleveEnseignement": 2}
    eleves.sort(key=lambda node: rank[node[0]])
    (folder / "eleves.xml").write_bytes(render("Eleve", eleves))


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--per-establishment", type=int, default=1_000)
    parser.add_argument("--generate-into", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate_into:
        generate(args.generate_into, args.students, args.per_establishment)
        return

    from broker.db import make_engine, migrate, session_factory
    from broker.feed import import_file

    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        started = time.perf_counter()
        command = [sys.executable, __file__, "--students", str(args.students),
                   "--per-establishment", str(args.per_establishment),
                   "--generate-into", str(folder)]
        subprocess.run(command, check=True)  # noqa: S603 - this very script
        size = (folder / "eleves.xml").stat().st_size
        print(f"generated {args.students} students, {size / 2**20:.1f} MiB "
              f"in {time.perf_counter() - started:.1f} s")
        engine = make_engine(f"sqlite:///{folder / 'broker.sqlite3'}")
        migrate(engine)
        sessions = session_factory(engine)
        import_file(sessions, folder / "etab.xml", ent_id="ENT-BENCH")
        baseline = peak_mib()
        # Peak RSS once the first 10k people's bytes are read: growth past it shows flatness.
        mark, read, early = size * min(1.0, 10_000 / args.students), [0], []

        def tick(n: int) -> None:
            read[0] += n
            if not early and read[0] >= mark:
                early.append(peak_mib())

        started = time.perf_counter()
        report = import_file(sessions, folder / "eleves.xml", ent_id="ENT-BENCH", tick=tick)
        elapsed = time.perf_counter() - started
        people = report.counts["persons"]["added"]
        print(report.summary())
        print(f"peak RSS before the big file {baseline:.0f} MiB, after {peak_mib():.0f} MiB")
        print(f"SUMMARY: {people} people in {elapsed:.1f} s = {people / elapsed:.0f} people/s, "
              f"file {size / 2**20:.1f} MiB, peak RSS {peak_mib():.0f} MiB "
              f"(+{peak_mib() - baseline:.0f} MiB over the baseline)")
        if early and people > 10_000:
            growth = (peak_mib() - early[0]) * 10_000 / (people - 10_000)
            print(f"GROWTH: peak RSS {early[0] - baseline:+.0f} MiB after the first 10k people, "
                  f"then {growth:+.2f} MiB per further 10k people (flat: ~0)")
        engine.dispose()


if __name__ == "__main__":
    main()
