"""``gar-testbed audit``: verify the hash chain, purge past retention, write the review report.

``verify`` exits 1 and names the first broken record when a row was edited, inserted or
deleted, or when a purge checkpoint is not the broker's. ``purge`` removes what is older than
``--before`` (default: now minus ``GAR_AUDIT_RETENTION_DAYS``) and signs a checkpoint, so
``verify`` stays green. ``report`` writes the self-contained HTML data-flow report.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated

import typer

from services.cli_db import migrated_session

audit_app = typer.Typer(
    help="Journal d'audit du GAR : vérification de la chaîne, purge, rapport de flux.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{option} : date AAAA-MM-JJ attendue, reçu {value[:32]!r}") from None


@audit_app.command("verify")
def verify(ctx: typer.Context) -> None:
    """Recalcule la chaîne d'empreintes et vérifie les points de contrôle de purge signés."""
    from services.cli import _expected_errors, _fail, _settings

    with _expected_errors():
        settings = _settings(ctx)
        from sqlalchemy import func, select

        from broker import audit_checkpoint
        from broker.models import AuditCheckpoint

        with migrated_session(settings) as session:
            certificate = None
            if session.scalar(select(func.count()).select_from(AuditCheckpoint)):
                from broker.app import broker_keypair

                certificate = broker_keypair(settings).certificate
            verdict = audit_checkpoint.verify(session, certificate)
        if not verdict.ok:
            _fail(f"{audit_checkpoint.explain(verdict)} ({verdict.problem})")
        typer.echo(audit_checkpoint.explain(verdict))


@audit_app.command("purge")
def purge(
    ctx: typer.Context,
    before: Annotated[str | None, typer.Option(
        "--before", help="Supprimer les enregistrements antérieurs à cette date (AAAA-MM-JJ, "
        "minuit UTC) ; défaut : la durée de conservation (GAR_AUDIT_RETENTION_DAYS).")] = None,
) -> None:
    """Purge les enregistrements trop anciens et signe un point de contrôle de ce qui part."""
    from services.cli import _expected_errors, _settings

    with _expected_errors():
        settings = _settings(ctx)
        now = datetime.now(UTC)
        day = _day(before, "--before")
        cutoff = (datetime.combine(day, time(0), tzinfo=UTC) if day is not None
                  else now - timedelta(days=settings.audit_retention_days))
        from broker import audit_checkpoint
        from broker.app import broker_keypair

        keypair = broker_keypair(settings)
        with migrated_session(settings) as session:
            purged = audit_checkpoint.purge(session, cutoff, keypair, now=now)
            checkpoint = purged.checkpoint
            summary = (
                f"Purge terminée : {purged.count} enregistrement(s) antérieur(s) au "
                f"{cutoff:%Y-%m-%d %H:%M} UTC supprimé(s)"
                + (f", n° {checkpoint.first_id} à {checkpoint.last_id}, point de contrôle "
                   f"n° {checkpoint.id} signé." if checkpoint is not None else ".")
            )
        typer.echo(summary)


@audit_app.command("report")
def report(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("--output", "-o", help="Fichier HTML à écrire.")],
    start: Annotated[str | None, typer.Option(
        "--from", help="Début de la période (AAAA-MM-JJ) ; défaut : 30 jours avant.")] = None,
    end: Annotated[str | None, typer.Option(
        "--to", help="Fin de la période, incluse (AAAA-MM-JJ) ; défaut : aujourd'hui.")] = None,
) -> None:
    """Écrit le rapport de flux de données (HTML autonome) à joindre à une revue."""
    from services.cli import _expected_errors, _settings

    with _expected_errors():
        settings = _settings(ctx)
        from broker import audit_report
        from broker.audit_scope import EVERYTHING, Period

        period = Period.of(_day(start, "--from"), _day(end, "--to"), today=datetime.now(UTC).date())
        with migrated_session(settings) as session:
            flows = audit_report.data_flows(session, EVERYTHING, period)
            html = audit_report.standalone_html(flows, settings)
        output.write_text(html, encoding="utf-8")
        flagged = sum(len(flow.outside) for flow in flows.resources)
        typer.echo(f"Rapport écrit : {output} ({len(flows.resources)} ressource(s), "
                   f"{flagged} diffusion(s) hors déclaration signalée(s)).")
