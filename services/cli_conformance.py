"""``gar-testbed conformance``: is a resource editor's service, or an ENT, compatible GAR?

``provider`` checks a service provider's metadata then plays the scenario suite against its
ACS (or, with ``--cas-url``, the CAS suite against a CAS publisher's access URL), as the
broker's identity provider (the sandbox: its metadata is printed by ``sandbox-metadata`` and
served during the run with ``--serve``). The ENT side (``idp``, ``mediacentre``) lives in
:mod:`services.cli_conformance_ent`. Every run writes the reports asked for and exits 1 on
any failure, so it fits in the editor's CI.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer

if TYPE_CHECKING:
    from services.conformance.report import Report

conformance_app = typer.Typer(
    help="Banc de conformité : votre service (ou votre ENT) est-il compatible GAR ?",
    no_args_is_help=True,
)
DEFAULT_SANDBOX = "http://127.0.0.1:8010"

Html = Annotated[Path | None, typer.Option("--html", help="Écrire le rapport HTML ici.")]
Json = Annotated[Path | None, typer.Option("--json", help="Écrire le rapport JSON ici.")]
Junit = Annotated[Path | None, typer.Option("--junit", help="Écrire le rapport JUnit XML ici.")]


def register(app: typer.Typer) -> None:
    from services.cli_conformance_ent import install as install_ent_side

    install_ent_side(conformance_app)  # idp, mediacentre, sandbox-sp-metadata
    app.add_typer(conformance_app, name="conformance")


@conformance_app.command("sandbox-metadata")
def sandbox_metadata(
    ctx: typer.Context,
    sandbox_url: Annotated[str, typer.Option(help="URL de base du fournisseur d'identité du "
                                                  "bac à sable.")] = DEFAULT_SANDBOX,
    output: Annotated[Path | None, typer.Option(help="Fichier à écrire (sinon : sortie "
                                                     "standard).")] = None,
) -> None:
    """Métadonnées du fournisseur d'identité du bac à sable, à faire accepter par votre service."""
    from services.cli import _expected_errors, _settings
    from services.conformance import sandbox

    with _expected_errors():
        data = sandbox.load(_settings(ctx).keys_dir, sandbox_url).metadata()
        if output is None:
            typer.echo(data.decode())
        else:
            output.write_bytes(data)
            typer.echo(f"Métadonnées écrites dans {output}")


@conformance_app.command("serve")
def serve_page(
    ctx: typer.Context,
    sandbox_url: Annotated[str, typer.Option(help="URL de base du bac à sable (http://, "
                                                  "écoute sur son hôte et son port).")
                           ] = DEFAULT_SANDBOX,
) -> None:
    """Sert les métadonnées du bac à sable et la page qui lance un contrôle."""
    from services.cli import CliError, Service, _expected_errors, _settings, bind, make_servers
    from services.cli import serve as serve_all
    from services.conformance import sandbox

    with _expected_errors():
        settings = _settings(ctx)
        box = sandbox.load(settings.keys_dir, sandbox_url)
        parts = urlsplit(box.base_url)
        if parts.scheme != "http" or parts.hostname is None:
            raise CliError("le banc ne sert qu'en http:// (placez un proxy TLS devant sinon)")
        sock = bind(parts.hostname, parts.port or 80)
        try:
            services = [Service("conformance", sandbox.create_app(
                box, max_xml_bytes=settings.max_xml_bytes), sock)]
            typer.echo(f"Banc de conformité : {box.base_url}/  (métadonnées : {box.entity_id})")
            typer.echo("Ctrl-C pour arrêter.")
            asyncio.run(serve_all(services, make_servers(services)))
        finally:
            sock.close()


