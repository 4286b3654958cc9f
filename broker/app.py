"""The broker's web application: SAML endpoints, the mediacentre entry, its pages.

Routes only translate HTTP to the flow functions and back; every flow step runs through
``broker.flow.run_step`` (one transaction, committed only on success), sends the person to an
identity provider through ``broker.upstream``, and ends in ``broker.deliver.complete``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session
from starlette.responses import Response

from broker import (
    audit_web,
    cas,
    console,
    deliver,
    endpoints,
    feed_api,
    mediacentre,
    mediacentre_api,
    oidc_op,
    oidc_rp,
    resources,
    saml_idp,
    saml_sp,
    subscriptions_ws,
    trust,
    upstream,
)
from broker import state as login_state
from broker.db import make_engine, session_factory
from broker.errors import FlowError
from broker.flow import Broker, read_form, run_step, state_lifetime
from broker.upstream import to_identity_provider
from services import web
from services.keys import KeyPair, KeyRing, load_ring, load_secret
from services.saml import metadata as saml_metadata
from services.saml.errors import SamlError
from services.settings import Settings, get_settings

METADATA_TYPE = "application/samlmetadata+xml"
_templates = web.make_environment("broker")


def broker_ring(settings: Settings) -> KeyRing:
    """The broker's signing keys: current, next published ahead, previous during the overlap."""
    return load_ring(settings.keys_dir, "broker", "gar-testbed broker")


def broker_keypair(settings: Settings) -> KeyPair:
    return broker_ring(settings).current


def published_keys(settings: Settings) -> tuple[KeyPair, ...]:
    return broker_ring(settings).published(datetime.now(UTC))


def idp_metadata_xml(settings: Settings, keypairs: Sequence[KeyPair] | None = None) -> bytes:
    return saml_metadata.idp_metadata(
        entity_id=endpoints.idp_entity_id(settings),
        sso_url=endpoints.idp_sso_url(settings),
        keypairs=list(keypairs or published_keys(settings)),
        want_authn_requests_signed=settings.want_authn_requests_signed,
        organization="gar-testbed (GAR)",
    )


def sp_metadata_xml(settings: Settings, keypairs: Sequence[KeyPair] | None = None) -> bytes:
    return saml_metadata.sp_metadata(
        entity_id=endpoints.sp_entity_id(settings),
        acs_url=endpoints.sp_acs_url(settings),
        keypairs=list(keypairs or published_keys(settings)),
        authn_requests_signed=True,
        want_assertions_signed=True,
        requested_attributes=("idEnt", "GARPersonIdentifiant", "FrEduCtRefId"),
        organization="gar-testbed (GAR)",
    )


