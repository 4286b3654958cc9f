"""``gar-testbed conformance idp`` and ``mediacentre``: is an ENT compatible GAR?

``idp`` checks an ENT's identity-provider metadata, then Responses: captured ones
(``--response``), or live ones (``--listen``) that the harness's own service provider
receives after sending the identity provider a signed AuthnRequest, or unsolicited.
``mediacentre`` checks the list calls of the ENT's mediacentre: captured (``--call``), or
live (``--listen``) against a list API that answers as the broker does; and a list answer
(``--answer``). Both write the reports asked for and exit 1 on any failure; a live run stops
after the number of messages asked for, or fails at its timeout, so it fits in CI.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer

from services.cli_conformance import Html, Json, Junit, _finish

if TYPE_CHECKING:
    from services.conformance.checks import Check
    from services.conformance.ent_sandbox import EntSandbox

DEFAULT_ENT_SANDBOX = "http://127.0.0.1:8011"

SandboxUrl = Annotated[str, typer.Option(
    help="URL de base du banc côté ENT (http://, écoute sur son hôte et son port).")]
Timeout = Annotated[int, typer.Option(
    min=1, help="Secondes d'écoute au plus (--listen) : échec si tout n'est pas reçu.")]
EntIds = Annotated[list[str] | None, typer.Option(
    "--ent-id", help="idENT que le GAR connaît pour votre ENT (répétable).")]
Strict = Annotated[bool, typer.Option(
    help="Mode strict : SHA-1 et lettre de contrôle d'UAI fausse sont des échecs.")]


def install(app: typer.Typer) -> None:
    app.command("idp")(idp)
    app.command("mediacentre")(mediacentre)
    app.command("sandbox-sp-metadata")(sandbox_sp_metadata)


def sandbox_sp_metadata(
    ctx: typer.Context,
    sandbox_url: SandboxUrl = DEFAULT_ENT_SANDBOX,
    output: Annotated[Path | None, typer.Option(help="Fichier à écrire (sinon : sortie "
                                                     "standard).")] = None,
) -> None:
    """Métadonnées du fournisseur de service du banc, à faire accepter par votre fournisseur
    d'identité avant « idp --listen »."""
    from services.cli import _expected_errors, _settings
    from services.conformance.ent_sandbox import EntSandbox, load_key

    with _expected_errors():
        data = EntSandbox(sandbox_url.rstrip("/"), load_key(_settings(ctx).keys_dir)).metadata()
        if output is None:
            typer.echo(data.decode())
        else:
            output.write_bytes(data)
            typer.echo(f"Métadonnées écrites dans {output}")


