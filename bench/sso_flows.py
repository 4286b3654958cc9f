"""Benchmark: complete SP-initiated SAML flows through a real broker (uvicorn, N workers).

Prepares a broker (keys, schema, an academy of ``--establishments`` × ``--students`` pupils
imported through the directory feed, the mocks' metadata in its trust registry) on SQLite or
PostgreSQL, starts ``uvicorn --workers N`` on it, and drives flows from other processes
(:mod:`sso_driver`: it plays the provider and the identity provider with their keys). Two runs:

1. full rate: a closed loop of ``--concurrency`` flows at a time;
2. half that rate: flows started on a fixed schedule at half the full rate (the target
   regime: p99 under 50 ms).

``--runs N`` repeats the full-rate run (the median one sets the half rate); ``--floor`` runs
``http_floor.py``'s floor before each, with the same workers, load and duration, and prints
the broker's flows per CPU-second as a share of the floor's, pair by pair.

For each: flows/s, broker CPU-seconds (user + system of the uvicorn processes, from /proc,
before and after), flows per broker CPU-second, and p50/p95/p99 of the broker's latency per
flow (SSO request + ACS request). The driver shares the machine: its CPU time is printed too.

    python bench/sso_flows.py --store sqlite --workers 2
    python bench/sso_flows.py --store postgres --database-url postgresql+psycopg://gar:gar@127.0.0.1:5432/gar_bench
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from benchlib import (
    ROOT,
    children,
    cpu_seconds,
    free_port,
    machine,
    percentile,
    py_spy,
    summary_ms,
    wait_http,
)

DEFAULT_POSTGRES = "postgresql+psycopg://gar:gar@127.0.0.1:5432/gar_bench"


@dataclass(frozen=True)
class Plan:
    """One driver process's share of a run."""

    env: dict[str, str]
    subjects: list[tuple[str, str]]
    threads: int
    start_at: float  # time.time() when every driver process starts
    seconds: float
    rate: float | None  # flows/s for this process; None: closed loop
    protocol: str


@dataclass(frozen=True)
class Outcome:
    flows: list[tuple[bool, tuple[float, ...], str]]
    late_starts: int
    driver_cpu: float


