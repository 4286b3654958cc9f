"""Benchmark: the floor under the SAML target, what the stack costs before the broker works.

Serves ``floor_app.py`` with the broker's uvicorn settings (``--workers N``, httptools, uvloop,
no access log) and drives "flows" of its two requests, shaped as the broker's SSO and ACS
requests (sizes of query, form and answers), from other processes, with ``sso_flows.py``'s
own driver (its ``floor`` flow).
Modes run alternately (``--runs`` each), each printing flows per server CPU-second:

- ``plain``: uvicorn + FastAPI + HTTP, the endpoints doing nothing;
- ``crypto``: the same plus a SAML flow's RSA work (2 verifications, 3 signatures);
- ``database`` (when ``--database-url`` names a PostgreSQL): ``crypto`` plus the login's 14
  database round trips as the cheapest statements psycopg can send;
- ``inline`` (only with ``--modes``): ``plain`` with both endpoints ``async def`` doing their
  work on the event loop's thread, to weigh the hand-off to the thread pool.

A broker that does everything else for free (parsing and canonicalising XML, policy, audit,
templates, and its statements' SQL beyond a bare round trip) cannot beat the ``database``
figure on the same machine.

    python bench/http_floor.py [--workers 2] [--seconds 10] [--runs 3]
        [--database-url postgresql://gar:gar@127.0.0.1:5432/gar_bench]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from benchlib import ROOT, free_port, machine, percentile, wait_http

BENCH = Path(__file__).resolve().parent


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL as libpq takes it (``psycopg.connect``)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def measure(mode: str, *, workers: int, seconds: float, concurrency: int,
            processes: int, database: str) -> tuple[float, float, float]:
    """One run of one mode: (flows/s, flows per server CPU-s, p50 latency in ms), driven by
    ``sso_flows.run`` with the driver's ``floor`` flow, as the broker is."""
    from unittest import mock

    from sso_flows import _peers, run

    port = free_port()
    env = {**os.environ, "GAR_FLOOR_MODE": "plain" if mode == "inline" else mode,
           "GAR_FLOOR_INLINE": "1" if mode == "inline" else "0", "GAR_FLOOR_DATABASE": database}
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "uvicorn", "--factory", "floor_app:create_app",
         "--app-dir", str(BENCH), "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers), "--no-access-log",
         "--log-level", "warning"], cwd=ROOT, env=env)
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as work:
        # The driver's peers come from the testbed's settings: its base URL is this server.
        driver_env = {"GAR_DATA_DIR": work, "GAR_BROKER_PORT": str(port),
                      "GAR_HOST": "127.0.0.1",
                      "PYTHONPATH": os.pathsep.join([str(BENCH), str(ROOT)])}
        with mock.patch.dict(os.environ, driver_env):
            _peers()  # their keys and secrets made here, once, not by two drivers at a time
        try:
            wait_http(f"http://127.0.0.1:{port}/health")
            time.sleep(1.0)  # every worker up
            with ProcessPoolExecutor(processes, mp_context=get_context("spawn")) as pool:
                common = {"processes": processes, "threads": max(1, concurrency // processes),
                          "rate": None, "env": driver_env, "subjects": [("floor", "floor")],
                          "broker_pid": server.pid, "protocol": "floor"}
                run(pool, seconds=2.0, **common)  # warm-up
                result = run(pool, seconds=seconds, **common)
        finally:
            server.terminate()
            server.wait(timeout=30)
    if result["ok"] != result["flows"]:
        raise RuntimeError(f"the floor app failed flows: {result['errors']}")
    latencies: list[float] = result["latencies"]  # type: ignore[assignment]
    return result["rate"], result["per_cpu"], percentile(latencies, 50) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seconds", type=float, default=10.0, help="per measured run")
    parser.add_argument("--runs", type=int, default=3, help="runs of each mode, alternating")
    parser.add_argument("--concurrency", type=int, default=0,
                        help="flows in flight (default 4 per worker, as sso_flows.py)")
    parser.add_argument("--driver-processes", type=int, default=2)
    parser.add_argument("--database-url", default="",
                        help="a PostgreSQL URL: adds the database mode (see above)")
    parser.add_argument("--modes", default="",
                        help="comma-separated, among plain, crypto, database, inline "
                             "(default: plain, crypto, and database with --database-url)")
    args = parser.parse_args()
    database = libpq_url(args.database_url)
    modes = (args.modes.split(",") if args.modes
             else ["plain", "crypto"] + (["database"] if database else []))
    if set(modes) - {"plain", "crypto", "database", "inline"}:
        parser.error("--modes: plain, crypto, database or inline")
    if "database" in modes and not database:
        parser.error("the database mode needs --database-url")
    concurrency = args.concurrency or 4 * args.workers
    print(machine())
    print(f"conditions: {args.workers} uvicorn workers (httptools, uvloop), {concurrency} "
          f"flows in flight, driver {args.driver_processes} processes on the same machine, "
          f"{args.seconds:.0f} s a run; server CPU is the uvicorn processes' only (not "
          f"PostgreSQL's)", flush=True)
    figures: dict[str, list[float]] = {mode: [] for mode in modes}
    for run in range(1, args.runs + 1):
        for mode in figures:
            rate, per_cpu, p50 = measure(mode, workers=args.workers, seconds=args.seconds,
                                         concurrency=concurrency,
                                         processes=args.driver_processes, database=database)
            figures[mode].append(per_cpu)
            print(f"  run {run}/{args.runs}, {mode}: {rate:.0f} flows/s, {per_cpu:.0f} flows "
                  f"per server CPU-s, p50 {p50:.1f} ms", flush=True)
    medians = ", ".join(f"{mode} {statistics.median(values):.0f}"
                        for mode, values in figures.items())
    print(f"summary: floor of a SAML flow on this machine, flows per server CPU-s, medians of "
          f"{args.runs} runs: {medians} (the target is 300 for the whole broker)")


if __name__ == "__main__":
    main()
