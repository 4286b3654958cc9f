"""``gar-testbed audit``: verify the hash chain, seal it, purge past retention, write the report.

``verify`` exits 1 and names the first broken record when a row was edited, inserted or
deleted, when a purge checkpoint or a seal is not the broker's, or when a sealed record is
gone or changed (a chain rewritten together with its head); on success it seals what it
verified. ``seal`` verifies, seals, and can write the seal to a file kept elsewhere, which
``verify --seal FILE`` checks later. ``purge`` verifies first, then removes what is older
than ``--before`` (default: now minus ``GAR_AUDIT_RETENTION_DAYS``), signs a checkpoint and
a seal, so ``verify`` stays green. ``report`` writes the self-contained HTML data-flow report.
Signatures are checked against every key of the broker's ring, retired ones included.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from services.cli_db import migrated_session
from services.settings import Settings

if TYPE_CHECKING:
    from broker.audit_checkpoint import Verdict
    from broker.audit_seal import Seal

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


def _verified(settings: Settings, seal_files: list[Path]) -> Verdict:
    """The whole check on one snapshot, against the broker's key ring and these seal files."""
    from broker import audit_checkpoint, audit_seal
    from broker.app import broker_ring
    from services.cli import CliError

    seals: list[Seal] = []
    for path in seal_files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise CliError(f"{path.name} n'est pas un sceau du journal d'audit lisible") from None
        try:
            seals.append(audit_seal.read_file(text, path.name))
        except ValueError as error:
            raise CliError(str(error)) from None
    certificates = broker_ring(settings).certificates()
    with migrated_session(settings, snapshot=True) as session:
        return audit_checkpoint.verify(session, certificates, seals)


def _seal(settings: Settings, verdict: Verdict, reason: str, now: datetime) -> Seal:
    """Seal what ``verdict`` verified (its own transaction: the check only read)."""
    from broker import audit_seal
    from broker.app import broker_keypair

    keypair = broker_keypair(settings)
    with migrated_session(settings) as session:
        row = audit_seal.write(session, keypair, now=now, reason=reason, last=verdict.last,
                               anchor_hash=verdict.anchor, records=verdict.records)
        return audit_seal.of_row(row)


_SEAL_FILES = typer.Option(
    "--seal", help="Vérifier aussi ce sceau gardé hors de la base (fichier écrit par "
    "« audit seal --output ») ; répétable.")


@audit_app.command("verify")
def verify(
    ctx: typer.Context,
    seal_files: Annotated[list[Path] | None, _SEAL_FILES] = None,
    no_seal: Annotated[bool, typer.Option(
        "--no-seal", help="Ne pas sceller la chaîne vérifiée (base en lecture seule).")] = False,
) -> None:
    """Recalcule la chaîne d'empreintes, vérifie les points de contrôle de purge et les sceaux."""
    from services.cli import _expected_errors, _fail, _settings

    with _expected_errors():
        settings = _settings(ctx)
        from broker import audit_checkpoint

        verdict = _verified(settings, seal_files or [])
        if not verdict.ok:
            _fail(f"{audit_checkpoint.explain(verdict)} ({verdict.problem})")
        typer.echo(audit_checkpoint.explain(verdict))
        if not no_seal:
            sealed = _seal(settings, verdict, "verify", datetime.now(UTC))
            typer.echo(f"Chaîne scellée ({sealed.source}).")


@audit_app.command("seal")
def seal(
    ctx: typer.Context,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Écrire aussi le sceau dans ce fichier, à garder hors de la "
        "base (autre machine, support en écriture seule).")] = None,
) -> None:
    """Vérifie la chaîne puis la scelle (signature de la clé du GAR sur son dernier maillon)."""
    from services.cli import _expected_errors, _fail, _settings

    with _expected_errors():
        settings = _settings(ctx)
        from broker import audit_checkpoint

        verdict = _verified(settings, [])
        if not verdict.ok:
            _fail(f"scellement refusé : {audit_checkpoint.explain(verdict)} ({verdict.problem})")
        sealed = _seal(settings, verdict, "seal", datetime.now(UTC))
        if output is not None:
            output.write_text(sealed.as_json(), encoding="utf-8")
        upto = f"jusqu'au n° {sealed.last_id}" if sealed.last_id is not None else "(vide)"
        typer.echo(f"Chaîne scellée {upto} ({sealed.source})"
                   + (f", sceau écrit dans {output}." if output is not None else "."))


@audit_app.command("purge")
def purge(
    ctx: typer.Context,
    before: Annotated[str | None, typer.Option(
        "--before", help="Supprimer les enregistrements antérieurs à cette date (AAAA-MM-JJ, "
        "minuit UTC) ; défaut : la durée de conservation (GAR_AUDIT_RETENTION_DAYS).")] = None,
) -> None:
    """Vérifie la chaîne, purge les enregistrements trop anciens, signe ce qui part."""
    from services.cli import _expected_errors, _fail, _settings

    with _expected_errors():
        settings = _settings(ctx)
        now = datetime.now(UTC)
        day = _day(before, "--before")
        cutoff = (datetime.combine(day, time(0), tzinfo=UTC) if day is not None
                  else now - timedelta(days=settings.audit_retention_days))
        from broker import audit_checkpoint
        from broker.app import broker_keypair

        verdict = _verified(settings, [])  # a purge must not launder a tampered chain
        if not verdict.ok:
            _fail(f"purge refusée : {audit_checkpoint.explain(verdict)} ({verdict.problem})")
        keypair = broker_keypair(settings)
        with migrated_session(settings) as session:
            purged = audit_checkpoint.purge(session, cutoff, keypair, now=now)
            checkpoint = purged.checkpoint
            summary = (
                f"Purge terminée : {purged.count} enregistrement(s) antérieur(s) au "
                f"{cutoff:%Y-%m-%d %H:%M} UTC supprimé(s)"
                + (f", n° {checkpoint.first_id} à {checkpoint.last_id}, point de contrôle "
                   f"n° {checkpoint.id} signé, chaîne scellée." if checkpoint is not None
                   else ".")
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
    """Écrit le rapport de flux de données (HTML autonome) à joindre à une revue.

    Code de sortie 1 quand une diffusion hors déclaration est signalée (le rapport est écrit
    quand même), comme « audit verify » pour une chaîne altérée : une revue automatisée
    s'arrête dessus.
    """
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
        flagged = [(flow.resource_id, o) for flow in flows.resources for o in flow.outside]
        typer.echo(f"Rapport écrit : {output} ({len(flows.resources)} ressource(s), "
                   f"{len(flagged)} diffusion(s) hors déclaration signalée(s)).")
        for resource_id, outside in flagged:
            typer.echo(f"  {resource_id} : {outside.code} diffusé à {outside.profile} "
                       f"({outside.count} accès) — {outside.reason} : "
                       f"{audit_report.REASONS[outside.reason]}")
        if flagged:
            raise typer.Exit(code=1)