def drive(plan: Plan) -> Outcome:
    """Run in a driver process: ``plan.threads`` clients until the deadline."""
    os.environ.update(plan.env)
    import httpx
    from sso_driver import FLOWS, Subject

    peers = _peers()
    flow = FLOWS[plan.protocol]
    subjects = [Subject(p, r) for p, r in plan.subjects]
    results: list[tuple[bool, tuple[float, ...], str]] = []
    late = [0]
    lock = threading.Lock()
    cpu0 = time.process_time()

    def worker(index: int) -> None:
        rng = random.Random(index)  # noqa: S311 - load pattern
        period = plan.threads / plan.rate if plan.rate else 0.0
        with httpx.Client(timeout=30.0) as client:
            while time.time() < plan.start_at:
                time.sleep(0.001)
            begin = time.monotonic()
            due = begin + (index * period / plan.threads if period else 0.0)
            while True:
                if period:
                    wait = due - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                    elif wait < -0.005:
                        with lock:
                            late[0] += 1
                    due += period
                if time.monotonic() - begin >= plan.seconds:
                    break
                try:
                    done = flow(client, peers, rng.choice(subjects))
                    item = (done.ok, done.steps, done.error)
                except (httpx.HTTPError, KeyError, ValueError) as exc:
                    item = (False, (), f"{type(exc).__name__}")
                with lock:
                    results.append(item)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(plan.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Outcome(results, late[0], time.process_time() - cpu0)


def _peers() -> object:
    from sso_driver import Peers

    from idp_mock.app import entity_id as idp_entity_id
    from provider_mock import oidc_rp
    from provider_mock.app import acs_url
    from provider_mock.app import entity_id as sp_entity_id
    from services.dataset import ENT_ID
    from services.keys import load_or_create
    from services.settings import Settings

    settings = Settings()
    return Peers(
        broker_base=settings.broker_base,
        sp_entity_id=sp_entity_id(settings), sp_acs_url=acs_url(settings),
        sp_key=load_or_create(settings.keys_dir, "provider"),
        idp_entity_id=idp_entity_id(settings), idp_key=load_or_create(settings.keys_dir, "idp"),
        ent_id=ENT_ID,
        oidc_client_id=oidc_rp.client_id(settings),
        oidc_client_secret=oidc_rp.client_secret(settings),
        oidc_redirect_uri=oidc_rp.registration(settings)["redirect_uris"][0],
    )


def subjects_of(establishments: int, students: int, provider_base: str) -> list[tuple[str, str]]:
    """Who opens what: every extra pupil the institutional resource (granted to all users of
    the establishment), and the fixed personas with an assignment the maths textbook."""
    from services.dataset import build

    data = build(provider_base=provider_base, establishments=establishments,
                 students_per_establishment=students)
    by_slug = {r.slug: r.access_url for r in data.resources}
    fixed = {"eleve.assigne": "manuel-maths-4e", "enseignant": "manuel-maths-4e"}
    found = [(p.person_id, by_slug[fixed[p.login]]) for p in data.persons if p.login in fixed]
    found += [(p.person_id, by_slug["ressource-institutionnelle"]) for p in data.persons
              if p.person_id.startswith("elv-") and p.persona is None]
    return found


def run(pool: ProcessPoolExecutor, *, processes: int, threads: int, seconds: float,
        rate: float | None, env: dict[str, str], subjects: list[tuple[str, str]],
        broker_pid: int, protocol: str) -> dict[str, float]:
    start_at = time.time() + 1.0
    per_process = None if rate is None else rate / processes
    plans = [Plan(env, subjects, threads, start_at, seconds, per_process, protocol)
             for _ in range(processes)]
    pids = children(broker_pid)
    futures = [pool.submit(drive, plan) for plan in plans]
    while time.time() < start_at:
        time.sleep(0.001)
    cpu0, wall0 = cpu_seconds(pids), time.monotonic()
    outcomes = [f.result() for f in futures]
    cpu1, wall1 = cpu_seconds(pids), time.monotonic()
    flows = [f for o in outcomes for f in o.flows]
    ok = [f for f in flows if f[0]]
    errors = Counter(f[2] for f in flows if not f[0])
    latencies = [sum(f[1]) for f in ok]
    broker_cpu = cpu1 - cpu0
    elapsed = wall1 - wall0
    return {
        "flows": len(flows), "ok": len(ok), "errors": dict(errors.most_common(3)),  # type: ignore[dict-item]
        "elapsed": elapsed, "rate": len(ok) / elapsed, "broker_cpu": broker_cpu,
        "per_cpu": len(ok) / broker_cpu if broker_cpu else float("nan"),
        "latencies": latencies,  # type: ignore[dict-item]
        "step_p50": [percentile([f[1][i] for f in ok], 50)  # type: ignore[dict-item]
                     for i in range(len(ok[0][1]) if ok else 0)],
        "late": sum(o.late_starts for o in outcomes),
        "driver_cpu": sum(o.driver_cpu for o in outcomes),
    }


def report(name: str, result: dict[str, float], protocol: str, target: str = "") -> None:
    print(f"{name}: {result['ok']} flows ok of {result['flows']} in {result['elapsed']:.1f} s"
          f" = {result['rate']:.1f} flows/s; broker CPU {result['broker_cpu']:.1f} s"
          f" = {result['per_cpu']:.0f} flows per broker CPU-second"
          f" (driver CPU {result['driver_cpu']:.1f} s)")
    if result["ok"]:
        from sso_driver import STEPS

        steps = STEPS[protocol]
        medians = ", ".join(f"{step} {value * 1e3:.1f} ms"
                            for step, value in zip(steps, result["step_p50"], strict=True))
        print(f"  latency per flow ({' + '.join(steps)}): {summary_ms(result['latencies'])}"
              f"{target}; medians {medians}")
    if result["errors"]:
        print(f"  failures: {result['errors']}")
    if result["late"]:
        print(f"  {result['late']} flows started more than 5 ms late (driver saturated)")


def _floor_mode(args: argparse.Namespace) -> str:
    """The floor the broker is set against: with its round trips on PostgreSQL (the database
    mode needs a server), the stack and RSA work alone on SQLite."""
    return "database" if args.store == "postgres" else "crypto"


def _floor(args: argparse.Namespace, concurrency: int, processes: int) -> float:
    """One run of ``http_floor.py``'s floor under the same workers, load and duration."""
    from http_floor import libpq_url, measure

    database = libpq_url(args.database_url) if args.store == "postgres" else ""
    _rate, per_cpu, _p50 = measure(_floor_mode(args), workers=args.workers,
                                   seconds=args.seconds, concurrency=concurrency,
                                   processes=processes, database=database)
    return per_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_POSTGRES_URL",
                                                                 DEFAULT_POSTGRES))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--establishments", type=int, default=40)
    parser.add_argument("--students", type=int, default=500, help="per establishment")
    parser.add_argument("--seconds", type=float, default=20.0, help="per measured run")
    parser.add_argument("--concurrency", type=int, default=0,
                        help="flows in flight at full rate (default 4 per worker)")
    parser.add_argument("--driver-processes", type=int, default=2)
    parser.add_argument("--http", choices=("auto", "h11", "httptools"), default="auto",
                        help="uvicorn's HTTP parser (auto: httptools, a dependency)")
    parser.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default="auto",
                        help="uvicorn's event loop (auto: uvloop, a dependency)")
    parser.add_argument("--protocol", default="saml", choices=("saml", "oidc"),
                        help="the provider's protocol toward the broker (sso_driver.FLOWS)")
    parser.add_argument("--runs", type=int, default=1,
                        help="full-rate runs (the summary gives the median run)")
    parser.add_argument("--floor", action="store_true",
                        help="before each full-rate run, one run of http_floor.py's floor "
                             "(database mode on PostgreSQL, crypto on SQLite) with the same "
                             "workers, load and duration: the broker as a share of its stack's "
                             "floor, a figure that travels between machines better than either")
    parser.add_argument("--py-spy", type=Path, metavar="FILE",
                        help="sample the broker with py-spy during the full-rate run (collapsed "
                             "stacks to FILE; summarise with bench/sso_profile.py --stacks FILE)")
    args = parser.parse_args()
    if args.floor and args.protocol != "saml":
        parser.error("--floor: the floor is a SAML login's (http_floor.py); use it with saml")
    concurrency = args.concurrency or 4 * args.workers
    processes = max(1, min(args.driver_processes, concurrency))

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from broker.bootstrap import prepare
    from broker.db import normalise_url
    from services.settings import Settings

    work = Path(tempfile.mkdtemp(prefix="bench-sso-"))
    port = free_port()
    env = {"GAR_DATA_DIR": str(work), "GAR_BROKER_PORT": str(port), "GAR_HOST": "127.0.0.1"}
    schema = None
    if args.store == "postgres":
        schema = f"bench_sso_{uuid.uuid4().hex[:8]}"
        base = normalise_url(args.database_url)
        with create_engine(base).begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        env["DATABASE_URL"] = make_url(base).update_query_dict(
            {"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    os.environ.update(env)
    settings = Settings()
    print(machine())
    print(f"preparing: {args.establishments} establishments × {args.students} pupils, "
          f"store {args.store} ({work})", flush=True)
    started = time.monotonic()
    counts = prepare(settings, progress=lambda line: print(f"  {line}", flush=True),
                     establishments=args.establishments,
                     students_per_establishment=args.students)
    print(f"  ready in {time.monotonic() - started:.0f} s: {counts}", flush=True)
    subjects = subjects_of(args.establishments, args.students, settings.provider_base)

    server = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "uvicorn", "--factory", "broker.app:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers),
         "--no-access-log", "--log-level", "warning", "--http", args.http, "--loop", args.loop],
        cwd=ROOT, env={**os.environ, **env})
    try:
        wait_http(f"{settings.broker_base}/health")
        time.sleep(1.0)  # every worker up
        bench_dir = str(Path(__file__).resolve().parent)
        driver_env = {**env, "PYTHONPATH": os.pathsep.join([bench_dir, str(ROOT)])}
        sys.path.insert(0, bench_dir)
        conditions = (f"store {args.store}, {args.workers} uvicorn workers "
                      f"(--http {args.http}, --loop {args.loop}), "
                      f"{len(subjects):,} people who may log in "
                      f"({args.establishments} establishments), protocol {args.protocol}, "
                      f"driver {processes} processes on the same machine")
        print(f"conditions: {conditions}", flush=True)
        with ProcessPoolExecutor(processes, mp_context=get_context("spawn")) as pool:
            common = {"processes": processes, "env": driver_env, "subjects": subjects,
                      "broker_pid": server.pid, "protocol": args.protocol}
            print("warm-up (5 s)…", flush=True)
            run(pool, threads=concurrency // processes, seconds=5, rate=None, **common)
            fulls: list[dict[str, float]] = []
            floors: list[float] = []
            for number in range(1, args.runs + 1):
                label = f"full rate, run {number}/{args.runs}" if args.runs > 1 else "full rate"
                if args.floor:
                    floors.append(_floor(args, concurrency, processes))
                    print(f"{label}: the floor first ({_floor_mode(args)} mode of "
                          f"http_floor.py): {floors[-1]:.0f} flows per server CPU-second",
                          flush=True)
                print(f"{label} ({concurrency} in flight, {args.seconds:.0f} s)…", flush=True)
                spy = (py_spy(args.py_spy, server.pid, args.seconds)
                       if args.py_spy and number == 1 else None)
                fulls.append(run(pool, threads=max(1, concurrency // processes),
                                 seconds=args.seconds, rate=None, **common))
                report(label, fulls[-1], args.protocol)
                if spy is not None:
                    spy.wait(timeout=60)
            full = sorted(fulls, key=lambda result: result["per_cpu"])[(len(fulls) - 1) // 2]
            if floors:
                ratios = [f["per_cpu"] / floor for f, floor in zip(fulls, floors, strict=True)]
                print(f"against the floor: the broker at {statistics.median(ratios):.0%} of "
                      f"the {_floor_mode(args)} floor, median of {len(ratios)} pairs ("
                      + ", ".join(f"{r:.0%}" for r in ratios) + f"); floor median "
                      f"{statistics.median(floors):.0f} flows per server CPU-second", flush=True)
            half_rate = full["rate"] / 2
            print(f"half rate ({half_rate:.1f} flows/s on a fixed schedule, "
                  f"{args.seconds:.0f} s)…", flush=True)
            half = run(pool, threads=max(1, concurrency // processes), seconds=args.seconds,
                       rate=half_rate, **common)
            report("half rate", half, args.protocol, target=" (target p99 < 50 ms)")
        print(f"summary: {args.protocol}, {args.store}, {args.workers} workers: "
              f"{full['rate']:.0f} flows/s, "
              f"{full['per_cpu']:.0f} flows per broker CPU-s (target ≥ 300"
              + (f"; {statistics.median(ratios):.0%} of the floor" if floors else "")
              + f"{'; the median run of ' + str(len(fulls)) if len(fulls) > 1 else ''}); at "
              f"{half['rate']:.0f} flows/s p99 {percentile(half['latencies'], 99) * 1e3:.1f} ms"
              f" (target < 50 ms)")
    finally:
        server.terminate()
        server.wait(timeout=30)
        if schema is not None:
            with create_engine(normalise_url(args.database_url)).begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
