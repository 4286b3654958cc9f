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

    python bench/feed_import.py --people 100000 [--store sqlite|postgres]
        [--postgres-url postgresql+psycopg://gar:gar@127.0.0.1:5432/gar_feed] [--runs 3]
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
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NS = "http://data.education.fr/ns/gar"
CLASS_SIZE = 25
LEVELS = (("6", "10010012110", "6EME", "21110010000"), ("5", "10110001110", "5EME", "21120010000"),
          ("4", "10210001110", "4EME", "21130010000"), ("3", "10310019110", "3EME", "21140010000"))
SUBJECTS = (("061300", "MATHEMATIQUES"), ("020100", "FRANCAIS"), ("030201", "ANGLAIS LV1"),
            ("040300", "HISTOIRE-GEOGRAPHIE"), ("000100", "DOCUMENTATION"))
FILES = ("etab", "eleves", "enseignants", "groupes")


def _open(path: Path, kind: str) -> IO[str]:
    out = path.open("w", encoding="utf-8", buffering=1 << 20)
    out.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<GAR-ENT-{kind} xmlns="{NS}" '
              'Version="1.7">\n')
    return out


def generate(folder: Path, people: int, per_establishment: int) -> dict[str, int]:
    """The four files, written as streams (students, their teachers: one per two classes)."""
    from services.uai import make_uai

    teachers = max(1, per_establishment // CLASS_SIZE // 2)
    count = max(1, round(people / (per_establishment + teachers)))
    uais = [make_uai(3_600_000 + i) for i in range(count)]
    classes = max(1, -(-per_establishment // CLASS_SIZE))
    with _open(folder / "etab.xml", "Etab") as out:
        for i, uai in enumerate(uais):
            out.write(f"<GAREtab><GARStructureUAI>{uai}</GARStructureUAI><GARStructureNomCourant>"
                      f"Collège synthétique n° {i + 1}</GARStructureNomCourant></GAREtab>\n")
        for uai in uais:
            for _l, code, label, stat in LEVELS:
                out.write(f"<GARMEF><GARStructureUAI>{uai}</GARStructureUAI><GARMEFCode>{code}"
                          f"</GARMEFCode><GARMEFLibelle>{label}</GARMEFLibelle><GARMEFSTAT11>"
                          f"{stat}</GARMEFSTAT11></GARMEF>\n")
        for uai in uais:
            for code, label in SUBJECTS:
                out.write(f"<GARMatiere><GARStructureUAI>{uai}</GARStructureUAI><GARMatiereCode>"
                          f"{code}</GARMatiereCode><GARMatiereLibelle>{label}</GARMatiereLibelle>"
                          "</GARMatiere>\n")
        out.write("</GAR-ENT-Etab>\n")

    def student(e: int, k: int) -> str:
        return f"elv-{e:05d}-{k:04d}"

    def teacher(e: int, t: int) -> str:
        return f"ens-{e:05d}-{t:03d}"

    def code(c: int) -> str:
        return f"{LEVELS[c % 4][0]}{chr(65 + c // 4 % 26)}{c // 104 or ''}"

    with _open(folder / "eleves.xml", "Eleve") as out:
        for e, uai in enumerate(uais):
            for k in range(per_establishment):
                out.write(
                    f"<GAREleve><GARPersonIdentifiant>{student(e, k)}</GARPersonIdentifiant>"
                    f"<GARPersonProfils><GARStructureUAI>{uai}</GARStructureUAI><GARPersonProfil>"
                    "National_elv</GARPersonProfil></GARPersonProfils><GARPersonIdSecondaire>"
                    f"{e * 10_000 + k}</GARPersonIdSecondaire><GARPersonNom>Martin</GARPersonNom>"
                    "<GARPersonPrenom>Léa</GARPersonPrenom><GARPersonAutresPrenoms>Léa"
                    "</GARPersonAutresPrenoms><GARPersonCivilite>Mme</GARPersonCivilite>"
                    f"<GARPersonEtab>{uai}</GARPersonEtab><GARPersonDateNaissance>2012-0"
                    f"{1 + k % 9}-1{k % 10}</GARPersonDateNaissance></GAREleve>\n")
        for e, uai in enumerate(uais):
            for k in range(per_establishment):
                out.write(f"<GARPersonMEF><GARStructureUAI>{uai}</GARStructureUAI>"
                          f"<GARPersonIdentifiant>{student(e, k)}</GARPersonIdentifiant>"
                          f"<GARMEFCode>{LEVELS[k // CLASS_SIZE % 4][1]}</GARMEFCode>"
                          "</GARPersonMEF>\n")
        for e, uai in enumerate(uais):
            for k in range(per_establishment):
                for subject in ("061300", "020100"):
                    out.write(f"<GAREleveEnseignement><GARStructureUAI>{uai}</GARStructureUAI>"
                              f"<GARPersonIdentifiant>{student(e, k)}</GARPersonIdentifiant>"
                              f"<GARMatiereCode>{subject}</GARMatiereCode>"
                              "</GAREleveEnseignement>\n")
        out.write("</GAR-ENT-Eleve>\n")
    with _open(folder / "enseignants.xml", "Enseignant") as out:
        for e, uai in enumerate(uais):
            for t in range(teachers):
                out.write(
                    f"<GAREnseignant><GARPersonIdentifiant>{teacher(e, t)}</GARPersonIdentifiant>"
                    f"<GARPersonProfils><GARStructureUAI>{uai}</GARStructureUAI><GARPersonProfil>"
                    "National_ens</GARPersonProfil></GARPersonProfils><GARPersonIdSecondaire>"
                    f"t{e * 1_000 + t}</GARPersonIdSecondaire><GARPersonNom>Durand</GARPersonNom>"
                    "<GARPersonPrenom>Paul</GARPersonPrenom><GARPersonAutresPrenoms>Paul"
                    "</GARPersonAutresPrenoms><GARPersonCivilite>M.</GARPersonCivilite>"
                    f"<GARPersonEtab>{uai}</GARPersonEtab><GAREnsDisciplinesPostes>"
                    f"<GARStructureUAI>{uai}</GARStructureUAI><GAREnsDisciplinePosteCode>L1300"
                    "</GAREnsDisciplinePosteCode></GAREnsDisciplinesPostes><GARPersonMail>"
                    f"{teacher(e, t)}@ac-rennes.fr</GARPersonMail></GAREnseignant>\n")
        for e, uai in enumerate(uais):
            for t in range(teachers):
                out.write(f"<GARPersonMEF><GARStructureUAI>{uai}</GARStructureUAI>"
                          f"<GARPersonIdentifiant>{teacher(e, t)}</GARPersonIdentifiant>"
                          f"<GARMEFCode>{LEVELS[t % 4][1]}</GARMEFCode></GARPersonMEF>\n")
        out.write("</GAR-ENT-Enseignant>\n")
    with _open(folder / "groupes.xml", "Groupe") as out:
        for uai in uais:
            for c in range(classes):
                out.write(f"<GARGroupe><GARGroupeCode>{code(c)}</GARGroupeCode><GARStructureUAI>"
                          f"{uai}</GARStructureUAI><GARGroupeLibelle>{code(c)}</GARGroupeLibelle>"
                          "<GARGroupeStatut>DIVISION</GARGroupeStatut></GARGroupe>\n")
        for e, uai in enumerate(uais):
            for k in range(per_establishment):
                out.write(f"<GARPersonGroupe><GARStructureUAI>{uai}</GARStructureUAI>"
                          f"<GARPersonIdentifiant>{student(e, k)}</GARPersonIdentifiant>"
                          f"<GARGroupeCode>{code(k // CLASS_SIZE)}</GARGroupeCode>"
                          "</GARPersonGroupe>\n")
        for e, uai in enumerate(uais):
            for t in range(teachers):
                for c in (2 * t, 2 * t + 1):
                    if c < classes:
                        out.write(
                            f"<GAREnsClasseMatiere><GARStructureUAI>{uai}</GARStructureUAI>"
                            f"<GARPersonIdentifiant>{teacher(e, t)}</GARPersonIdentifiant>"
                            f"<GARGroupeCode>{code(c)}</GARGroupeCode><GARMatiereCode>"
                            f"{SUBJECTS[t % 4][0]}</GARMatiereCode></GAREnsClasseMatiere>\n")
        out.write("</GAR-ENT-Groupe>\n")
    return {"establishments": count, "students": count * per_establishment,
            "teachers": count * teachers}


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
    parser.add_argument("--one-run", nargs=2, metavar=("FOLDER", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_run:
        print(json.dumps(one_run(Path(args.one_run[0]), args.one_run[1])))
        return

    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as work:
        folder = Path(work)
        started = time.perf_counter()
        sizes = generate(folder, args.people, args.per_establishment)
        people = sizes["students"] + sizes["teachers"]
        print(f"generated {sizes['establishments']} establishments, {sizes['students']} students,"
              f" {sizes['teachers']} teachers: " + ", ".join(
                  f"{n} {(folder / f'{n}.xml').stat().st_size / 2**20:.0f} MiB" for n in FILES)
              + f" in {time.perf_counter() - started:.0f} s", flush=True)
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
                output = subprocess.run(  # noqa: S603 - this very script
                    [sys.executable, __file__, "--one-run", str(folder), url],
                    check=True, capture_output=True, text=True).stdout
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
