"""The ``gar-testbed`` command: prepare the testbed, serve it, inspect keys, metadata and trust.

The other parts (broker, mocks, bootstrap) are imported inside the commands, so ``--help``
answers even when one of them is broken, and a failing import is reported in one line.
Expected failures (a busy port, an unreadable metadata file, a bad setting, an unreachable
database) end with one line on stderr and exit code 1, never with a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import ssl
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn
from urllib.parse import urlsplit

import typer
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from pydantic import ValidationError

from services.cli_audit import register as register_audit
from services.cli_clients import client_app
from services.cli_conformance import register as register_conformance
from services.cli_feed import register as register_feed
from services.cli_oidc import oidc_app, provider_add
from services.cli_resources import resource_app
from services.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Generator

    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from services.keys import KeyRing

RESOURCE_SLUG = "manuel-maths-4e"
KEY_NAMES = ("broker", "idp", "provider")

app = typer.Typer(
    name="gar-testbed",
    help="Banc d'essai d'un gestionnaire d'accès aux ressources (GAR) : "
    "fournisseur d'identité simulé, GAR, fournisseur de ressources simulé.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
trust_app = typer.Typer(
    help="Registre de confiance du GAR (métadonnées des partenaires).", no_args_is_help=True
)
app.add_typer(trust_app, name="trust")
app.add_typer(client_app, name="client")
app.add_typer(resource_app, name="resource")
app.add_typer(oidc_app, name="oidc")
trust_app.command("add-oidc")(provider_add)  # an OpenID Provider, by its discovery URL
register_feed(app)
register_conformance(app)
register_audit(app)


class CliError(Exception):
    """An expected failure, shown to the user as one line."""


# --------------------------------------------------------------------------- settings


@app.callback()
def _options(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Dossier des clés, de la base SQLite, des fichiers générés "
            "(env GAR_DATA_DIR, défaut ./var)."
        ),
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="Adresse d'écoute des trois services (env GAR_HOST).")
    ] = None,
    broker_port: Annotated[
        int | None, typer.Option(help="Port du GAR (env GAR_BROKER_PORT).")
    ] = None,
    idp_port: Annotated[
        int | None, typer.Option(help="Port du fournisseur d'identité simulé (env GAR_IDP_PORT).")
    ] = None,
    provider_port: Annotated[
        int | None,
        typer.Option(help="Port du fournisseur de ressources simulé (env GAR_PROVIDER_PORT)."),
    ] = None,
    broker_url: Annotated[
        str | None, typer.Option(help="URL publique du GAR (env GAR_BROKER_URL).")
    ] = None,
    idp_url: Annotated[
        str | None, typer.Option(help="URL publique du fournisseur d'identité (env GAR_IDP_URL).")
    ] = None,
    provider_url: Annotated[
        str | None,
        typer.Option(help="URL publique du fournisseur de ressources (env GAR_PROVIDER_URL)."),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(help="URL SQLAlchemy de la base (env DATABASE_URL, défaut SQLite)."),
    ] = None,
) -> None:
    """Options communes : elles priment sur les variables d'environnement GAR_*."""
    overrides = {
        "data_dir": data_dir,
        "host": host,
        "broker_port": broker_port,
        "idp_port": idp_port,
        "provider_port": provider_port,
        "broker_url": broker_url,
        "idp_url": idp_url,
        "provider_url": provider_url,
        "database_url": database_url,
    }
    # Settings are built by each command, not here: `gar-testbed up --help` must answer even
    # when the environment holds a bad value.
    ctx.obj = {name: value for name, value in overrides.items() if value is not None}


def _settings(ctx: typer.Context) -> Settings:
    overrides: dict[str, Any] = dict(ctx.find_root().obj or {})
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise CliError(_describe_validation(exc)) from None