def idp(
    ctx: typer.Context,
    metadata: Annotated[str, typer.Option(help="Métadonnées SAML de votre fournisseur "
                                               "d'identité : URL ou fichier.")],
    response: Annotated[Path | None, typer.Option(
        help="Réponse SAML capturée (XML, ou valeur base64 de SAMLResponse).")] = None,
    listen: Annotated[bool, typer.Option(
        help="Servir le fournisseur de service du banc à --sandbox-url et contrôler les "
             "réponses que votre fournisseur d'identité y envoie.")] = False,
    sandbox_url: SandboxUrl = DEFAULT_ENT_SANDBOX,
    responses: Annotated[int, typer.Option(
        min=1, help="Nombre de réponses à recevoir avant de conclure (--listen).")] = 1,
    timeout: Timeout = 300,
    acs_url: Annotated[str | None, typer.Option(
        help="Réponse capturée : ACS attendu comme Destination et Recipient (défaut : celui "
             "du courtier de ce banc d'essai).")] = None,
    sp_entity_id: Annotated[str | None, typer.Option(
        help="Réponse capturée : entityID attendu comme Audience (défaut : celui du "
             "courtier).")] = None,
    ent_id: EntIds = None,
    strict: Strict = False,
    mediacentre_call: Annotated[Path | None, typer.Option(
        help="Appel de la liste du médiacentre capturé (ligne de requête et en-têtes).")
    ] = None,
    mediacentre_answer: Annotated[Path | None, typer.Option(
        help="Réponse de liste capturée (JSON, éventuellement gzip) à contrôler.")] = None,
    html: Html = None, json: Json = None, junit: Junit = None,
) -> None:
    """Contrôle les métadonnées de votre ENT et les réponses SAML qu'il émet (capturées, ou
    reçues en direct avec --listen)."""
    from broker import endpoints
    from services.cli import _expected_errors, _settings
    from services.conformance import checks, idp_checks
    from services.conformance.ent_sandbox import RESPONSE, EntSandbox, load_key
    from services.conformance.report import Report
    from services.peers import read_metadata

    with _expected_errors():
        settings = _settings(ctx)
        skew = timedelta(seconds=settings.clock_skew_seconds)
        entity, found = checks.identity_provider(
            read_metadata(metadata, max_bytes=settings.max_xml_bytes))
        ent_ids = tuple(ent_id or ())
        if entity is not None and entity.idp is not None:
            if response is not None:
                found += _grouped("Réponse capturée", idp_checks.response(
                    response.read_bytes(), entity.idp.signing_certificates,
                    idp_checks.Expected(
                        issuer=entity.entity_id,
                        sp_entity_id=sp_entity_id or endpoints.sp_entity_id(settings),
                        acs_url=acs_url or endpoints.sp_acs_url(settings),
                        strict=strict, ent_ids=ent_ids, skew=skew),
                    max_bytes=settings.max_xml_bytes))
            if listen:
                box = EntSandbox(sandbox_url.rstrip("/"), load_key(settings.keys_dir),
                                 idp=entity, ent_ids=ent_ids, strict=strict, skew=skew,
                                 max_xml_bytes=settings.max_xml_bytes)
                typer.echo(f"Fournisseur de service du banc : {box.entity_id}")
                typer.echo(f"Lancez une connexion : {box.login_url}  (ou envoyez une réponse "
                           f"non sollicitée à {box.acs_url})")
                found += _listen(box, RESPONSE, "réponse(s)", wanted=responses,
                                 timeout=timeout)
        elif listen or response is not None:
            typer.echo("Métadonnées inutilisables : aucune réponse n'est contrôlée.")
        found += _captured_calls(mediacentre_call, mediacentre_answer, ent_ids, strict)
        subject = entity.entity_id if entity is not None else metadata
        _finish(Report("idp", subject, "", found), html=html, json_path=json, junit=junit)


def mediacentre(
    ctx: typer.Context,
    listen: Annotated[bool, typer.Option(
        help="Servir la liste du médiacentre à --sandbox-url et contrôler les appels "
             "reçus.")] = False,
    sandbox_url: SandboxUrl = DEFAULT_ENT_SANDBOX,
    calls: Annotated[int, typer.Option(
        min=1, help="Nombre d'appels à recevoir avant de conclure (--listen).")] = 1,
    timeout: Timeout = 300,
    ent_id: EntIds = None,
    client_cert: Annotated[Path | None, typer.Option(
        help="Certificat client (PEM) de votre ENT : chaque appel doit le présenter, transmis "
             "par le proxy TLS dans X-SSL-Client-Cert.")] = None,
    strict: Strict = False,
    call: Annotated[Path | None, typer.Option(
        help="Appel capturé (ligne de requête et en-têtes).")] = None,
    answer: Annotated[Path | None, typer.Option(
        help="Réponse de liste capturée (JSON, éventuellement gzip).")] = None,
    html: Html = None, json: Json = None, junit: Junit = None,
) -> None:
    """Contrôle les appels de votre médiacentre à la liste des ressources (capturés, ou reçus
    en direct avec --listen)."""
    from broker.api_auth import certificate_fingerprint
    from services.cli import CliError, _expected_errors, _settings
    from services.conformance.ent_sandbox import CALL, EntSandbox, load_key
    from services.conformance.report import Report

    with _expected_errors():
        if not (listen or call or answer):
            raise CliError("indiquez --listen, --call ou --answer")
        settings = _settings(ctx)
        ent_ids = tuple(ent_id or ())
        fingerprint = None
        if client_cert is not None:
            try:
                fingerprint = certificate_fingerprint(client_cert.read_bytes())
            except ValueError:
                raise CliError(f"{client_cert} : certificat X.509 PEM illisible") from None
        found = _captured_calls(call, answer, ent_ids, strict, fingerprint)
        box = EntSandbox(sandbox_url.rstrip("/"), load_key(settings.keys_dir), mediacentre=True,
                         ent_ids=ent_ids, client_cert_sha256=fingerprint, strict=strict,
                         skew=timedelta(seconds=settings.clock_skew_seconds))
        if listen:
            typer.echo(f"Liste du médiacentre : GET {box.list_url}")
            found += _listen(box, CALL, "appel(s)", wanted=calls, timeout=timeout)
        _finish(Report("mediacentre", box.base_url if listen else str(call or answer), "",
                       found), html=html, json_path=json, junit=junit)


