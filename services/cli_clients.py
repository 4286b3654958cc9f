"""``gar-testbed client``: register the machine clients of the broker's APIs, list them.

A client is a distributor (subscriptions web service) or an ENT (mediacentre). ``add`` prints
its token once: only a digest is stored, so a lost token means adding the client again.
The shared helpers of :mod:`services.cli` are imported inside the commands, so this module
and that one may be imported in any order.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from services.cli_db import migrated_session

client_app = typer.Typer(
    help="Clients des API du GAR (distributeurs, ENT) : jeton ou certificat.",
    no_args_is_help=True,
)


class Kind(StrEnum):
    distributor = "distributor"
    ent = "ent"
    auditor = "auditor"  # reads the whole audit trail, its reports and statistics (issue 5)


@client_app.command("add")
def add(
    ctx: typer.Context,
    kind: Annotated[Kind, typer.Option("--kind", help="distributor, ent ou auditor.")],
    ident: Annotated[
        str,
        typer.Option(
            "--ident", help="Identifiant du distributeur (9 chiffres_16 chiffres) ou idENT."
        ),
    ],
    name: Annotated[str, typer.Option("--name", help="Nom lisible du client.")],
    cert: Annotated[
        Path | None,
        typer.Option(
            "--cert",
            help="Certificat client PEM, reconnu en TLS mutuel (GAR_API_TLS_PORT) ou quand "
            "un mandataire TLS le transmet (GAR_API_TRUST_PROXY_CERT_HEADER=true).",
        ),
    ] = None,
) -> None:
    """Enregistre un client et affiche son jeton, une seule fois."""
    from services.cli import _expected_errors, _settings

    with _expected_errors():
        settings = _settings(ctx)
        from broker.api_auth import create_client

        cert_pem = cert.read_bytes() if cert is not None else None
        with migrated_session(settings) as session:
            client, token = create_client(
                session, kind=kind.value, ident=ident, name=name, cert_pem=cert_pem
            )
        typer.echo(
            f"Client enregistré : n° {client.id}, {client.kind} {client.ident} ({client.name})"
        )
        typer.echo(f"Jeton (affiché une seule fois) : {token}")
        typer.echo("Utilisation : Authorization: Bearer <jeton>")


@client_app.command("list")
def list_(ctx: typer.Context) -> None:
    """Liste les clients : numéro, type, identifiant, nom, certificat enregistré ou non."""
    from services.cli import _expected_errors, _settings

    with _expected_errors():
        settings = _settings(ctx)
        from sqlalchemy import select

        from broker.api_auth import list_clients
        from broker.models import ApiClientRecord

        with migrated_session(settings) as session:
            clients = list_clients(session)
            with_cert = set(
                session.scalars(
                    select(ApiClientRecord.id).where(ApiClientRecord.cert_sha256.is_not(None))
                )
            )
        if not clients:
            typer.echo("Aucun client enregistré.")
            return
        for client in clients:
            cert_note = "certificat" if client.id in with_cert else "jeton seul"
            typer.echo(f"{client.id:>4}  {client.kind:<11}  {client.ident:<26}  "
                       f"{client.name}  ({cert_note})")