def _describe_validation(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or exc.title
    return f"réglage invalide {where} : {first['msg']}"


def _fail(message: str) -> NoReturn:
    typer.echo(f"erreur : {message}", err=True)
    raise typer.Exit(1)


@contextlib.contextmanager
def _expected_errors() -> Generator[None, None, None]:
    """Turn the failures a user can cause or fix into one line on stderr and exit code 1."""
    try:
        yield
    except CliError as exc:
        _fail(str(exc))
    except ImportError as exc:
        _fail(f"composant indisponible ({exc})")
    except ValidationError as exc:
        _fail(_describe_validation(exc))
    except FileNotFoundError as exc:
        _fail(f"fichier introuvable : {exc.filename or exc}")
    except BrokenPipeError:  # `gar-testbed keys | head`: the reader left, nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(1) from None
    except OSError as exc:
        _fail(str(exc) or exc.__class__.__name__)
    except ValueError as exc:
        _fail(_first_line(exc))
    except Exception as exc:
        code = getattr(exc, "code", None)
        if isinstance(code, str):  # services.saml.errors.SamlError and the broker's errors
            detail = getattr(exc, "detail", "") or ""
            _fail(f"{code} {detail}".strip())
        if _is_database_error(exc):
            _fail(f"base de données inaccessible : {_first_line(exc)}")
        raise


def _is_database_error(exc: Exception) -> bool:
    """The database cannot be reached or refused us: the user fixes DATABASE_URL or starts it."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    return isinstance(exc, OperationalError | InterfaceError)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


def _progress(line: str) -> None:
    typer.echo(f"  {line}")


# --------------------------------------------------------------------------- serving


@dataclass(frozen=True)
class Service:
    """One of the apps, with the socket it will listen on (and its TLS context, if any)."""

    name: str
    app: ASGIApp
    sock: socket.socket
    tls: ssl.SSLContext | None = None


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals alone: ``serve`` stops all servers at once."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    """Bind a listening socket now, so a busy port fails before anything starts.

    Port 0 picks a free port (the browser tests do this); read it back with
    ``sock.getsockname()[1]``.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise CliError(f"adresse d'écoute inconnue {host!r} : {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise CliError(f"impossible d'écouter sur {host}:{port} ({exc.strerror})") from None
    sock.set_inheritable(True)
    return sock


def build_services(settings: Settings, sockets: Sequence[socket.socket]) -> list[Service]:
    """Create the broker, identity-provider and resource-provider apps, in that order."""
    from broker.app import create_app as broker_app
    from idp_mock.app import create_app as idp_app
    from provider_mock.app import create_app as provider_app

    broker_sock, idp_sock, provider_sock = sockets
    return [
        Service("broker", broker_app(settings), broker_sock),
        Service("idp", idp_app(settings), idp_sock),
        Service("provider", provider_app(settings), provider_sock),
    ]


def api_tls_context(settings: Settings) -> ssl.SSLContext:
    """The mutual-TLS server context of ``GAR_API_TLS_PORT``: client certificate required.

    The server's certificate and key are ``GAR_API_TLS_CERT_FILE`` / ``_KEY_FILE``, or
    ``keys/api-tls.*`` created on first start for the listening host and the broker's host.
    """
    from services.keys import load_or_create
    from services.tls import server_context

    if settings.api_tls_client_ca_file is None:
        raise CliError("GAR_API_TLS_PORT demande GAR_API_TLS_CLIENT_CA_FILE : les autorités "
                       "(ou les certificats) des clients acceptés, en PEM")
    cert, key = settings.api_tls_cert_file, settings.api_tls_key_file
    if (cert is None) != (key is None):
        raise CliError("GAR_API_TLS_CERT_FILE et GAR_API_TLS_KEY_FILE vont ensemble")
    if cert is None or key is None:
        hosts = {"localhost", "127.0.0.1", urlsplit(settings.broker_base).hostname or ""}
        if settings.host not in {"0.0.0.0", "::", ""}:  # noqa: S104 - a wildcard is no name
            hosts.add(settings.host)
        load_or_create(settings.keys_dir, "api-tls", "gar-testbed API",
                       hostnames=sorted(hosts - {""}))
        cert, key = settings.keys_dir / "api-tls.crt", settings.keys_dir / "api-tls.key"
    return server_context(cert, key, settings.api_tls_client_ca_file)


def api_tls_service(broker: ASGIApp, sock: socket.socket, context: ssl.SSLContext) -> Service:
    """The broker's machine APIs only, on ``sock`` behind ``context``, sharing its app."""
    from broker.api_auth import MACHINE_API_PATHS
    from services.tls import only_paths

    return Service("broker-tls", only_paths(broker, MACHINE_API_PATHS), sock, tls=context)


ACCESS_LOGGER = "gar_testbed.access"


class _AccessLog:
    """One line per request, naming the service: the three share one terminal.

    uvicorn's own access log cannot tell which server answered, so it is replaced by this.
    """

    def __init__(self, app: ASGIApp, name: str) -> None:
        self._app = app
        self._name = name
        self._logger = logging.getLogger(ACCESS_LOGGER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        status: list[int] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        try:
            await self._app(scope, receive, capture)
        finally:
            self._logger.info(
                "%-8s %s %s %s",
                self._name,
                scope["method"],
                scope["path"],
                status[0] if status else "-",
            )


def make_servers(
    services: Sequence[Service], *, log_level: str = "warning", access_log: bool = True
) -> list[uvicorn.Server]:
    """uvicorn servers for the services; their start-up chatter is left out below warnings."""
    return [
        _Server(
            uvicorn.Config(
                _AccessLog(service.app, service.name) if access_log else service.app,
                log_level=log_level,
                access_log=False,
                proxy_headers=False,
                server_header=False,
                timeout_graceful_shutdown=5,
                **_tls_options(service.tls),
            )
        )
        for service in services
    ]


def _tls_options(context: ssl.SSLContext | None) -> dict[str, Any]:
    """uvicorn options of a TLS twin: our context, the peer certificate in the scope."""
    if context is None:
        return {}
    from services.tls import ClientCertProtocol

    return {
        "ssl_context_factory": lambda _config, _default: context,
        "http": ClientCertProtocol,
        "lifespan": "off",  # the app it shares already runs its lifespan on its own server
    }


def _log_requests_to_stdout() -> None:
    logger = logging.getLogger(ACCESS_LOGGER)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


async def serve(services: Sequence[Service], servers: Sequence[uvicorn.Server]) -> None:
    """Run every server in this event loop until one is told to stop, then stop them all.

    From the main thread, Ctrl-C (or SIGTERM) stops all servers gracefully; a second Ctrl-C
    forces the exit. From another thread, set ``should_exit`` on the servers instead.
    """
    loop = asyncio.get_running_loop()
    on_main_thread = threading.current_thread() is threading.main_thread()

    def stop_all() -> None:
        for server in servers:
            server.should_exit = True

    def on_signal() -> None:
        for server in servers:
            if server.should_exit:  # a second Ctrl-C: stop waiting for open connections
                server.force_exit = True
        stop_all()

    if on_main_thread:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)

    async def run_one(service: Service, server: uvicorn.Server) -> None:
        try:
            await server.serve(sockets=[service.sock])
        except SystemExit:  # uvicorn exits when an app's start-up fails
            raise CliError(f"le service {service.name} n'a pas pu démarrer") from None
        finally:
            stop_all()  # when one server stops, the testbed is incomplete: stop the others

    try:
        results = await asyncio.gather(
            *(run_one(service, server) for service, server in zip(services, servers, strict=True)),
            return_exceptions=True,
        )
    finally:
        if on_main_thread:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
    for result in results:
        if isinstance(result, BaseException):
            raise result


def _warn_wildcard_urls(settings: Settings) -> None:
    """A browser cannot follow a redirect to 0.0.0.0: listening everywhere needs public URLs."""
    if settings.host not in {"0.0.0.0", "::", ""}:  # noqa: S104 - we are detecting it
        return
    unset = [
        f"GAR_{name.upper()}_URL"
        for name, url in (
            ("broker", settings.broker_url),
            ("idp", settings.idp_url),
            ("provider", settings.provider_url),
        )
        if url is None
    ]
    if unset:
        typer.echo(
            f"avertissement : écoute sur {settings.host or 'toutes les adresses'} sans URL "
            f"publique ({', '.join(unset)}) : les redirections pointeront vers {settings.host}.",
            err=True,
        )


def _urls(settings: Settings, tls_port: int | None = None) -> list[tuple[str, str]]:
    urls = [
        ("Ressource (fournisseur simulé)", f"{settings.provider_base}/resource/{RESOURCE_SLUG}"),
        ("GAR", f"{settings.broker_base}/"),
        ("Médiacentre (ENT simulé)", f"{settings.broker_base}/mediacentre"),
        ("Console d'affectation", f"{settings.broker_base}/console/"),
        ("Fournisseur d'identité simulé", f"{settings.idp_base}/"),
    ]
    if tls_port is not None:
        host = urlsplit(settings.broker_base).hostname
        urls.append(("API en TLS mutuel", f"https://{host}:{tls_port}/abonnements-ws"))
    return urls


@app.command()
def up(ctx: typer.Context) -> None:
    """Prépare le banc (base, clés, académie fictive, confiance) puis sert les trois services."""
    with _expected_errors():
        settings = _settings(ctx)
        _warn_wildcard_urls(settings)
        ports = [settings.broker_port, settings.idp_port, settings.provider_port]
        if settings.api_tls_port is not None:
            ports.append(settings.api_tls_port)
        sockets: list[socket.socket] = []
        try:
            for port in ports:
                sockets.append(bind(settings.host, port))
            tls = api_tls_context(settings) if settings.api_tls_port is not None else None
            from broker.bootstrap import prepare

            typer.echo("Préparation du banc d'essai…")
            prepare(settings, progress=_progress)
            services = build_services(settings, sockets[:3])
            tls_port = None
            if tls is not None:
                services.append(api_tls_service(services[0].app, sockets[3], tls))
                tls_port = sockets[3].getsockname()[1]
            servers = make_servers(services)
            _log_requests_to_stdout()
            typer.echo("\nLe banc d'essai est prêt. Ouvrez :")
            for label, url in _urls(settings, tls_port):
                typer.echo(f"  {label:<32} {url}")
            typer.echo("Ctrl-C pour tout arrêter.\n")
            asyncio.run(serve(services, servers))
        except KeyboardInterrupt:  # Ctrl-C before the servers took over the signal
            typer.echo("\nInterrompu.", err=True)
            raise typer.Exit(130) from None
        finally:
            for sock in sockets:
                sock.close()
    typer.echo("Arrêté.")


# --------------------------------------------------------------------------- other commands


@app.command()
def seed(
    ctx: typer.Context,
    establishments: Annotated[int, typer.Option(
        min=0, help="Collèges synthétiques en plus de l'académie fixe (taille nationale).")] = 0,
    students_per_establishment: Annotated[int, typer.Option(
        min=0, help="Élèves par collège synthétique.")] = 0,
    teachers_per_establishment: Annotated[int | None, typer.Option(
        min=0, help="Enseignants par collège synthétique (défaut : un pour deux classes).",
        show_default=False)] = None,
    seed: Annotated[int, typer.Option(help="Graine du générateur (déterministe).")] = 0,
) -> None:
    """Prépare le banc sans le servir : base migrée, clés, académie fictive, confiance."""
    with _expected_errors():
        settings = _settings(ctx)
        from broker.bootstrap import prepare

        typer.echo("Préparation du banc d'essai…")
        counts = prepare(settings, progress=_progress, establishments=establishments,
                         students_per_establishment=students_per_establishment,
                         teachers_per_establishment=teachers_per_establishment, seed=seed)
        summary = ", ".join(f"{name} : {count}" for name, count in counts.items())
        typer.echo(f"Banc d'essai prêt ({summary or 'rien à faire'}).")


def _fingerprint(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex(":").upper()


keys_app = typer.Typer(
    help="Clés de signature ; celles du GAR tournent (keys next, puis keys rollover).",
)
app.add_typer(keys_app, name="keys")


@keys_app.callback(invoke_without_command=True)
def keys(ctx: typer.Context) -> None:
    """Crée les clés et certificats manquants, et les affiche (empreinte SHA-256, expiration)."""
    if ctx.invoked_subcommand is not None:
        return
    with _expected_errors():
        settings = _settings(ctx)
        from services.keys import load_or_create, load_ring

        for name in KEY_NAMES:
            existed = (settings.keys_dir / f"{name}.ring.json").exists() or (
                (settings.keys_dir / f"{name}.crt").exists()
                and (settings.keys_dir / f"{name}.key").exists()
            )
            if name == "broker":
                ring = load_ring(settings.keys_dir, name, "gar-testbed broker")
                pair, stem = ring.current, ring.current_stem
            else:
                pair, stem = load_or_create(settings.keys_dir, name), name
            expiry = pair.certificate.not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC")
            typer.echo(f"{name} ({'existante' if existed else 'créée'})")
            typer.echo(f"  certificat        : {settings.keys_dir / f'{stem}.crt'}")
            typer.echo(f"  empreinte SHA-256 : {_fingerprint(pair.certificate)}")
            typer.echo(f"  expire le         : {expiry}")
            if name == "broker":
                _echo_ring_extras(ring)


def _echo_ring_extras(ring: KeyRing) -> None:
    """The broker's other published keys: the next one ahead, the previous ones in overlap."""
    if ring.next is not None:
        typer.echo(f"  clé suivante, publiée d'avance : {_fingerprint(ring.next.certificate)}")
    for retired in ring.previous:
        until = retired.until.strftime("%Y-%m-%d %H:%M UTC")
        typer.echo(f"  clé précédente, publiée jusqu'au {until} : "
                   f"{_fingerprint(retired.pair.certificate)}")
    for certificate in ring.retired:
        typer.echo(f"  clé retirée (certificat gardé pour le journal d'audit) : "
                   f"{_fingerprint(certificate)}")


@keys_app.command("next")
def keys_next(ctx: typer.Context) -> None:
    """Publie d'avance la prochaine clé de signature du GAR (métadonnées SAML et JWKS)."""
    with _expected_errors():
        settings = _settings(ctx)
        from datetime import UTC, datetime

        from services.keys import publish_next

        ring = publish_next(settings.keys_dir, "broker", datetime.now(UTC), "gar-testbed broker")
        assert ring.next is not None
        typer.echo(f"Clé suivante publiée : {_fingerprint(ring.next.certificate)}")
        typer.echo("Redémarrez le GAR pour la publier ; laissez aux partenaires le temps de "
                   "relire ses métadonnées avant « gar-testbed keys rollover ».")


@keys_app.command("rollover")
def keys_rollover(
    ctx: typer.Context,
    overlap_hours: Annotated[
        int | None,
        typer.Option(help="Durée pendant laquelle l'ancienne clé reste publiée "
                     "(env GAR_KEY_OVERLAP_HOURS, défaut 168)."),
    ] = None,
) -> None:
    """Fait signer la clé suivante ; l'ancienne reste publiée pendant le chevauchement."""
    with _expected_errors():
        settings = _settings(ctx)
        from datetime import UTC, datetime, timedelta

        from services.keys import KeyRingError, rollover

        hours = settings.key_overlap_hours if overlap_hours is None else overlap_hours
        if hours < 0:
            raise CliError("--overlap-hours doit être positif ou nul")
        try:
            ring = rollover(settings.keys_dir, "broker", datetime.now(UTC),
                            timedelta(hours=hours))
        except KeyRingError as exc:
            raise CliError(str(exc)) from None
        typer.echo(f"Clé de signature du GAR : {_fingerprint(ring.current.certificate)}")
        for retired in ring.previous:
            until = retired.until.strftime("%Y-%m-%d %H:%M UTC")
            typer.echo(f"Clé précédente publiée jusqu'au {until} : "
                       f"{_fingerprint(retired.pair.certificate)}")
        typer.echo("Redémarrez le GAR : il signera avec la nouvelle clé.")


class MetadataService(StrEnum):
    broker_idp = "broker-idp"
    broker_sp = "broker-sp"
    idp = "idp"
    provider = "provider"


def _metadata_xml(service: MetadataService, settings: Settings) -> bytes:
    if service is MetadataService.broker_idp:
        from broker.app import idp_metadata_xml

        return idp_metadata_xml(settings)
    if service is MetadataService.broker_sp:
        from broker.app import sp_metadata_xml

        return sp_metadata_xml(settings)
    if service is MetadataService.idp:
        from idp_mock.app import metadata_xml as idp_xml

        return idp_xml(settings)
    from provider_mock.app import metadata_xml as provider_xml

    return provider_xml(settings)


@app.command()
def metadata(
    ctx: typer.Context,
    service: Annotated[
        MetadataService,
        typer.Argument(
            help="broker-idp (GAR vers les ressources), broker-sp (GAR vers les "
            "fournisseurs d'identité), idp ou provider (les simulateurs)."
        ),
    ],
) -> None:
    """Écrit sur la sortie standard les métadonnées SAML d'un service."""
    with _expected_errors():
        xml = _metadata_xml(service, _settings(ctx))
        typer.echo(xml, nl=not xml.endswith(b"\n"))


@trust_app.command("add")
def trust_add(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="Fichier ou URL de métadonnées SAML.")],
    allow_sha1: Annotated[
        bool | None,
        typer.Option(
            "--allow-sha1/--refuse-sha1",
            help="Accepter (ou refuser à nouveau) les signatures RSA-SHA1 de ce seul partenaire.",
        ),
    ] = None,
) -> None:
    """Enregistre un partenaire (fournisseur d'identité ou de ressources) par ses métadonnées."""
    with _expected_errors():
        settings = _settings(ctx)
        from broker.bootstrap import trust_add as add

        entity_id = add(settings, source, allow_sha1=allow_sha1)
        typer.echo(f"Partenaire enregistré : {entity_id}")
        if allow_sha1:
            typer.echo("Attention : les signatures RSA-SHA1 de ce partenaire sont acceptées.")


@trust_app.command("list")
def trust_list(ctx: typer.Context) -> None:
    """Liste les partenaires de confiance : identifiant d'entité, rôle, origine."""
    with _expected_errors():
        settings = _settings(ctx)
        from broker.bootstrap import trust_list as entries

        rows = entries(settings)
        if not rows:
            typer.echo("Aucun partenaire enregistré.")
            return
        width = max(len(entity_id) for entity_id, _, _ in rows)
        role_width = max(len(role) for _, role, _ in rows)
        for entity_id, role, source in rows:
            typer.echo(f"{entity_id:<{width}}  {role:<{role_width}}  {source}")


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line (``python -m services.cli``)."""
    app(args=list(argv) if argv is not None else None, prog_name="gar-testbed")


if __name__ == "__main__":
    main()
