# ruff: noqa: S608 - the generator's SQL is built from this file's constants and integers only
"""Benchmark: the mediacentre list for a random person at national size, on PostgreSQL.

Builds (once; reused while its size matches) a national-size directory in its own schema of
the given database, migrated by Alembic like production, then filled with server-side
multi-row inserts (``INSERT … SELECT … FROM generate_series``, in chunks with progress):

    scale 1.0: 1,000,000 people (90 % pupils in 8 classes of their establishment, 10 %
    teachers), 5,000 establishments, 20,000 resources (20 delivered automatically), 40
    subscriptions per establishment (5 establishment-wide, 35 individual), 5,000,000
    assignments (5 individual ones per person, each with its held licence) plus one class
    assignment per class (40,000, with a licence for each pupil).

Then, for random (person, establishment) pairs: the latency of the list computed in process
(``mediacentre_list.find`` + ``openable``, one session each, as the endpoint does) and through
the real endpoint (``GET /ressources/{idENT}/{UAI}/{idUser}``, uvicorn, bearer token, one
request at a time), p50/p95; and ``EXPLAIN ANALYZE`` of every statement one list sends. A
first, separately reported pass over the sample reads its rows into the database's cache: the
figures after it are those of a server whose memory holds the working set.

    python bench/mediacentre_list.py [--scale 0.1] [--rebuild] [--samples 2000]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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
ENT = "ENT-BENCH"
PER_ESTABLISHMENT = 200  # people
CLASSES = 8
SUBSCRIPTIONS = 40  # per establishment; the first 5 establishment-wide
ETABL = 5
PERSONAL = 5  # individual assignments per person
AUTOMATIC = 20  # resources delivered automatically
LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"  # the UAI check letters (services.uai)


def sizes(scale: float) -> dict[str, int]:
    establishments = max(2, round(5_000 * scale))
    return {"establishments": establishments, "people": establishments * PER_ESTABLISHMENT,
            "resources": max(SUBSCRIPTIONS + AUTOMATIC, round(20_000 * scale))}


def _uai(column: str) -> str:
    """SQL for the UAI of number ``column`` (7 digits + check letter), as services.uai."""
    return (f"lpad(({column})::text, 7, '0') || "
            f"substr('{LETTERS}', (({column}) % 23)::int + 1, 1)")


def _chunks(total: int, parts: int) -> list[tuple[int, int]]:
    step = max(1, -(-total // parts))
    return [(lo, min(total, lo + step - 1)) for lo in range(1, total + 1, step)]


def build(connection: Any, scale: float) -> None:
    """Fill the (empty, migrated) schema; prints one line per step with its rate."""
    n = sizes(scale)
    e, p, r = n["establishments"], n["people"], n["resources"]
    base_uai = 4_000_000
    person_est = f"((g - 1) / {PER_ESTABLISHMENT} + 1)"  # person g's establishment number
    pupil = f"((g - 1) % {PER_ESTABLISHMENT} < {PER_ESTABLISHMENT * 9 // 10})"
    steps: list[tuple[str, int, str]] = [
        ("establishments", e, f"""
            INSERT INTO establishments (uai, name, kind, academy, city, ent_id)
            SELECT {_uai(f'{base_uai} + g')}, 'Collège n° ' || g, 'college', 'RENNES',
                   'Rennes', '{ENT}' FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g"""),
        ("groups (classes)", e * CLASSES, f"""
            INSERT INTO groups (id, uai, code, label, status, divisions)
            SELECT g, {_uai(f'{base_uai} + (g - 1) / {CLASSES} + 1')},
                   'C' || ((g - 1) % {CLASSES}), 'Classe ' || ((g - 1) % {CLASSES}),
                   'DIVISION', '[]' FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g"""),
        ("people", p, f"""
            INSERT INTO persons (id, person_id, ent_id, join_key, last_name, first_name,
                                 civility, emails)
            SELECT g, 'p' || g, '{ENT}', 'jk' || g, 'Nom' || (g % 997), 'Prénom' || (g % 89),
                   CASE WHEN g % 2 = 0 THEN 'Mme' ELSE 'M.' END, '[]'
            FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g"""),
        ("profiles", p, f"""
            INSERT INTO person_profiles (id, person_pk, uai, profile)
            SELECT g, g, {_uai(f'{base_uai} + {person_est}')},
                   CASE WHEN {pupil} THEN 'National_elv' ELSE 'National_ens' END
            FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g"""),
        ("class members (pupils)", p, f"""
            INSERT INTO group_members (group_id, person_pk)
            SELECT ({person_est} - 1) * {CLASSES} + (g - 1) % {CLASSES} + 1, g
            FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g WHERE {pupil}"""),
        ("providers", 100, """
            INSERT INTO providers (id, entity_id, name, distributor_id)
            SELECT 'prov-' || g, 'https://editeur-' || g || '.invalid/saml', 'Éditeur ' || g,
                   lpad(g::text, 9, '0') || '_' || lpad(g::text, 16, '0')
            FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g"""),
        ("resources", r, f"""
            INSERT INTO resources (id, provider_id, title, editor_id, editor_name, access_url,
                                   protocol, delivery, presentation, thumbnail_url, levels,
                                   subjects, pedagogical_types, document_types)
            SELECT 'ark:/99999/b' || g, 'prov-' || (g % 100 + 1), 'Ressource ' || g,
                   lpad((g % 100 + 1)::text, 9, '0') || '_' || lpad((g % 100 + 1)::text, 16, '0'),
                   'Éditeur ' || (g % 100 + 1), 'https://editeur.invalid/r/' || g, 'saml',
                   CASE WHEN g <= {AUTOMATIC} THEN 'automatic' ELSE 'assigned' END, 'MAN',
                   '/vignettes/r' || g || '.svg', '[]', '[]', '[]', '[]'
            FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g"""),
        ("subscriptions", e * SUBSCRIPTIONS, f"""
            INSERT INTO subscriptions (id, resource_id, uai, distributor_id, start_at, end_at,
                                       type, category, audience, licences_unlimited,
                                       created_at, updated_at, deleted)
            SELECT 'ABO-' || g, 'ark:/99999/b' || ({AUTOMATIC} + 1 +
                       ((g - 1) / {SUBSCRIPTIONS} * 7919 + (g - 1) % {SUBSCRIPTIONS} * 104729)
                       % ({r} - {AUTOMATIC})),
                   {_uai(f'{base_uai} + (g - 1) / {SUBSCRIPTIONS} + 1')},
                   '000000001_0000000000000001', now() - interval '100 days',
                   now() + interval '300 days',
                   CASE WHEN (g - 1) % {SUBSCRIPTIONS} < {ETABL} THEN 'ETABL' ELSE 'INDIV' END,
                   'transferable', '["ELEVE", "ENSEIGNANT", "DOCUMENTALISTE"]', true,
                   now(), now(), false
            FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g"""),
        # Person g's j-th individual assignment is assignment (g - 1) * 5 + j + 1, to the
        # individual subscription 5 + (g + 7j) % 35 of its establishment (distinct for j < 5).
        ("assignments (individual)", p * PERSONAL, f"""
            INSERT INTO assignments (id, subscription_id, target_kind, target_value,
                                     created_at)
            SELECT a, 'ABO-' || ((est - 1) * {SUBSCRIPTIONS} + {ETABL} + 1 +
                       (person + 7 * j) % ({SUBSCRIPTIONS} - {ETABL})),
                   'person', 'p' || person, now()
            FROM (SELECT a, (a - 1) / {PERSONAL} + 1 AS person, (a - 1) % {PERSONAL} AS j,
                         (a - 1) / {PERSONAL} / {PER_ESTABLISHMENT} + 1 AS est
                  FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) a) s"""),
        ("licences (individual)", p * PERSONAL, f"""
            INSERT INTO licence_allocations (subscription_id, person_pk, audience,
                                             assignment_id, allocated_at)
            SELECT 'ABO-' || ((est - 1) * {SUBSCRIPTIONS} + {ETABL} + 1 +
                       (person + 7 * j) % ({SUBSCRIPTIONS} - {ETABL})),
                   person, CASE WHEN (person - 1) % {PER_ESTABLISHMENT} <
                       {PER_ESTABLISHMENT * 9 // 10} THEN 'ELEVE' ELSE 'ENSEIGNANT' END,
                   a, now()
            FROM (SELECT a, (a - 1) / {PERSONAL} + 1 AS person, (a - 1) % {PERSONAL} AS j,
                         (a - 1) / {PERSONAL} / {PER_ESTABLISHMENT} + 1 AS est
                  FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) a) s"""),
        # Class c of an establishment gets individual subscription 5 + (3c) % 35 (offset 1:
        # not always one its pupils already hold personally).
        ("assignments (classes)", e * CLASSES, f"""
            INSERT INTO assignments (id, subscription_id, target_kind, target_value,
                                     created_at)
            SELECT {p * PERSONAL} + g,
                   'ABO-' || (((g - 1) / {CLASSES}) * {SUBSCRIPTIONS} + {ETABL} + 1 +
                       (3 * ((g - 1) % {CLASSES}) + 1) % ({SUBSCRIPTIONS} - {ETABL})),
                   'division', 'C' || ((g - 1) % {CLASSES}), now()
            FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g"""),
        ("licences (classes)", p, f"""
            INSERT INTO licence_allocations (subscription_id, person_pk, audience,
                                             assignment_id, allocated_at)
            SELECT a.subscription_id, g, 'ELEVE', a.id, now()
            FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g
            JOIN assignments a ON a.id = {p * PERSONAL} +
                 ({person_est} - 1) * {CLASSES} + (g - 1) % {CLASSES} + 1
            WHERE {pupil}"""),
    ]
    cursor = connection.cursor()
    started = time.monotonic()
    for name, total, sql in steps:
        t0 = time.monotonic()
        parts = _chunks(total, max(1, total // 250_000))
        for lo, hi in parts:
            cursor.execute(sql.replace("%", "%%").replace("%%(lo)s", "%(lo)s")
                           .replace("%%(hi)s", "%(hi)s"), {"lo": lo, "hi": hi})
            connection.commit()
            if len(parts) > 1:
                print(f"\r  {name}: {hi:,}/{total:,}", end="", flush=True)
        elapsed = time.monotonic() - t0
        print(f"\r  {name}: {total:,} rows in {elapsed:.1f} s "
              f"({total / max(elapsed, 1e-6):,.0f}/s)", flush=True)
    for table in ("persons", "person_profiles", "groups", "group_members", "assignments",
                  "licence_allocations"):
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                       f"(SELECT max(id) FROM {table}))")
    # This schema's tables only: a bare ANALYZE covers the whole database and waits for any
    # other transaction holding a table of it (another bench's import, say).
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    for (table,) in cursor.fetchall():
        cursor.execute(f'ANALYZE "{table}"')
    connection.commit()
    print(f"  built in {time.monotonic() - started:.0f} s (ANALYZE done)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_POSTGRES_URL",
                                                                 DEFAULT_POSTGRES))
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--rebuild", action="store_true", help="drop and build the data again")
    parser.add_argument("--samples", type=int, default=2000, help="lists per measurement")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers")
    parser.add_argument("--py-spy", type=Path, metavar="FILE",
                        help="sample the server with py-spy during the HTTP pass (collapsed "
                             "stacks; summarise with sso_profile.py --stacks FILE)")
    args = parser.parse_args()

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from broker.db import migrate, normalise_url

    n = sizes(args.scale)
    schema = f"bench_mediacentre_{str(args.scale).replace('.', '_')}"
    base = normalise_url(args.database_url)
    url = make_url(base).update_query_dict(
        {"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    print(machine())
    admin = create_engine(base)
    with admin.begin() as connection:
        if args.rebuild:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    engine = create_engine(url)
    migrate(engine)  # brings an existing schema to head too (new indexes of 0013)
    with engine.connect() as connection:
        people = connection.execute(text("SELECT count(*) FROM persons")).scalar_one()
    if people != n["people"]:
        if people:
            raise SystemExit(f"schema {schema} holds {people} people, not {n['people']}: "
                             "use --rebuild")
        print(f"building scale {args.scale} in schema {schema}: {n}", flush=True)
        raw = engine.raw_connection()
        try:
            build(raw, args.scale)
        finally:
            raw.close()
    with engine.connect() as connection:
        counts = {t: connection.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                  for t in ("persons", "establishments", "resources", "subscriptions",
                            "assignments", "licence_allocations")}
    print("conditions: PostgreSQL " + _server_version(engine) + ", "
          + ", ".join(f"{k} {v:,}" for k, v in counts.items()), flush=True)
    rng = random.Random(11)  # noqa: S311 - sample choice
    pairs = [_pair(rng.randrange(1, n["people"] + 1)) for _ in range(args.samples)]
    _explain(engine, pairs[0])
    in_process = _in_process(engine, pairs)
    print(f"in process, second pass over the same sample: {_figures(in_process)}", flush=True)
    http, server_cpu = _http(url, pairs, args.workers, args.py_spy)
    print(f"HTTP endpoint ({args.workers} uvicorn worker, sequential requests, gzip): "
          f"{_figures(http)}; server CPU {server_cpu / len(http) * 1e3:.2f} ms a request",
          flush=True)
    print(f"summary: mediacentre list at {counts['persons']:,} people / "
          f"{counts['assignments']:,} assignments: p95 {percentile(in_process, 95) * 1e3:.1f} ms"
          f" in process, {percentile(http, 95) * 1e3:.1f} ms over HTTP (target < 10 ms)")
    engine.dispose()


def _pair(person: int) -> tuple[str, str]:
    from services.uai import make_uai

    return f"p{person}", make_uai(4_000_000 + (person - 1) // PER_ESTABLISHMENT + 1)


def _server_version(engine: Any) -> str:
    from sqlalchemy import text

    with engine.connect() as connection:
        return str(connection.execute(text("SHOW server_version")).scalar_one())


def _figures(values: list[float]) -> str:
    return (f"{len(values)} lists, p50 {percentile(values, 50) * 1e3:.2f} ms, "
            f"p95 {percentile(values, 95) * 1e3:.2f} ms, p99 {percentile(values, 99) * 1e3:.2f} ms")


def _list(sessions: Any, person_id: str, uai: str) -> int:
    from datetime import UTC, datetime

    from broker import mediacentre_list

    with sessions() as session:
        person = mediacentre_list.find(session, ENT, uai, person_id)
        return len(mediacentre_list.openable(session, person, uai,
                                             today=datetime.now(UTC).date()))


def _in_process(engine: Any, pairs: list[tuple[str, str]]) -> list[float]:
    from broker.db import session_factory

    sessions = session_factory(engine)
    # A first pass over the whole sample reads its rows from disk (a national directory is
    # larger than this machine's page cache): reported apart, it is not what the code costs.
    cold = []
    for person_id, uai in pairs:
        start = time.perf_counter()
        _list(sessions, person_id, uai)
        cold.append(time.perf_counter() - start)
    print(f"  first pass (rows read from disk, statements compiled): {_figures(cold)}")
    timings, sizes_seen = [], []
    cpu = time.process_time()
    for person_id, uai in pairs:
        start = time.perf_counter()
        sizes_seen.append(_list(sessions, person_id, uai))
        timings.append(time.perf_counter() - start)
    cpu = time.process_time() - cpu
    print(f"  resources per list: median {sorted(sizes_seen)[len(sizes_seen) // 2]}, "
          f"min {min(sizes_seen)}, max {max(sizes_seen)}; Python CPU per list "
          f"{cpu / len(pairs) * 1e3:.2f} ms (the rest of the latency is waiting: database, "
          f"other processes)")
    return timings


def _explain(engine: Any, pair: tuple[str, str]) -> None:
    """EXPLAIN ANALYZE every statement one list sends (captured with their parameters)."""
    from sqlalchemy import event

    from broker.db import session_factory

    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            captured.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        _list(session_factory(engine), *pair)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    print(f"EXPLAIN ANALYZE of the {len(captured)} statements of one list "
          f"(person {pair[0]}, {pair[1]}):")
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for statement, parameters in captured:
            cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING ON) " + statement, parameters)
            plan = [row[0] for row in cursor.fetchall()]
            print("  " + " ".join(statement.split())[:110])
            for line in plan:
                if "Execution Time" in line or "Scan" in line or "Join" in line:
                    print(f"      {line.strip()}")
        raw.rollback()
    finally:
        raw.close()


def _http(url: str, pairs: list[tuple[str, str]], workers: int,
          spy_file: Path | None) -> tuple[list[float], float]:
    """Latencies of the sequential requests, and the server's CPU seconds spent on them."""
    import httpx
    from sqlalchemy import create_engine

    from broker.api_auth import create_client
    from broker.db import session_factory

    work = Path(tempfile.mkdtemp(prefix="bench-mediacentre-"))
    engine = create_engine(url)
    with session_factory(engine).begin() as session:
        _client, token = create_client(session, kind="ent", ident=ENT,
                                       name=f"bench {time.time_ns()}")
    engine.dispose()
    port = free_port()
    env = {**os.environ, "GAR_DATA_DIR": str(work), "GAR_BROKER_PORT": str(port),
           "DATABASE_URL": url}
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "uvicorn", "--factory", "broker.app:create_app", "--host",
         "127.0.0.1", "--port", str(port), "--workers", str(workers), "--no-access-log",
         "--log-level", "warning"], cwd=ROOT, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/health")
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json",
                   "Accept-Encoding": "gzip"}
        timings = []
        cpu_at_start = 0.0
        spy = None
        with httpx.Client(base_url=base, headers=headers, timeout=30.0) as client:
            floor = []
            for _ in range(300):  # the same client and server around a request that does nothing
                start = time.perf_counter()
                client.get("/health").raise_for_status()
                floor.append(time.perf_counter() - start)
            print(f"  floor: GET /health through the same client and server: "
                  f"{summary_ms(floor[50:])}", flush=True)
            for index, (person_id, uai) in enumerate([*pairs[:50], *pairs]):
                if index == 50:  # the warm-up is over
                    cpu_at_start = cpu_seconds(children(server.pid))
                    if spy_file is not None:
                        spy = py_spy(spy_file, server.pid, len(pairs) * 0.015)
                start = time.perf_counter()
                response = client.get(f"/ressources/{ENT}/{uai}/{person_id}")
                elapsed = time.perf_counter() - start
                if response.status_code != 200:
                    raise SystemExit(f"{response.status_code}: {response.text[:300]}")
                if index >= 50:
                    timings.append(elapsed)
        server_cpu = cpu_seconds(children(server.pid)) - cpu_at_start
        if spy is not None:
            spy.wait(timeout=120)
        return timings, server_cpu
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
