"""Child process of ``test_memory``: import feed files in order, report peak RSS per file.

``python -m tests.feed.memory_child URL FILE...`` prints one JSON line: for each file, the
process's peak resident memory (MiB) once 10% of it was read, and at its end. A process of its
own, so that nothing else the test suite loaded counts.

The peak is Linux's ``VmHWM``, the high-water mark of this program's own memory, not
``getrusage``'s ``ru_maxrss``: the kernel carries the parent's resident size at the time of the
``exec`` into the child's ``ru_maxrss``, so a child of a large test process would start with
that process's peak and hide anything below it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def peak_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status")


def main(url: str, paths: list[Path]) -> dict[str, tuple[float, float]]:
    from broker.db import make_engine, migrate, session_factory
    from broker.feed import import_file

    engine = make_engine(url)
    migrate(engine)
    sessions = session_factory(engine)
    peaks: dict[str, tuple[float, float]] = {}
    for path in paths:
        tenth, read, early = path.stat().st_size // 10, [0], []

        def tick(n: int, tenth: int = tenth, read: list[int] = read,
                 early: list[float] = early) -> None:
            read[0] += n
            if not early and read[0] >= tenth:
                early.append(peak_mib())

        import_file(sessions, path, ent_id="ENT-MEMOIRE", tick=tick)
        peaks[path.name] = (early[0], peak_mib())
    engine.dispose()
    return peaks


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], [Path(arg) for arg in sys.argv[2:]])))