@conformance_app.command("provider")
def provider(
    ctx: typer.Context,
    metadata: Annotated[str | None, typer.Option(help="Métadonnées SAML de votre service : "
                                                      "URL ou fichier.")] = None,
    cas_url: Annotated[str | None, typer.Option(
        help="Éditeur CAS : URL d'accès de votre ressource (le banc l'ouvre avec ?sso_id=GAR "
             "et joue les scénarios CAS ; votre serveur CAS est alors --sandbox-url + /cas). "
             "À la place de --metadata.")] = None,
    login_url: Annotated[str | None, typer.Option(
        help="URL qui déclenche la connexion (votre service y répond par une AuthnRequest "
             "vers le bac à sable).")] = None,
    relay_state: Annotated[str | None, typer.Option(
        help="RelayState des réponses non sollicitées (l'URL de la ressource).")] = None,
    sandbox_url: Annotated[str, typer.Option(help="URL de base du fournisseur d'identité du "
                                                  "bac à sable.")] = DEFAULT_SANDBOX,
    serve: Annotated[bool, typer.Option(help="Servir les métadonnées du bac à sable à "
                                             "--sandbox-url pendant l'exécution.")] = False,
    success_status: Annotated[str, typer.Option(
        help="Statuts HTTP d'une réponse acceptée, ex. 200-299,302.")] = "200-299",
    success_marker: Annotated[str | None, typer.Option(
        help="Expression régulière présente dans la page d'une réponse acceptée.")] = None,
    failure_marker: Annotated[str | None, typer.Option(
        help="Expression régulière présente dans la page d'une réponse refusée.")] = None,
    follow_up_url: Annotated[str | None, typer.Option(
        help="Page à lire après l'envoi (même navigateur) pour juger.")] = None,
    follow_redirects: Annotated[bool, typer.Option(
        help="Suivre les redirections de votre service (même site) avant de juger.")] = True,
    echo_values: Annotated[bool, typer.Option(
        help="Votre page de succès affiche les valeurs reçues : les vérifier aussi.")] = False,
    account_marker: Annotated[str | None, typer.Option(
        help="Expression régulière dont le premier groupe est le compte que votre service a "
             "ouvert (ex. 'data-account=\"([^\"]+)\"') : compare les comptes de deux "
             "connexions (IDO).")] = None,
    resource_id: Annotated[str | None, typer.Option(
        help="idRessource (ARK) de votre ressource : active les cas IDC valides.")] = None,
    unsolicited: Annotated[bool, typer.Option(
        help="Votre service accepte les réponses non sollicitées (médiacentre).")] = True,
    only: Annotated[list[str] | None, typer.Option(
        help="Ne jouer que les scénarios dont l'identifiant commence ainsi (répétable).")] = None,
    html: Html = None, json: Json = None, junit: Junit = None,
) -> None:
    """Contrôle les métadonnées de votre service puis joue les scénarios contre son ACS
    (ou, avec --cas-url, les scénarios CAS contre votre ressource)."""
    from services.cli import CliError, _expected_errors, _settings
    from services.conformance import checks, runner, sandbox, verdict
    from services.conformance.report import Report
    from services.peers import read_metadata

    with _expected_errors():
        settings = _settings(ctx)
        rule = verdict.VerdictRule(
            statuses=verdict.parse_statuses(success_status),
            success_marker=_regex(success_marker, "--success-marker"),
            failure_marker=_regex(failure_marker, "--failure-marker"),
            follow_redirects=follow_redirects, follow_up_url=follow_up_url,
            echoes_values=echo_values,
            account_marker=_regex(account_marker, "--account-marker"),
        )
        if (metadata is None) == (cas_url is None):
            raise CliError("indiquez soit --metadata (SAML), soit --cas-url (CAS)")
        if cas_url is not None:
            _provider_cas(settings.keys_dir, cas_url, sandbox_url, rule, only or [],
                          html=html, json_path=json, junit=junit)
            return
        assert metadata is not None
        raw = read_metadata(metadata, max_bytes=settings.max_xml_bytes)
        fetched = metadata if metadata.startswith(("http://", "https://")) else None
        entity, found = checks.service_provider(raw, fetched_from=fetched)
        outcomes: list[runner.Outcome] = []
        subject = entity.entity_id if entity is not None else metadata
        if entity is not None and entity.sp is not None and entity.acs_url() is not None:
            box = sandbox.load(settings.keys_dir, sandbox_url)
            chosen, left_out, target = runner.saml_plan(
                entity, rule, login_url=login_url, relay_state=relay_state,
                resource_id=resource_id, unsolicited=unsolicited, only=only or [])
            for line in left_out:
                typer.echo(line[0].upper() + line[1:] + ".")
            typer.echo(f"{len(chosen)} scénarios contre {target.acs_url}")
            typer.echo(rule.describe())
            with _serving(box, enabled=serve):
                outcomes = asyncio.run(runner.run(chosen, target=target, sandbox=box, rule=rule,
                                                  progress=_progress))
        report = Report("provider", subject, rule.describe(), found, outcomes)
        _finish(report, html=html, json_path=json, junit=junit)


