"""A careful resource provider: a SAML service provider that shows what it received.

It behaves as a "compatible GAR" publisher must: it signs its AuthnRequest, carries the
resource URL in RelayState, accepts only a Response the broker signed for it, at its ACS,
within its validity window, once, and shows every attribute with what it means, so an
integrator sees exactly what a provider gets.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cryptography import x509
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from provider_mock import display, gar_rules, naive, oidc_rp
from provider_mock.cas import cas_router
from provider_mock.display import Refusal
from provider_mock.memory import Accounts, PendingRequests, ReplayCache, Sessions
from services import dataset as dataset_module
from services.keys import KeyPair, load_or_create
from services.peers import MetadataCache, PeerError
from services.saml import bindings, build, metadata
from services.saml.constants import BINDING_REDIRECT
from services.saml.errors import SamlError
from services.saml.metadata import EntityMetadata
from services.saml.validate import ValidatedAssertion, validate_response
from services.settings import Settings
from services.web import error_page, install_error_handlers, make_environment, render

logger = logging.getLogger("gar_testbed.provider_mock")

SERVICE_NAME = "Fournisseur de ressources de test"
SESSION_COOKIE = "provider_session"


def entity_id(settings: Settings) -> str:
    return f"{settings.provider_base}/saml/metadata"


def acs_url(settings: Settings) -> str:
    return f"{settings.provider_base}/saml/acs"


def broker_idp_metadata_url(settings: Settings) -> str:
    return f"{settings.broker_base}/saml/idp/metadata"


def own_resources(
    data: dataset_module.Dataset, settings: Settings
) -> list[dataset_module.Resource]:
    """The dataset's resources this provider serves (those registered under its entity id)."""
    mine = {p.id for p in data.providers if p.entity_id == entity_id(settings)}
    return [r for r in data.resources if r.provider_id in mine]


def requested_attributes(resources: list[dataset_module.Resource]) -> list[str]:
    """Every attribute code any of its resources declares, in a stable order."""
    codes: dict[str, None] = {}
    for resource in resources:
        for declared in resource.attributes:
            codes.setdefault(declared.code, None)
    return list(codes)


def metadata_xml(settings: Settings) -> bytes:
    """The SP metadata, exactly as ``GET /saml/metadata`` serves it."""
    data = dataset_module.build(provider_base=settings.provider_base)
    return _metadata(settings, load_or_create(settings.keys_dir, "provider"), data)


def _metadata(settings: Settings, keypair: KeyPair, data: dataset_module.Dataset) -> bytes:
    return metadata.sp_metadata(
        entity_id=entity_id(settings),
        acs_url=acs_url(settings),
        keypairs=[keypair],
        authn_requests_signed=True,
        want_assertions_signed=True,
        requested_attributes=requested_attributes(own_resources(data, settings)),
    )