def _captured_calls(call: Path | None, answer: Path | None, ent_ids: tuple[str, ...],
                    strict: bool, fingerprint: str | None = None) -> list[Check]:
    from services.conformance import mediacentre_checks

    found: list[Check] = []
    if call is not None:
        found += _grouped("Appel capturé", mediacentre_checks.call(
            call.read_bytes(), mediacentre_checks.CallExpected(
                ent_ids=ent_ids, client_cert_sha256=fingerprint, strict=strict)))
    if answer is not None:
        found += _grouped("Liste capturée", mediacentre_checks.answer(answer.read_bytes()))
    return found


def _grouped(group: str, found: list[Check]) -> list[Check]:
    return [replace(check, group=group) for check in found]


def _listen(box: EntSandbox, kind: str, what: str, *, wanted: int, timeout: int
            ) -> list[Check]:
    """Serve the sandbox until ``wanted`` messages of ``kind`` came, or ``timeout``."""
    from services.cli import CliError, Service, bind, make_servers, serve
    from services.conformance.checks import Check
    from services.conformance.ent_sandbox import create_app

    parts = urlsplit(box.base_url)
    if parts.scheme != "http" or parts.hostname is None:
        raise CliError("--sandbox-url : le banc n'écoute qu'en http:// (placez un proxy TLS "
                       "devant sinon)")
    sock = bind(parts.hostname, parts.port or 80)
    services = [Service("banc-ent", create_app(box), sock)]
    servers = make_servers(services, access_log=False)
    typer.echo(f"En attente de {wanted} {what}, {timeout} s au plus (Ctrl-C pour arrêter).")

    async def watch() -> None:
        loop = asyncio.get_running_loop()
        deadline, shown = loop.time() + timeout, 0
        while not servers[0].should_exit:
            lines = box.log.lines()
            _summarise(lines[shown:])
            shown = len(lines)
            if box.log.count(kind) >= wanted or loop.time() >= deadline:
                break
            await asyncio.sleep(0.1)
        servers[0].should_exit = True

    async def run() -> None:
        await asyncio.gather(serve(services, servers), watch())

    try:
        asyncio.run(run())
    finally:
        sock.close()
    got = box.log.count(kind)
    done = got >= wanted
    return [*box.log.lines(), Check(
        f"listen.{kind}", f"Messages reçus ({what})", "ok" if done else "error",
        f"{got} en {timeout} s au plus", "" if done else
        f"Le banc n'a pas reçu assez de messages : vérifiez que votre service vise "
        f"{box.base_url} et relancez (ou allongez --timeout).", f"{wanted} {what}",
        "Écoute du banc")]


def _summarise(lines: list[Check]) -> None:
    """One line per message just received, as it arrives."""
    groups: dict[str, list[str]] = {}
    for line in lines:
        groups.setdefault(line.group, []).append(line.level)
    for group, levels in groups.items():
        typer.echo(f"  {group} : {levels.count('ok')} réussi(s), "
                   f"{levels.count('warning')} avertissement(s), {levels.count('error')} échec(s)")