def _provider_cas(keys_dir: Path, cas_url: str, sandbox_url: str, rule: object,
                  only: list[str], *, html: Path | None, json_path: Path | None,
                  junit: Path | None) -> None:
    """The CAS scenarios; the sandbox is always served, as its tickets live in this run."""
    from services.cli import CliError
    from services.conformance import runner, sandbox, verdict
    from services.conformance.report import Report

    assert isinstance(rule, verdict.VerdictRule)
    if urlsplit(cas_url).scheme not in ("http", "https") or not urlsplit(cas_url).netloc:
        raise CliError("--cas-url doit être une URL http:// ou https://")
    box = sandbox.load(keys_dir, sandbox_url)
    chosen, left_out = runner.cas_plan(rule, only)
    for line in left_out:
        typer.echo(line[0].upper() + line[1:] + ".")
    target = runner.Target(cas_url, cas_url)
    typer.echo(f"{len(chosen)} scénarios CAS contre {cas_url} (serveur CAS : "
               f"{box.base_url}/cas)")
    typer.echo(rule.describe())
    with _serving(box, enabled=True):
        outcomes = asyncio.run(runner.run(chosen, target=target, sandbox=box, rule=rule,
                                          progress=_progress))
    _finish(Report("provider", cas_url, rule.describe(), (), outcomes), html=html,
            json_path=json_path, junit=junit)


def _regex(value: str | None, option: str) -> re.Pattern[str] | None:
    if value is None:
        return None
    try:
        return re.compile(value)
    except re.error as exc:
        raise ValueError(f"{option} : expression régulière invalide ({exc})") from None


def _progress(index: int, total: int, outcome: object) -> None:
    passed = getattr(outcome, "passed", False)
    typer.echo(f"  [{index:>3}/{total}] {'réussi' if passed else 'ÉCHEC '} "
               f"{getattr(outcome, 'id', '')}")


def _finish(report: Report, *, html: Path | None, json_path: Path | None, junit: Path | None
            ) -> None:
    from services.conformance.report import write as write_reports

    for check in report.checks:
        if check.level != "ok":
            label = "ÉCHEC" if check.level == "error" else "avertissement"
            typer.echo(f"  {label} {check.id} : {check.seen}")
    write_reports(report, html=html, json_path=json_path, junit=junit)
    typer.echo(("Compatible GAR : " if report.passed else "Non conforme : ") + report.summary())
    if not report.passed:
        raise typer.Exit(1)


@contextmanager
def _serving(box: object, *, enabled: bool) -> Iterator[None]:
    """Serve the sandbox's metadata on its URL's host and port for the time of the run."""
    if not enabled:
        yield
        return
    from services.cli import CliError, Service, bind, make_servers, serve
    from services.conformance import sandbox

    assert isinstance(box, sandbox.Sandbox)
    parts = urlsplit(box.base_url)
    if parts.scheme != "http" or parts.hostname is None:
        raise CliError("--serve ne sert qu'en http:// (placez un proxy TLS devant sinon)")
    sock = bind(parts.hostname, parts.port or 80)
    services = [Service("sandbox", sandbox.create_app(box), sock)]  # metadata and page
    servers = make_servers(services, access_log=False)
    thread = threading.Thread(target=lambda: asyncio.run(serve(services, servers)),
                              name="conformance-sandbox", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not servers[0].started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    typer.echo(f"Métadonnées du bac à sable servies à {box.entity_id}")
    try:
        yield
    finally:
        servers[0].should_exit = True
        thread.join(timeout=10)
        sock.close()
