"""What the benchmarks share: the machine's description, percentiles, processes' CPU time.

Benchmarks print figures, never pass/fail: every one prints the conditions it ran under
(machine, store, workers, dataset) beside its numbers, so a figure is never read alone.
"""

from __future__ import annotations

import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

_TICKS = os.sysconf("SC_CLK_TCK")


def machine() -> str:
    """``nproc``, the CPU model and the Python version, on one line."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    start = time.perf_counter()
    total = 0
    for i in range(1_000_000):
        total += i
    loop_ms = (time.perf_counter() - start) * 1e3
    return (f"machine: {os.cpu_count()} CPU ({model}), Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}, load average {load} (shared machine: "
            f"other work may run); Python speed now: 10⁶ additions in {loop_ms:.0f} ms "
            f"(compare runs with it: the lower, the quieter the machine)")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), nearest-rank: a value that was really observed."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summary_ms(values: Sequence[float]) -> str:
    """p50/p95/p99/max of durations given in seconds, printed in milliseconds."""
    return (f"p50 {percentile(values, 50) * 1e3:.1f} ms, p95 {percentile(values, 95) * 1e3:.1f} ms,"
            f" p99 {percentile(values, 99) * 1e3:.1f} ms, max {max(values) * 1e3:.1f} ms")


def children(pid: int) -> list[int]:
    """``pid`` and all its descendants (from /proc; Linux only)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo += [int(p) for p in task.read_text().split()]
            except OSError:
                continue
    return found


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time of these processes (their own, not their reaped children's)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / _TICKS


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 60.0) -> None:
    """Poll ``url`` until it answers 200 (a server starting up)."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.2)


def py_spy(out: Path, pid: int, seconds: float) -> subprocess.Popen[bytes]:
    """py-spy sampling a server and its workers (collapsed stacks, idle threads left out), for
    ``sso_profile.py --stacks``."""
    spy = Path(sys.executable).with_name("py-spy")
    return subprocess.Popen(  # noqa: S603 - the venv's py-spy, our own server
        [str(spy), "record", "--pid", str(pid), "--subprocesses", "--format", "raw",
         "--rate", "200", "--gil", "--duration", str(int(seconds) + 1), "--nonblocking",
         "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
