"""The broker as an OpenID Provider toward resources (GAR_REFERENCE §4b, OIDC side).

Authorisation code flow only, PKCE S256 required, exact redirect URIs. The client names its
resource with ``idRessource`` (the real GAR's extra parameter) or ``resource`` (its URL, RFC
8707); the person then goes through the same upstream login and pipeline as with SAML, and
``deliver_code`` turns the release into a one-time code. The ID token, userinfo and the
GAR-style profile carry only the released attribute codes, ``sub`` being the pairwise IDO.
Codes and tokens live in the store as digests (``OidcGrant``), so any instance serves them.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse, RedirectResponse, Response

from broker import oidc_clients, resources, upstream
from broker import state as login_state
from broker.errors import FlowError
from broker.flow import Broker, broker_of, read_form, run_step, state_lifetime
from broker.models import OidcClient, OidcGrant, Provider, Resource
from services import web
from services.attributes import CATALOGUE
from services.oidc import discovery, jose, pkce
from services.oidc.errors import OidcError
from services.oidc.urls import with_query
from services.settings import Settings

if TYPE_CHECKING:
    from broker.deliver import Delivery

CODE_LIFETIME = timedelta(seconds=60)
TOKEN_LIFETIME = timedelta(seconds=300)
MAX_PARAM = 512
router = APIRouter()
_templates = web.make_environment("broker")


def issuer(settings: Settings) -> str:
    return f"{settings.broker_base}/oidc"


def metadata(settings: Settings) -> dict[str, Any]:
    base = issuer(settings)
    return discovery.provider_metadata(
        base,
        authorization_endpoint=f"{base}/authorize",
        token_endpoint=f"{base}/token",
        userinfo_endpoint=f"{base}/userinfo",
        jwks_uri=f"{base}/jwks",
        auth_methods=oidc_clients.AUTH_METHODS,
        scopes=("openid", "scope.gar"),
        claims=tuple(CATALOGUE),
        extra={
            "end_session_endpoint": f"{base}/logout",
            "profile_endpoint": f"{base}/profile",  # the GAR's oidcProfile
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
        },
    )


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


# --- discovery and keys ---------------------------------------------------------------------


@router.get("/oidc/.well-known/openid-configuration")
def openid_configuration(request: Request) -> JSONResponse:
    return JSONResponse(metadata(broker_of(request).settings))


@router.get("/oidc/jwks")
def jwks(request: Request) -> JSONResponse:
    """Every published key (the current one, and the next or previous during a rollover)."""
    return JSONResponse(jose.jwks(broker_of(request).verification_keys()),
                        media_type="application/jwk-set+json")


# --- authorisation --------------------------------------------------------------------------

_OAUTH_ERRORS = {
    "oidc.request.response_type": "unsupported_response_type",
    "oidc.request.scope": "invalid_scope",
}


@router.get("/oidc/authorize")
@router.get("/oidcAuthorize")
def authorize(request: Request) -> Response:
    broker = broker_of(request)
    params = dict(request.query_params)
    return run_step(request, broker, lambda s, now: _authorize(s, broker, now, params))


def _authorize(session: Session, broker: Broker, now: datetime, params: dict[str, str]) -> Response:
    client = oidc_clients.find(session, params.get("client_id"))
    if client is None:
        raise FlowError("oidc.client.unknown", str(params.get("client_id"))[:100], 400)
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in client.redirect_uris:  # exact: no prefix, no normalisation
        raise FlowError("oidc.redirect_uri.unregistered", redirect_uri[:200], 400)
    # From here on, the client's own redirect URI is trusted: errors go back to it.
    client_state = params.get("state")
    try:
        request = _read_request(session, client, params)
    except OidcError as error:
        return RedirectResponse(with_query(redirect_uri, {
            "error": _OAUTH_ERRORS.get(error.code, "invalid_request"),
            "error_description": f"{error.code}: {error.detail}"[:300],
            "state": client_state, "iss": issuer(broker.settings),
        }), status_code=303)
    state = login_state.open_state(
        flow="sp",
        now=now,
        lifetime=state_lifetime(broker.settings),
        acs_url=redirect_uri,
        sp_entity_id=request["provider_entity_id"],
        sp_request_id=None,
        relay_state=None,
        resource_id=request["resource_id"],
        uai=None,
        downstream="oidc",
        downstream_params={k: request[k] for k in ("client_id", "state", "nonce",
                                                   "code_challenge", "scope")},
    )
    return upstream.to_identity_provider(session, broker, state, now)


def _read_request(
    session: Session, client: OidcClient, params: Mapping[str, str]
) -> dict[str, Any]:
    if any(len(v) > MAX_PARAM for v in params.values()):
        raise OidcError("oidc.request.invalid", "a parameter is too long")
    if params.get("response_type") != "code":
        raise OidcError("oidc.request.response_type", "only the code flow (response_type=code)")
    scope = params.get("scope", "").split()
    if "openid" not in scope:
        raise OidcError("oidc.request.scope", "scope must include openid")
    if "request" in params or "request_uri" in params:
        raise OidcError("oidc.request.invalid", "request objects are not supported")
    if not params.get("state"):
        raise OidcError("oidc.request.invalid", "state is required")
    challenge = pkce.check_challenge(params.get("code_challenge"),
                                     params.get("code_challenge_method"))
    provider = session.get(Provider, client.provider_id)
    assert provider is not None  # foreign key
    resource = _resource(session, client, provider, params)
    return {
        "client_id": client.client_id, "state": params["state"], "nonce": params.get("nonce"),
        "code_challenge": challenge, "scope": " ".join(scope),
        "provider_entity_id": provider.entity_id, "resource_id": resource.id,
    }


def _resource(
    session: Session, client: OidcClient, provider: Provider, params: Mapping[str, str]
) -> Resource:
    """The resource the client names, among its provider's (never another provider's)."""
    resource_id, url = params.get("idRessource"), params.get("resource")
    if resource_id:
        found = session.get(Resource, resource_id)
        if found is None or found.provider_id != client.provider_id:
            raise OidcError("oidc.resource.unknown", resource_id[:200])
        return found
    if url:
        try:
            return resources.for_relay_state(session, provider.entity_id, url)
        except FlowError as error:
            raise OidcError("oidc.resource.unknown", url[:200]) from error
    raise OidcError("oidc.resource.missing", "idRessource or resource names the resource")


def deliver_code(delivery: Delivery) -> Response:
    """The outbound side: a one-time code for the release, sent to the exact redirect URI."""
    state, params = delivery.state, delivery.state.downstream_params or {}
    claims = {code: list(values) for code, values in delivery.release.attributes.items()}
    ido = claims.get("IDO")
    code = secrets.token_urlsafe(32)
    assert state.resource_id is not None  # checked by deliver.complete
    delivery.session.add(OidcGrant(
        code_sha256=_sha(code),
        client_id=params["client_id"],
        resource_id=state.resource_id,
        redirect_uri=state.acs_url,
        code_challenge=params["code_challenge"],
        nonce=params.get("nonce"),
        # IDO is the pairwise subject; a resource that does not declare it gets a transient one.
        subject=ido[0] if ido else delivery.delivery_id,
        claims=claims,
        delivery_id=delivery.delivery_id,
        created_at=delivery.now,
        code_expires_at=delivery.now + CODE_LIFETIME,
    ))
    location = with_query(state.acs_url, {
        "code": code, "state": params.get("state"), "iss": issuer(delivery.broker.settings),
    })
    return RedirectResponse(location, status_code=303, headers=dict(web.SECURITY_HEADERS))


# --- token ------------------------------------------------------------------------------------


def _token_error(error: OidcError) -> Response:
    if error.code == "oidc.client.unauthenticated":
        status, oauth, headers = 401, "invalid_client", {"WWW-Authenticate": 'Basic realm="GAR"'}
    elif error.code == "oidc.grant.unsupported":
        status, oauth, headers = 400, "unsupported_grant_type", {}
    elif error.code.startswith(("oidc.code.", "oidc.pkce.")):
        status, oauth, headers = 400, "invalid_grant", {}
    else:
        status, oauth, headers = 400, "invalid_request", {}
    # A problem+json document (stable ``code``) that also has the RFC 6749 §5.2 members, so
    # that any OAuth client library reads the refusal too.
    body: dict[str, Any] = {"type": "about:blank", "title": "Requête de jeton refusée",
                            "status": status, "code": error.code, "detail": error.detail,
                            "error": oauth, "error_description": error.code}
    return JSONResponse(body, status_code=status, media_type="application/problem+json",
                        headers={**web.SECURITY_HEADERS, "Pragma": "no-cache", **headers})


@router.post("/oidc/token")
@router.post("/oidcAccessToken")
async def token(request: Request) -> Response:
    broker = broker_of(request)
    form = await read_form(request)
    authorization = request.headers.get("authorization")
    return await run_in_threadpool(_token, broker, form, authorization)


def _token(broker: Broker, form: Mapping[str, str], authorization: str | None) -> Response:
    now = datetime.now(UTC)
    with broker.sessions() as session:
        try:
            response = _exchange(session, broker, form, authorization, now)
        except OidcError as error:
            session.rollback()
            if error.code == "oidc.code.reused":
                _revoke(session, _sha(form.get("code", "")), now)
                session.commit()
            return _token_error(error)
        session.commit()
        return response


def _exchange(
    session: Session, broker: Broker, form: Mapping[str, str], authorization: str | None,
    now: datetime,
) -> Response:
    client = oidc_clients.authenticate(session, authorization, form)
    if form.get("grant_type") != "authorization_code":
        raise OidcError("oidc.grant.unsupported", "only authorization_code")
    code = form.get("code", "")
    grant = session.get(OidcGrant, _sha(code)) if 0 < len(code) <= MAX_PARAM else None
    if grant is None or grant.client_id != client.client_id:
        raise OidcError("oidc.code.invalid", "unknown code, or issued to another client")
    if grant.consumed_at is not None:
        raise OidcError("oidc.code.reused", "this code was already exchanged")
    if grant.redirect_uri != form.get("redirect_uri"):
        raise OidcError("oidc.code.redirect_uri", "redirect_uri differs from the authorisation's")
    pkce.verify(form.get("code_verifier"), grant.code_challenge)
    access_token = secrets.token_urlsafe(32)
    consumed = session.execute(
        update(OidcGrant)
        .where(OidcGrant.code_sha256 == grant.code_sha256, OidcGrant.consumed_at.is_(None),
               OidcGrant.code_expires_at > now)
        .values(consumed_at=now, access_token_sha256=_sha(access_token),
                token_expires_at=now + TOKEN_LIFETIME)
        .execution_options(synchronize_session=False)
    )
    if getattr(consumed, "rowcount", 0) != 1:
        session.refresh(grant)
        if grant.consumed_at is not None:  # another request won the race: a reuse
            raise OidcError("oidc.code.reused", "this code was already exchanged")
        raise OidcError("oidc.code.expired", "the code has expired")
    id_token = jose.sign(_id_token_claims(broker.settings, grant, now), broker.keypair)
    return JSONResponse(
        {"access_token": access_token, "token_type": "Bearer",
         "expires_in": int(TOKEN_LIFETIME.total_seconds()), "id_token": id_token,
         "scope": "openid scope.gar"},
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def _id_token_claims(settings: Settings, grant: OidcGrant, now: datetime) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": issuer(settings), "sub": grant.subject, "aud": grant.client_id,
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + settings.assertion_lifetime_seconds,
        "jti": grant.delivery_id, "idRessource": grant.resource_id,
    }
    if grant.nonce is not None:
        claims["nonce"] = grant.nonce
    claims.update(grant.claims)  # released codes only; none collides with a JWT claim
    return claims


def _revoke(session: Session, code_sha256: str, now: datetime) -> None:
    session.execute(
        update(OidcGrant).where(OidcGrant.code_sha256 == code_sha256,
                                OidcGrant.revoked_at.is_(None))
        .values(revoked_at=now).execution_options(synchronize_session=False)
    )


# --- userinfo and the GAR profile -----------------------------------------------------------


def _bearer_grant(broker: Broker, authorization: str | None) -> OidcGrant | Response:
    def refused(detail: str) -> Response:
        return web.problem(401, "oidc.token.invalid", "Jeton d'accès refusé", detail, headers={
            "WWW-Authenticate": 'Bearer error="invalid_token"'})

    if not authorization or authorization[:7].lower() != "bearer ":
        return refused("a Bearer access token is required")
    value = authorization[7:].strip()
    if not 0 < len(value) <= MAX_PARAM:
        return refused("malformed access token")
    now = datetime.now(UTC)
    with broker.sessions() as session:
        found = session.scalars(
            select(OidcGrant).where(OidcGrant.access_token_sha256 == _sha(value))
        ).first()
        if (found is None or found.revoked_at is not None or found.token_expires_at is None
                or found.token_expires_at <= now):
            return refused("unknown, expired or revoked access token")
        session.expunge(found)
        return found


@router.get("/oidc/userinfo")
@router.post("/oidc/userinfo")
def userinfo(request: Request) -> Response:
    found = _bearer_grant(broker_of(request), request.headers.get("authorization"))
    if isinstance(found, Response):
        return found
    return JSONResponse({"sub": found.subject, **found.claims},
                        headers={"Cache-Control": "no-store"})


@router.get("/oidc/profile")
@router.get("/oidcProfile")
def profile(request: Request, idRessource: str = "", access_mode: str = "web") -> Response:
    """The GAR's profile endpoint: the released attributes of the access, by code."""
    found = _bearer_grant(broker_of(request), request.headers.get("authorization"))
    if isinstance(found, Response):
        return found
    if idRessource and idRessource != found.resource_id:
        return web.problem(403, "oidc.resource.mismatch", "Ressource différente",
                           "the token was issued for another resource")
    return JSONResponse({"idRessource": found.resource_id, "access_mode": access_mode[:16],
                         **found.claims}, headers={"Cache-Control": "no-store"})


