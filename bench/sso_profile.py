"""Where the time of an SSO flow goes: database round trips per flow, and profiles.

Round trips: runs the broker in this process (the same ``create_app`` uvicorn serves, behind
Starlette's test client), drives it with the load driver's flow functions
(:mod:`sso_driver`), and counts with SQLAlchemy event listeners on every engine each
statement sent, each COMMIT / ROLLBACK and each liveness ping; connection checkouts are
counted apart (no round trip of their own: ``broker.db.ping_when_idle`` pings only a
connection idle for over 2 s); ``--show`` lists one flow's statements.

Profiles: ``sso_flows.py --py-spy FILE`` samples the real uvicorn workers under load (only
threads holding the GIL: where the CPU goes); ``--stacks FILE`` summarises those samples by
function, inclusive and self. (An in-process profiler would miss the worker threads the
endpoints run in.)

    python bench/sso_profile.py [--store postgres] [--protocol oidc] [--flows 300] [--show]
    python bench/sso_profile.py --stacks /tmp/broker.stacks
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from benchlib import machine

DEFAULT_POSTGRES = "postgresql+psycopg://gar:gar@127.0.0.1:5432/gar_bench"


class RoundTrips:
    """Counts what goes to the database, by kind, from SQLAlchemy's events."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.statements: list[str] = []
        self.recording = False

    def install(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine
        from sqlalchemy.pool import Pool

        event.listen(Engine, "before_cursor_execute", self._statement)
        event.listen(Engine, "commit", lambda _conn: self._count("commit"))
        event.listen(Engine, "rollback", lambda _conn: self._count("rollback"))
        event.listen(Pool, "checkout", lambda *_args: self._count("checkout"))

    def count_pings(self, engine: Any) -> None:
        """Count the liveness pings of ``engine`` (``broker.db.ping_when_idle``): round trips."""
        ping = engine.dialect.do_ping

        def counted(dbapi_connection: Any) -> Any:
            self._count("ping")
            return ping(dbapi_connection)

        engine.dialect.do_ping = counted

    def _count(self, kind: str) -> None:
        self.counts[kind] += 1
        if self.recording:
            self.statements.append(kind.upper())

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.counts["statement"] += 1
        if self.recording:
            self.statements.append(" ".join(statement.split())[:150])


def summarise_stacks(path: Path, top: int) -> None:
    """Inclusive and self share of each function in py-spy's collapsed stacks."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        samples = int(count)
        total += samples
        for frame in set(frames):
            inclusive[_short(frame)] += samples
        if frames:
            own[_short(frames[-1])] += samples
    print(f"{total} samples of the broker's busy threads")
    print("inclusive (the function and what it calls):")
    for frame, count in inclusive.most_common(top):
        print(f"  {100 * count / total:5.1f} %  {frame}")
    print("self (where the CPU actually is):")
    for frame, count in own.most_common(top):
        print(f"  {100 * count / total:5.1f} %  {frame}")


def _short(frame: str) -> str:
    """``func (path/to/module.py:12)`` → ``func (module.py)``: lines merged."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit('/', 1)[-1].split(':')[0]})" if where else name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stacks", type=Path, metavar="FILE",
                        help="only summarise py-spy collapsed stacks (sso_flows.py --py-spy)")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_POSTGRES_URL",
                                                                 DEFAULT_POSTGRES))
    parser.add_argument("--establishments", type=int, default=4)
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--flows", type=int, default=300)
    parser.add_argument("--protocol", default="saml", choices=("saml", "oidc"),
                        help="the provider's protocol toward the broker (sso_driver.FLOWS)")
    parser.add_argument("--show", action="store_true", help="list one flow's statements")
    args = parser.parse_args()
    if args.stacks:
        summarise_stacks(args.stacks, args.top)
        return

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from broker.bootstrap import prepare
    from broker.db import normalise_url

    work = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    os.environ.update({"GAR_DATA_DIR": str(work), "GAR_BROKER_PORT": "8000"})
    schema = None
    if args.store == "postgres":
        schema = f"bench_profile_{uuid.uuid4().hex[:8]}"
        base = normalise_url(args.database_url)
        with create_engine(base).begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        os.environ["DATABASE_URL"] = make_url(base).update_query_dict(
            {"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    try:
        _measure(args, prepare)
    finally:
        if schema is not None:
            with create_engine(normalise_url(args.database_url)).begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        shutil.rmtree(work, ignore_errors=True)


def _measure(args: argparse.Namespace, prepare: Any) -> None:
    from sso_driver import FLOWS, Subject
    from sso_flows import _peers, subjects_of
    from starlette.testclient import TestClient

    from broker.app import create_app
    from services.settings import Settings

    settings = Settings()
    prepare(settings, establishments=args.establishments,
            students_per_establishment=args.students)
    subjects = [Subject(p, r) for p, r in
                subjects_of(args.establishments, args.students, settings.provider_base)]
    peers = _peers()
    flow = FLOWS[args.protocol]
    trips = RoundTrips()
    trips.install()
    rng = random.Random(7)  # noqa: S311 - load pattern
    print(machine())
    print(f"conditions: store {args.store}, protocol {args.protocol}, broker in process "
          f"(Starlette test client), {len(subjects)} people, {args.flows} flows")
    app = create_app(settings)
    trips.count_pings(app.state.broker.sessions.kw["bind"])
    with TestClient(app, base_url=settings.broker_base, follow_redirects=False) as client:
        for _ in range(20):  # warm-up: metadata parsed, statements compiled
            assert flow(client, peers, rng.choice(subjects)).ok  # type: ignore[arg-type]
        trips.counts.clear()
        trips.recording = args.show
        assert flow(client, peers, rng.choice(subjects)).ok  # type: ignore[arg-type]
        trips.recording = False
        if args.show:
            print("one flow, in order:")
            for line in trips.statements:
                print(f"  {line}")
        trips.counts.clear()
        started, cpu = time.perf_counter(), time.process_time()
        failed = 0
        for _ in range(args.flows):
            failed += not flow(client, peers, rng.choice(subjects)).ok  # type: ignore[arg-type]
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    per_flow = {kind: count / args.flows for kind, count in sorted(trips.counts.items())}
    checkouts = per_flow.pop("checkout", 0.0)
    if args.store == "postgres":
        per_flow.setdefault("ping", 0.0)
    total = sum(per_flow.values())
    print(f"round trips per flow: {total:.1f} "
          f"({', '.join(f'{k} {v:.1f}' for k, v in per_flow.items())}); "
          f"connection checkouts {checkouts:.1f} (a round trip only when idle: see ping)")
    print(f"in-process cost (broker + driver + test client): {cpu / args.flows * 1e3:.1f} ms CPU,"
          f" {wall / args.flows * 1e3:.1f} ms wall per flow; {failed} failed")


if __name__ == "__main__":
    main()