def create_app(
    settings: Settings | None = None, *, http: httpx.AsyncClient | None = None
) -> FastAPI:
    settings = settings or get_settings()
    ring = broker_ring(settings)  # read once: a rollover takes effect at the next start
    broker = Broker(
        settings=settings,
        sessions=session_factory(make_engine(settings.sqlalchemy_url)),
        keypair=ring.current,
        ido_secret=load_secret(settings.keys_dir, "ido"),
        published=ring.published(datetime.now(UTC)),
        read_sessions=(session_factory(make_engine(settings.database_read_url, read_only=True))
                       if settings.database_read_url else None),
    )
    app = FastAPI(title="gar-testbed broker", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.broker = broker
    web.install_error_handlers(app, name="GAR — gestionnaire d'accès aux ressources (banc d'essai)")
    app.state.oidc_http = http or httpx.AsyncClient()  # token calls to identity providers

    published = broker.verification_keys()
    idp_md, sp_md = idp_metadata_xml(settings, published), sp_metadata_xml(settings, published)

    @app.get("/saml/idp/metadata")
    @app.get("/idp/metadata")
    def idp_metadata() -> Response:
        return Response(idp_md, media_type=METADATA_TYPE)

    @app.get("/saml/sp/metadata")
    def sp_metadata() -> Response:
        return Response(sp_md, media_type=METADATA_TYPE)

    @app.get("/saml/idp/sso")
    def sso_redirect(request: Request) -> Response:
        return run_step(
            request,
            broker,
            lambda s, now: _start_sp_flow(s, broker, now, raw_query=request.url.query, form=None),
        )

    @app.post("/saml/idp/sso")
    async def sso_post(request: Request) -> Response:
        form = await read_form(request)
        return await run_in_threadpool(
            run_step,
            request,
            broker,
            lambda s, now: _start_sp_flow(s, broker, now, raw_query=None, form=form),
        )

    @app.post("/saml/sp/acs")
    async def acs(request: Request) -> Response:
        form = await read_form(request)
        return await run_in_threadpool(
            run_step, request, broker, lambda s, now: _finish(s, broker, now, form, request)
        )

    @app.get("/domaineGar")
    def domaine_gar(request: Request) -> Response:
        params = request.query_params
        return run_step(
            request, broker, lambda s, now: _start_mediacentre_flow(s, broker, now, params, request)
        )

    @app.get("/discovery")
    def discovery(request: Request, state: str = "", idp: str = "") -> Response:
        return run_step(
            request, broker, lambda s, now: upstream.discovered(s, broker, now, state, idp)
        )

    @app.get("/")
    def home(request: Request) -> Response:
        with broker.sessions() as session:
            return web.render(
                _templates,
                request,
                "home.html",
                settings=settings,
                idp_metadata_url=endpoints.idp_entity_id(settings),
                sp_metadata_url=endpoints.sp_entity_id(settings),
                peers=trust.peers(session),
                catalogue=resources.listing(session),
            )

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    # Routes are matched in order, every request walking the routers before its own: the SSO
    # endpoints above come first, then the list ENTs ask for on every portal page. No two
    # share a path, so the order changes nothing else (bench/README.md, the floor).
    app.include_router(mediacentre_api.router)  # list API, diffusables, page, §2
    app.include_router(feed_api.router)  # directory feed pushed by an ENT, GAR_REFERENCE §1
    app.include_router(subscriptions_ws.router)  # distributors' web service, §3
    app.include_router(console.router)  # assignment console, behind SSO through the broker
    app.include_router(audit_web.router)  # audit trail, reports, statistics (issue 5)
    app.include_router(audit_web.console_door)  # /console/audit: officers into the audit pages
    app.include_router(cas.router)  # CAS 3.0 server toward publishers, §4b
    app.include_router(oidc_op.router)  # OpenID Provider toward resources, GAR_REFERENCE §4b
    app.include_router(oidc_rp.router)  # relying party toward OIDC identity providers
    return app


def _start_sp_flow(
    session: Session,
    broker: Broker,
    now: datetime,
    *,
    raw_query: str | None,
    form: Mapping[str, str] | None,
) -> Response:
    settings = broker.settings
    request = saml_idp.read_authn_request(
        session, settings, raw_query=raw_query, form=form, now=now
    )
    resource = resources.for_relay_state(session, request.sp.entity_id, request.relay_state)
    state = login_state.open_state(
        flow="sp",
        now=now,
        lifetime=state_lifetime(settings),
        acs_url=request.acs_url,
        sp_entity_id=request.sp.entity_id,
        sp_request_id=request.info.request_id,
        relay_state=request.relay_state,
        resource_id=resource.id,
        uai=None,
    )
    return to_identity_provider(session, broker, state, now)


def _start_mediacentre_flow(
    session: Session,
    broker: Broker,
    now: datetime,
    params: Mapping[str, str],
    request: Request,
) -> Response:
    entry = mediacentre.read_entry(params)
    resource = resources.get(session, entry.resource_id)
    # Each downstream protocol opens its resource its own way; SAML sends an unsolicited
    # assertion to the provider's ACS, with the resource URL as RelayState.
    if resource.protocol == "cas":  # a ticket to the access URL, with ?sso_id=GAR
        entity_id = resources.provider_entity_id(session, resource)
        return cas.start_from_mediacentre(session, broker, now, resource, entity_id, entry.uai)
    if resource.protocol == "oidc":  # an RP cannot be sent an unasked login: it is invited
        return oidc_op.third_party_login(session, broker.settings, resource)
    if resource.protocol != "saml":
        raise FlowError("sso.protocol_unsupported", resource.protocol, 501)
    sp = trust.find_sp(session, resources.provider_entity_id(session, resource))
    acs = sp.acs_url() if sp is not None else None
    if sp is None or acs is None:
        raise FlowError("sso.unknown_sp", resources.provider_entity_id(session, resource), 403)
    state = login_state.open_state(
        flow="mediacentre",
        now=now,
        lifetime=state_lifetime(broker.settings),
        acs_url=acs,
        sp_entity_id=sp.entity_id,
        sp_request_id=None,
        relay_state=resource.access_url,
        resource_id=resource.id,
        uai=entry.uai,
    )
    return to_identity_provider(session, broker, state, now)


def _finish(
    session: Session, broker: Broker, now: datetime, form: Mapping[str, str], request: Request
) -> Response:
    """The identity provider's answer: validate, decide, release, audit, sign, deliver."""
    settings = broker.settings
    # Consumed first (a refusal below rolls it back): one statement, and the row lock from here
    # to COMMIT keeps a second answer to the same request waiting, then refused.
    state = saml_sp.take_state(session, form.get("RelayState", ""), now)
    if state is None:
        raise FlowError("sso.state_unknown", "", 400)
    assertion = saml_sp.read_response(session, settings, form, state, now)
    # not_on_or_after already includes the clock skew: the assertion is refused after it.
    if not login_state.remember_assertion(
        session, assertion.issuer, assertion.assertion_id, assertion.not_on_or_after
    ):
        raise SamlError("saml.replay", assertion.assertion_id)
    return deliver.complete(session, broker, state, saml_sp.authentication(assertion), now, request)