# --- RP-initiated logout --------------------------------------------------------------------


@router.get("/oidc/logout")
def logout(request: Request) -> Response:
    broker = broker_of(request)
    params = dict(request.query_params)
    return run_step(request, broker, lambda s, now: _logout(s, broker, now, params, request))


def _logout(
    session: Session, broker: Broker, now: datetime, params: Mapping[str, str], request: Request
) -> Response:
    """End the access: revoke its tokens, then go back only to an exactly registered URI."""
    client_id, jti = params.get("client_id"), None
    hint = params.get("id_token_hint")
    if hint:
        try:
            claims = jose.verify_signature(hint, jose.jwks(broker.verification_keys()),
                                           [jose.SIGNING_ALG])
        except OidcError as error:
            raise FlowError("oidc.logout.invalid", error.code, 400) from error
        if claims.get("iss") != issuer(broker.settings) or (
            client_id is not None and claims.get("aud") != client_id
        ):
            raise FlowError("oidc.logout.invalid", "id_token_hint from another issuer/client", 400)
        client_id, jti = str(claims.get("aud")), claims.get("jti")
    target = params.get("post_logout_redirect_uri")
    client = oidc_clients.find(session, client_id)
    if target is not None and (client is None or target not in client.post_logout_redirect_uris):
        raise FlowError("oidc.logout.redirect_unregistered", target[:200], 400)
    if isinstance(jti, str):
        session.execute(
            update(OidcGrant).where(OidcGrant.delivery_id == jti, OidcGrant.revoked_at.is_(None))
            .values(revoked_at=now).execution_options(synchronize_session=False)
        )
    if target is not None:
        return RedirectResponse(with_query(target, {"state": params.get("state")}),
                                status_code=303)
    return web.render(_templates, request, "oidc_logged_out.html")


# --- the mediacentre's way in ---------------------------------------------------------------


def third_party_login(session: Session, settings: Settings, resource: Resource) -> Response:
    """Open an OIDC resource from the mediacentre: an RP cannot be sent a login unasked.

    If its client registered an ``initiate_login_uri`` (OIDC Core §4), the broker asks it to
    start a login with ``iss`` and ``target_link_uri``; otherwise the person goes to the
    resource's access URL, where the resource starts its own login.
    """
    client = oidc_clients.for_provider(session, resource.provider_id)
    if client is None or client.initiate_login_uri is None:
        return RedirectResponse(resource.access_url, status_code=303)
    return RedirectResponse(with_query(client.initiate_login_uri, {
        "iss": issuer(settings), "target_link_uri": resource.access_url,
    }), status_code=303)
