"""The EduConnect-like identity provider: a SAML IdP over the synthetic directory.

It answers only service providers it trusts (the broker by default, plus the metadata
sources in ``Settings.idp_mock_sp_metadata``), checks their AuthnRequest as strictly as a
real provider would, and lets the tester choose per login which response shape to send.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from idp_mock import identity, oidc_op
from idp_mock.state import PendingRequest, seal, seal_fields, unseal, unseal_fields
from services import dataset as dataset_module
from services.keys import KeyPair, load_or_create, load_secret
from services.peers import MetadataCache, PeerError
from services.saml import authn, bindings, build, metadata, signing
from services.saml.constants import BINDING_POST, NAMEID_TRANSIENT
from services.saml.errors import SamlError
from services.saml.metadata import EntityMetadata
from services.settings import Settings
from services.web import error_page, install_error_handlers, make_environment, render

logger = logging.getLogger("gar_testbed.idp_mock")

SERVICE_NAME = "ÉduConnect simulé — fournisseur d'identité de test"
_MAX_FIELD_CHARS = 4096


def entity_id(settings: Settings) -> str:
    return f"{settings.idp_base}/saml/metadata"


def sso_url(settings: Settings) -> str:
    return f"{settings.idp_base}/saml/sso"


def broker_sp_metadata_url(settings: Settings) -> str:
    return f"{settings.broker_base}/saml/sp/metadata"


def metadata_xml(settings: Settings) -> bytes:
    """The IdP metadata, exactly as ``GET /saml/metadata`` serves it."""
    keypair = load_or_create(settings.keys_dir, "idp")
    return metadata.idp_metadata(
        entity_id=entity_id(settings),
        sso_url=sso_url(settings),
        keypairs=[keypair],
        want_authn_requests_signed=settings.want_authn_requests_signed,
    )


@dataclass(frozen=True)
class _Context:
    settings: Settings
    keypair: KeyPair
    secret: bytes
    peers: MetadataCache
    data: dataset_module.Dataset

    @property
    def personas(self) -> tuple[dataset_module.Person, ...]:
        return self.data.personas()

    def person_by_login(self, login: str) -> dataset_module.Person | None:
        try:
            return self.data.person(login)
        except KeyError:
            return None


class _Refusal(Exception):
    """A request this provider will not serve, shown to the user as a French page."""

    def __init__(
        self, status: int, code: str, title: str, reason: str, detail: str | None = None
    ) -> None:
        super().__init__(code)
        self.status, self.code, self.title, self.reason = status, code, title, reason
        self.detail = detail


def create_app(settings: Settings, *, http: httpx.AsyncClient | None = None) -> FastAPI:
    app = FastAPI(title="idp_mock", docs_url=None, redoc_url=None, openapi_url=None)
    install_error_handlers(app, name=SERVICE_NAME)
    ctx = _Context(
        settings=settings,
        keypair=load_or_create(settings.keys_dir, "idp"),
        secret=load_secret(settings.keys_dir, "idp"),
        peers=MetadataCache(http, max_bytes=settings.max_xml_bytes),
        data=dataset_module.build(provider_base=settings.provider_base),
    )
    metadata_bytes = metadata_xml(settings)
    env = make_environment("idp_mock")

    def refused(request: Request, exc: _Refusal) -> HTMLResponse:
        return error_page(
            request, exc.status, exc.code, exc.title, exc.reason,
            "Retournez sur le service d'où vous venez et recommencez la connexion.",
            detail=exc.detail,
        )

    def login_page(
        request: Request, state: str, pending: PendingRequest, *, status: int = 200,
        error: str | None = None, login: str = "", shape: str | None = None,
        talkative: bool | None = None,
    ) -> HTMLResponse:
        return render(
            env, request, "login.html", status=status,
            state=state, sp_entity_id=pending.sp_entity_id, personas=ctx.personas,
            error=error, login=login, test_password=dataset_module.PASSWORD,
            shape=identity.parse_shape(shape, settings.idp_shape),
            talkative=settings.idp_talkative if talkative is None else talkative,
        )

    def oidc_login_page(
        request: Request, state: str, client_id: str, *, action: str, status: int = 200,
        error: str | None = None,
    ) -> HTMLResponse:
        return render(
            env, request, "login.html", status=status, state=state, sp_entity_id=client_id,
            personas=ctx.personas, error=error, login="", test_password=dataset_module.PASSWORD,
            shape=identity.parse_shape(None, settings.idp_shape),
            talkative=settings.idp_talkative, action=action,
        )

    oidc_op.install(
        app, settings, ctx.keypair, ctx.secret, ctx.data, oidc_login_page,
        lambda form: _authenticate(ctx, form),
        lambda fields: seal_fields(fields, ctx.secret),
        lambda token: unseal_fields(token, ctx.secret),
    )

    @app.get("/", response_class=HTMLResponse)
    async def index(request: Request) -> HTMLResponse:
        return render(
            env, request, "index.html", entity_id=entity_id(settings),
            sso_url=sso_url(settings), personas=ctx.personas,
            broker_metadata=broker_sp_metadata_url(settings),
        )

    @app.get("/saml/metadata")
    async def saml_metadata() -> Response:
        return Response(metadata_bytes, media_type="application/samlmetadata+xml")

    async def start_login(
        request: Request, *, raw_query: str | None, form: Mapping[str, str] | None
    ) -> HTMLResponse:
        try:
            accepted = await _read_authn_request(ctx, raw_query=raw_query, form=form)
        except _Refusal as exc:
            return refused(request, exc)
        except SamlError as exc:
            return refused(request, _saml_refusal(exc))
        pending = PendingRequest(
            sp_entity_id=accepted.sp.entity_id, request_id=accepted.info.request_id,
            acs_url=accepted.acs_url, relay_state=accepted.relay_state,
            expires_at=int(time.time()) + settings.login_state_lifetime_seconds,
        )
        return login_page(request, seal(pending, ctx.secret), pending)

    @app.get("/saml/sso", response_class=HTMLResponse)
    async def sso_redirect(request: Request) -> HTMLResponse:
        return await start_login(request, raw_query=request.url.query, form=None)

    @app.post("/saml/sso", response_class=HTMLResponse)
    async def sso_post(request: Request) -> HTMLResponse:
        form = await _form(request, max_chars=2 * settings.max_xml_bytes)
        return await start_login(request, raw_query=None, form=form)

    @app.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> HTMLResponse:
        form = await _form(request, max_chars=_MAX_FIELD_CHARS)
        state = form.get("state", "")
        try:
            pending = unseal(state, ctx.secret)
            sp = await _trusted_sp(ctx, pending.sp_entity_id)
            if pending.acs_url not in {
                e.location for e in (sp.sp.acs if sp.sp else ()) if e.binding == BINDING_POST
            }:
                raise _Refusal(
                    403, "idp.acs_not_registered", "Adresse de retour inconnue",
                    "L'adresse de retour n'est plus déclarée par le fournisseur de service.",
                )
        except _Refusal as exc:
            return refused(request, exc)
        except SamlError as exc:
            return refused(request, _saml_refusal(exc))
        shape = identity.parse_shape(form.get("shape"), settings.idp_shape)
        talkative = form.get("talkative") in {"1", "on", "true"}
        person = _authenticate(ctx, form)
        if person is None:
            return login_page(
                request, state, pending, status=401,
                error="Identifiant ou mot de passe incorrect.",
                login=form.get("login", "")[:200], shape=shape, talkative=talkative,
            )
        page = _respond(ctx, pending, person, shape=shape, talkative=talkative)
        response = HTMLResponse(page)
        response.headers.update({"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
        return response

    return app


async def _form(request: Request, *, max_chars: int) -> dict[str, str]:
    """Form fields as bounded strings (files and oversized values are dropped)."""
    form = await request.form(max_files=0, max_fields=32)
    return {
        key: value for key, value in form.items()
        if isinstance(value, str) and len(value) <= max_chars
    }


def _authenticate(ctx: _Context, form: Mapping[str, str]) -> dataset_module.Person | None:
    persona = form.get("persona")
    if persona:
        person = ctx.person_by_login(persona)
        return person if person is not None and person.persona else None
    person = ctx.person_by_login(form.get("login", ""))
    password = form.get("password", "")
    if person is None or not hmac.compare_digest(person.password.encode(), password.encode()):
        return None
    return person


def _respond(
    ctx: _Context, pending: PendingRequest, person: dataset_module.Person, *,
    shape: identity.Shape, talkative: bool,
) -> str:
    """The auto-submitting form carrying the signed Response to the service provider."""
    settings = ctx.settings
    now = datetime.now(UTC)
    issuer = entity_id(settings)
    assertion = build.assertion(
        issuer=issuer,
        name_id=build.new_id(),
        name_id_format=NAMEID_TRANSIENT,
        audience=pending.sp_entity_id,
        recipient=pending.acs_url,
        in_response_to=pending.request_id,
        attributes=identity.attributes(
            ctx.data, person, shape=shape, talkative=talkative,
            sp_entity_id=pending.sp_entity_id, secret=ctx.secret,
        ),
        session_index=build.new_id(),
        lifetime_seconds=settings.assertion_lifetime_seconds,
        now=now,
    )
    signed_assertion = signing.sign(assertion, ctx.keypair)
    response = build.response(
        issuer=issuer,
        destination=pending.acs_url,
        in_response_to=pending.request_id,
        assertion=signed_assertion,
        now=now,
    )
    if shape == "educonnect":
        response = signing.sign(response, ctx.keypair)
    return bindings.post_form(
        pending.acs_url, kind="SAMLResponse", message=response, relay_state=pending.relay_state
    )


async def _read_authn_request(
    ctx: _Context, *, raw_query: str | None, form: Mapping[str, str] | None
) -> authn.AcceptedRequest:
    """Decode, authenticate (signature of the requester) and validate an AuthnRequest."""
    settings = ctx.settings
    issuer = authn.requester(raw_query=raw_query, form=form, max_bytes=settings.max_xml_bytes)
    return authn.accept(
        raw_query=raw_query,
        form=form,
        sp=await _trusted_sp(ctx, issuer),
        destination=sso_url(settings),
        max_bytes=settings.max_xml_bytes,
        want_signed=settings.want_authn_requests_signed,
        now=datetime.now(UTC),
        skew=timedelta(seconds=settings.clock_skew_seconds),
    )


def _sources(settings: Settings) -> list[str]:
    return [broker_sp_metadata_url(settings), *settings.idp_mock_sp_metadata]


async def _trusted_sp(ctx: _Context, issuer: str) -> EntityMetadata:
    """The trusted service provider named ``issuer``, from its registered metadata."""
    failure: PeerError | None = None
    for source in _sources(ctx.settings):
        try:
            entity = await ctx.peers.get(source)
        except PeerError as exc:
            logger.warning("service provider metadata %s unusable: %s", source, exc.code)
            failure = failure or exc
            continue
        if entity.entity_id == issuer and entity.sp is not None:
            return entity
    if failure is not None and issuer == broker_sp_metadata_url(ctx.settings):
        raise _Refusal(
            502, failure.code, "Fournisseur de service injoignable",
            "Les métadonnées du fournisseur de service n'ont pas pu être obtenues.",
            failure.detail,
        )
    raise _unknown_sp(issuer)


def _unknown_sp(issuer: str) -> _Refusal:
    return _Refusal(
        403, "idp.unknown_sp", "Fournisseur de service inconnu",
        "Ce fournisseur d'identité ne connaît pas le service qui demande votre connexion.",
    )


def _reason(code_prefix: str) -> str:
    reasons = {
        "saml.signature": "La signature de la demande d'authentification est absente ou invalide.",
        "saml.xml": "La demande d'authentification n'est pas un document XML acceptable.",
        "idp.state": "Le formulaire de connexion a expiré ou a été modifié.",
    }
    for prefix, reason in reasons.items():
        if code_prefix.startswith(prefix):
            return reason
    return "La demande d'authentification reçue est invalide."


def _saml_refusal(exc: SamlError) -> _Refusal:
    return _Refusal(
        400, exc.code, "Demande d'authentification refusée", _reason(exc.code), exc.detail
    )