def create_app(settings: Settings, *, http: httpx.AsyncClient | None = None) -> FastAPI:
    app = FastAPI(title="provider_mock", docs_url=None, redoc_url=None, openapi_url=None)
    install_error_handlers(app, name=SERVICE_NAME)
    keypair = load_or_create(settings.keys_dir, "provider")
    data = dataset_module.build(provider_base=settings.provider_base)
    resources = own_resources(data, settings)
    by_slug = {r.slug: r for r in resources}
    by_url = {r.access_url: r for r in resources}
    metadata_bytes = _metadata(settings, keypair, data)
    peers = MetadataCache(http, max_bytes=settings.max_xml_bytes)
    pending = PendingRequests(lifetime_seconds=settings.login_state_lifetime_seconds)
    replays = ReplayCache()
    accounts = Accounts(merge=settings.provider_naive == "accounts")
    sessions = Sessions()
    env = make_environment("provider_mock")
    skew = timedelta(seconds=settings.clock_skew_seconds)
    app.include_router(cas_router(settings, resources, env, http))  # its CAS publisher side

    def refused(request: Request, exc: Refusal) -> HTMLResponse:
        return error_page(
            request, exc.status, exc.code, "Accès refusé par le fournisseur de ressources",
            exc.reason, "Revenez au médiacentre de votre ENT et ouvrez à nouveau la ressource.",
            detail=exc.detail,
        )

    async def broker_idp() -> EntityMetadata:
        try:
            entity = await peers.get(broker_idp_metadata_url(settings))
        except PeerError as exc:
            raise Refusal(
                exc.code, "Les métadonnées du gestionnaire d'accès n'ont pas pu être obtenues.",
                502, exc.detail,
            ) from exc
        if entity.idp is None:
            raise Refusal("provider.broker_not_idp",
                           "Les métadonnées du gestionnaire d'accès ne décrivent pas un "
                           "fournisseur d'identité.", 502)
        return entity

    oidc_rp.install(app, settings, http, resources, env)  # the same resources, over OIDC

    @app.get("/", response_class=HTMLResponse)
    async def index(request: Request) -> HTMLResponse:
        return render(env, request, "index.html", resources=resources,
                      entity_id=entity_id(settings), acs_url=acs_url(settings))

    @app.get("/saml/metadata")
    async def saml_metadata() -> Response:
        return Response(metadata_bytes, media_type="application/samlmetadata+xml")

    @app.get("/resource/{slug}", response_model=None)
    async def open_resource(request: Request, slug: str) -> Response:
        resource = by_slug.get(slug)
        if resource is None:
            return error_page(
                request, 404, "provider.unknown_resource", "Ressource introuvable",
                "Ce fournisseur ne propose aucune ressource à cette adresse.",
                "Consultez la liste des ressources sur la page d'accueil du fournisseur.",
            )
        try:
            idp = await broker_idp()
        except Refusal as exc:
            return refused(request, exc)
        sso = idp.sso_url(BINDING_REDIRECT)
        if sso is None:
            return refused(request, Refusal(
                "provider.broker_no_sso",
                "Le gestionnaire d'accès ne déclare pas de point d'authentification "
                "HTTP-Redirect.", 502))
        request_id = build.new_id()
        authn_request = build.authn_request(
            issuer=entity_id(settings), destination=sso, acs_url=acs_url(settings),
            request_id=request_id,
        )
        pending.remember(request_id, resource.access_url)
        location = bindings.encode_redirect(
            sso, authn_request, kind="SAMLRequest", relay_state=resource.access_url,
            keypair=keypair,
        )
        return RedirectResponse(location, status_code=303, headers={"Cache-Control": "no-store"})

    @app.post("/saml/acs", response_model=None)
    async def acs(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=8)
        saml_response = form.get("SAMLResponse")
        relay_state = form.get("RelayState")
        try:
            if not isinstance(saml_response, str) or not saml_response:
                raise Refusal("saml.binding.invalid", "Aucune réponse SAML n'a été reçue.")
            if len(saml_response) > 2 * settings.max_xml_bytes:
                raise Refusal("provider.response.too_large",
                               "La réponse SAML reçue est trop volumineuse.")
            resource = by_url.get(relay_state) if isinstance(relay_state, str) else None
            if resource is None:
                raise Refusal(
                    "provider.relay_state.unknown",
                    "Le RelayState reçu ne désigne aucune ressource de ce fournisseur.",
                )
            idp = await broker_idp()
            if settings.provider_naive in naive.NAIVE_READERS:  # a harness target, never for users
                assert idp.idp is not None
                validated = naive.read_response(saml_response, idp.idp.signing_certificates,
                                                max_bytes=settings.max_xml_bytes,
                                                level=settings.provider_naive)
                return _accepted(request, resource, validated, key=validated.name_id)
            validated = _validate(saml_response, idp, relay_state=resource.access_url)
            if "assertion" not in validated.signed_parts:
                # Its metadata says WantAssertionsSigned: a signed envelope is not enough.
                raise Refusal("provider.assertion.unsigned",
                               "L'assertion elle-même doit être signée par le gestionnaire "
                               "d'accès.")
            if not replays.first_use(
                validated.assertion_id, (validated.not_on_or_after + skew).timestamp()
            ):
                raise Refusal("provider.assertion.replayed",
                               "Cette assertion a déjà été utilisée : elle n'est valable qu'une "
                               "fois.")
            if validated.in_response_to is not None:
                pending.consume(validated.in_response_to)
            ido = gar_rules.ido_of(validated.attributes)
            if settings.provider_naive != "accounts":  # that level takes any licence
                gar_rules.check_licence(validated.attributes, resource, ido)
        except Refusal as exc:
            return refused(request, exc)
        except SamlError as exc:
            logger.info("response refused: %s (%s)", exc.code, exc.detail)
            return refused(request, Refusal(exc.code, _saml_reason(exc.code), detail=exc.detail))
        return _accepted(request, resource, validated, key=ido)

    @app.get("/saml/session", response_class=HTMLResponse)
    async def session(request: Request) -> HTMLResponse:
        """The page of this browser's session: where the ACS redirects in post/redirect/get
        mode, and a follow-up URL for the harness in either mode."""
        shown = sessions.get(request.cookies.get(SESSION_COOKIE))
        if shown is None:
            return error_page(request, 401, "provider.session.none", "Aucune session",
                              "Ce navigateur n'a pas de session ouverte chez ce fournisseur.",
                              "Ouvrez une ressource depuis le médiacentre de votre ENT.")
        return render(env, request, "result.html", headers={"Cache-Control": "no-store"},
                      **shown)

    def _accepted(request: Request, resource: dataset_module.Resource,
                  validated: ValidatedAssertion, *, key: str) -> Response:
        account, attributes = accounts.sign_in(key, validated.attributes)
        shown: dict[str, Any] = dict(
            resource=resource, rows=display.rows(attributes.items()), assertion=validated,
            audience=entity_id(settings), acs_url=acs_url(settings), account=account,
            not_on_or_after=validated.not_on_or_after.astimezone(UTC).isoformat(),
        )
        token = sessions.open(shown)
        answer: Response = (
            RedirectResponse("/saml/session", status_code=303,
                             headers={"Cache-Control": "no-store"})
            if settings.provider_acs_redirect else render(env, request, "result.html", **shown))
        answer.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax",
                          secure=settings.provider_base.startswith("https://"))
        return answer

    def _validate(value: str, idp: EntityMetadata, *, relay_state: str) -> ValidatedAssertion:
        root = bindings.decode_post(value, max_bytes=settings.max_xml_bytes)
        claimed = root.get("InResponseTo")
        if claimed is None and not settings.provider_unsolicited:
            raise Refusal("provider.unsolicited.refused",
                           "Ce fournisseur n'accepte que les réponses à ses propres demandes "
                           "d'authentification.")
        if claimed is not None:
            sent = pending.peek(claimed)
            if sent is None:
                raise Refusal("provider.in_response_to.unknown",
                               "Cette réponse répond à une demande que ce fournisseur n'a pas "
                               "envoyée, ou qui a expiré.")
            if sent.relay_state != relay_state:
                raise Refusal("provider.relay_state.mismatch",
                               "Le RelayState ne correspond pas à la ressource demandée.")
        assert idp.idp is not None
        certificates: list[x509.Certificate] = list(idp.idp.signing_certificates)

        def certificates_for(issuer: str) -> list[x509.Certificate] | None:
            return certificates if issuer == idp.entity_id else None

        return validate_response(
            root,
            certificates_for=certificates_for,
            sp_entity_id=entity_id(settings),
            acs_url=acs_url(settings),
            expected_issuer=idp.entity_id,
            in_response_to=claimed,
            allow_unsolicited=claimed is None and settings.provider_unsolicited,
            now=datetime.now(UTC),
            skew=skew,
        )

    return app


def _saml_reason(code: str) -> str:
    reasons = (
        ("saml.signature",
         "La signature de la réponse est absente, invalide ou d'une clé inconnue."),
        ("saml.audience", "L'assertion n'est pas destinée à ce fournisseur."),
        ("saml.time", "L'assertion est expirée ou pas encore valide."),
        ("saml.xml", "La réponse reçue n'est pas un document XML acceptable."),
        ("saml.issuer", "La réponse ne vient pas du gestionnaire d'accès attendu."),
    )
    for prefix, reason in reasons:
        if code.startswith(prefix):
            return reason
    return "La réponse SAML reçue a été refusée."
