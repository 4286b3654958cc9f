"""``gar-testbed import``: apply directory-feed files (or ``.tar.gz`` exports) to the broker.

Files are imported in the order that works (establishments first), one transaction each; a
refused file stops the command with its line and reason (exit code 1) and writes nothing.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer


def _expand(paths: list[Path], work: Path, *, require_md5: bool = False) -> list[Path]:
    """Plain files as given; a ``.tar.gz`` export checked against its ``.md5`` and unpacked.

    Every archive is checked before anything is imported: a bad one stops the command.
    """
    from services.feed.archive import is_archive, unpack, verify
    from services.feed.names import import_order

    files: list[Path] = []
    for path in paths:
        if is_archive(path):
            verify(path, required=require_md5)
            files.extend(unpack(path, work))
        else:
            files.append(path)
    return sorted(files, key=lambda p: import_order(p.name))


def register(app: typer.Typer) -> None:
    @app.command("import")
    def import_feed(
        ctx: typer.Context,
        paths: Annotated[list[Path], typer.Argument(
            help="Fichiers XML du flux ou archives .tar.gz.")],
        ent: Annotated[str | None, typer.Option(
            help="idENT si les noms de fichiers ne suivent pas la convention du GAR.")] = None,
        strict: Annotated[bool, typer.Option(
            help="Refuser les UAI à lettre de contrôle fausse (sinon : avertir).")] = False,
        require_md5: Annotated[bool, typer.Option(
            "--require-md5",
            help="Refuser une archive .tar.gz sans fichier .md5 à côté.")] = False,
    ) -> None:
        """Importe des fichiers de l'annuaire (GAR-ENT-Etab, -Eleve, -Enseignant, -Groupe…)."""
        from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn

        from broker.db import make_engine, migrate, session_factory
        from broker.feed import FeedError, import_file
        from services.cli import _expected_errors, _fail, _settings
        from services.feed.archive import ArchiveError

        with _expected_errors(), tempfile.TemporaryDirectory() as work:
            settings = _settings(ctx)
            try:
                files = _expand(paths, Path(work), require_md5=require_md5)
            except ArchiveError as exc:
                _fail(str(exc))
            engine = make_engine(settings.sqlalchemy_url)
            migrate(engine)
            sessions = session_factory(engine)
            totals = {"added": 0, "changed": 0, "removed": 0}
            try:
                with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                              transient=False) as bar:
                    for path in files:
                        task = bar.add_task(path.name, total=path.stat().st_size)

                        def tick(n: int, task: TaskID = task) -> None:
                            bar.advance(task, n)

                        try:
                            report = import_file(sessions, path, ent_id=ent, strict=strict,
                                                 tick=tick)
                        except FeedError as exc:
                            bar.stop()
                            _fail(f"{path.name} refusé, ligne {exc.line} : {exc.reason} "
                                  f"({exc.code}) ; rien n'a été écrit")
                        for warning in report.warnings:
                            bar.console.print(f"avertissement : {path.name} {warning}",
                                              soft_wrap=True)
                        bar.console.print(report.summary(), soft_wrap=True)
                        for what in totals:
                            totals[what] += report.total(what)
            finally:
                engine.dispose()
            typer.echo(f"Import terminé : {len(files)} fichiers, {totals['added']} ajoutés, "
                       f"{totals['changed']} modifiés, {totals['removed']} supprimés.")
