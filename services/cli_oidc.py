"""``gar-testbed oidc``: the broker's OpenID Connect clients (resources) and providers (IdPs).

``oidc client add`` reads a registration document (the JSON of OpenID Connect Dynamic Client
Registration: ``client_id``, ``redirect_uris``, ``post_logout_redirect_uris``,
``token_endpoint_auth_method``, ``initiate_login_uri``) and prints a generated secret once.
``oidc provider add`` (also ``trust add-oidc``) registers an upstream OpenID Provider from its
discovery URL, fetching its document and JWKS once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from services.cli_db import migrated_session

oidc_app = typer.Typer(help="OpenID Connect : clients (ressources) et fournisseurs d'identité.",
                       no_args_is_help=True)
client_app = typer.Typer(help="Clients OpenID Connect du GAR (ressources).", no_args_is_help=True)
provider_app = typer.Typer(help="Fournisseurs d'identité OpenID Connect en amont du GAR.",
                           no_args_is_help=True)
oidc_app.add_typer(client_app, name="client")
oidc_app.add_typer(provider_app, name="provider")


@client_app.command("add")
def client_add(
    ctx: typer.Context,
    document: Annotated[Path, typer.Argument(help="Document d'enregistrement JSON du client.")],
    provider: Annotated[str, typer.Option("--provider",
                                          help="Identifiant du fournisseur de ressources.")],
) -> None:
    """Enregistre un client OpenID Connect et affiche son secret, une seule fois."""
    from services.cli import CliError, _expected_errors, _settings

    with _expected_errors():
        settings = _settings(ctx)
        from broker import oidc_clients

        try:
            fields = json.loads(document.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise CliError(f"{document} n'est pas un JSON valide ({exc.msg})") from None
        if not isinstance(fields, dict):
            raise CliError(f"{document} doit contenir un objet JSON")
        with migrated_session(settings) as session:
            registered = oidc_clients.register(session, fields, provider_id=provider)
        typer.echo(f"Client OpenID Connect enregistré : {registered.client_id}")
        if registered.secret:
            typer.echo(f"Secret (affiché une seule fois) : {registered.secret}")
            typer.echo("Authentification au jeton : client_secret_basic")
        typer.echo(f"Découverte : {settings.broker_base}/oidc/.well-known/openid-configuration")


@client_app.command("list")
def client_list(ctx: typer.Context) -> None:
    """Liste les clients : identifiant, fournisseur, authentification, adresses de retour."""
    from services.cli import _expected_errors, _settings

    with _expected_errors():
        settings = _settings(ctx)
        from broker import oidc_clients

        with migrated_session(settings) as session:
            rows = [(c.client_id, c.provider_id, c.auth_method, " ".join(c.redirect_uris))
                    for c in oidc_clients.listing(session)]
        if not rows:
            typer.echo("Aucun client OpenID Connect enregistré.")
        for client_id, provider, method, uris in rows:
            typer.echo(f"{client_id}  {provider}  {method}  {uris}")


def provider_add(
    ctx: typer.Context,
    discovery_url: Annotated[str, typer.Argument(
        help="URL de découverte (…/.well-known/openid-configuration).")],
    client_id: Annotated[str, typer.Option("--client-id", help="Identifiant du GAR chez lui.")],
    client_secret: Annotated[str | None, typer.Option(
        "--client-secret", help="Secret (client_secret_basic) ; absent : client public.")] = None,
    alg: Annotated[list[str] | None, typer.Option(
        "--alg", help="Algorithme(s) autorisé(s) des jetons d'identité : RS256, ES256.")] = None,
) -> None:
    """Enregistre un fournisseur d'identité OpenID Connect par son URL de découverte."""
    from services.cli import _expected_errors, _settings

    with _expected_errors():
        settings = _settings(ctx)
        from broker import oidc_providers, oidc_rp

        document, keys = oidc_providers.fetch(discovery_url)
        with migrated_session(settings) as session:
            row = oidc_providers.register(
                session, document, keys, client_id=client_id, client_secret=client_secret,
                algorithms=alg or ["RS256"], source=discovery_url)
            issuer, pinned = row.issuer, ", ".join(row.algorithms)
        typer.echo(f"Fournisseur OpenID Connect enregistré : {issuer} ({pinned})")
        typer.echo(f"Adresse de retour à déclarer chez lui : {oidc_rp.redirect_uri(settings)}")


provider_app.command("add")(provider_add)


@provider_app.command("list")
def provider_list(ctx: typer.Context) -> None:
    """Liste les fournisseurs d'identité OpenID Connect : émetteur, algorithmes, origine."""
    from services.cli import _expected_errors, _settings

    with _expected_errors():
        settings = _settings(ctx)
        from broker import oidc_providers

        with migrated_session(settings) as session:
            rows = [(p.issuer, ",".join(p.algorithms), p.source)
                    for p in oidc_providers.listing(session)]
        if not rows:
            typer.echo("Aucun fournisseur OpenID Connect enregistré.")
        for issuer, algs, source in rows:
            typer.echo(f"{issuer}  {algs}  {source}")
