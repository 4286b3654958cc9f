"""The broker as an OpenID Connect relying party toward identity providers.

It always starts the exchange (code flow, PKCE S256, ``nonce`` and ``state`` kept in the
login state in the store), exchanges the code server to server, verifies the ID token with
the algorithms pinned at registration (issuer, audience, expiry, issue time with the bounded
clock skew, nonce), and maps its claims to the protocol-neutral ``Authentication`` in the
same two shapes as SAML: ENT (``idEnt`` + ``GARPersonIdentifiant``) or ÉduConnect
(``FrEduCtRefId``). Then ``deliver.complete``, as for a SAML assertion.
"""

from __future__ import annotations

import base64
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session
from starlette.responses import Response

from broker import deliver, oidc_providers
from broker import state as login_state
from broker.domain import Authentication
from broker.errors import FlowError
from broker.flow import Broker, broker_of, run_step
from broker.messages import message_for
from broker.models import LoginState, OidcProvider
from services import web
from services.oidc import jose, pkce
from services.oidc.errors import OidcError
from services.oidc.urls import with_query
from services.settings import Settings

logger = logging.getLogger("gar_testbed.broker.oidc_rp")
MAX_TOKEN_RESPONSE_BYTES = 64 * 1024
#: Registered JWT claims: about the token, not the person; never taken as attributes.
_JWT_CLAIMS = frozenset({"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "nonce", "azp",
                         "auth_time", "at_hash", "c_hash", "acr", "amr", "sid"})
router = APIRouter()


def client_id(settings: Settings) -> str:
    return f"{settings.broker_base}/oidc/rp"


def redirect_uri(settings: Settings) -> str:
    return f"{settings.broker_base}/oidc/rp/callback"


def redirect_to_op(
    settings: Settings, provider: OidcProvider, state: LoginState, *, force_authn: bool = False
) -> str:
    """The authorisation request URL; the state row keeps what the answer is checked against.

    ``force_authn`` asks for the person's credentials now (``prompt=login``, ``max_age=0``,
    which makes ``auth_time`` a required claim, OIDC Core §3.1.2.1).
    """
    nonce, verifier = secrets.token_urlsafe(24), pkce.new_verifier()
    state.upstream, state.idp_entity_id = "oidc", provider.issuer
    state.upstream_request_id = secrets.token_urlsafe(24)
    state.upstream_params = {"nonce": nonce, "verifier": verifier}
    fresh = {"prompt": "login", "max_age": "0"} if force_authn else {}
    return with_query(provider.discovery["authorization_endpoint"], {
        "response_type": "code", "client_id": provider.client_id,
        "redirect_uri": redirect_uri(settings), "scope": "openid", "state": state.id,
        "nonce": nonce, "code_challenge": pkce.challenge(verifier),
        "code_challenge_method": pkce.METHOD, **fresh,
    })


@dataclass(frozen=True)
class _Pending:
    state_id: str
    issuer: str
    client_id: str
    client_secret: str | None
    token_endpoint: str
    userinfo_endpoint: str | None
    jwks_uri: str
    jwks: dict[str, Any]
    algorithms: tuple[str, ...]
    nonce: str
    verifier: str


def _pending(broker: Broker, params: Mapping[str, str]) -> _Pending:
    if params.get("error"):
        raise FlowError("oidc.upstream.error", params["error"][:100], 400)
    with broker.sessions() as session:
        state = login_state.pending(session, params.get("state", ""), datetime.now(UTC))
        if state is None or state.upstream != "oidc" or state.upstream_params is None:
            raise FlowError("sso.state_unknown", "", 400)
        provider = oidc_providers.find(session, state.idp_entity_id or "")
        if provider is None:
            raise FlowError("sso.unknown_identity_provider", str(state.idp_entity_id), 400)
        # RFC 9207: an answer naming another issuer is a mix-up attack, whatever it carries;
        # a provider that advertises the parameter must always send it (§2.4).
        if "iss" in params and params["iss"] != provider.issuer:
            raise FlowError("oidc.token.issuer", "iss parameter names another provider", 400)
        if "iss" not in params and provider.discovery.get(
                "authorization_response_iss_parameter_supported") is True:
            raise FlowError("oidc.token.issuer", "iss parameter missing, yet advertised", 400)
        return _Pending(
            state.id, provider.issuer, provider.client_id, provider.client_secret,
            provider.discovery["token_endpoint"], provider.discovery.get("userinfo_endpoint"),
            provider.discovery["jwks_uri"], dict(provider.jwks), tuple(provider.algorithms),
            str(state.upstream_params["nonce"]), str(state.upstream_params["verifier"]),
        )


def basic_auth(client: str, secret: str) -> str:
    """RFC 6749 §2.3.1: both parts form-encoded before Base64 (a URL client id has colons)."""
    raw = f"{quote(client, safe='')}:{quote(secret, safe='')}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


async def _exchange(
    http: httpx.AsyncClient, settings: Settings, pending: _Pending, code: str
) -> dict[str, Any]:
    if not 0 < len(code) <= 2048:
        raise OidcError("oidc.code.invalid", "missing or oversized code")
    form = {"grant_type": "authorization_code", "code": code,
            "redirect_uri": redirect_uri(settings), "code_verifier": pending.verifier}
    headers = {"Accept": "application/json"}
    if pending.client_secret:
        headers["Authorization"] = basic_auth(pending.client_id, pending.client_secret)
    else:
        form["client_id"] = pending.client_id
    body = await _call(http, "POST", pending.token_endpoint, headers, form)
    if not isinstance(body.get("id_token"), str):
        raise OidcError("oidc.upstream.token", f"no ID token ({str(body.get('error'))[:50]})")
    return body


async def _call(
    http: httpx.AsyncClient, method: str, url: str, headers: dict[str, str],
    form: dict[str, str] | None = None, *, max_bytes: int = MAX_TOKEN_RESPONSE_BYTES,
) -> dict[str, Any]:
    try:
        response = await http.request(method, url, headers=headers, data=form, timeout=10.0,
                                      follow_redirects=False)
    except httpx.HTTPError as exc:
        raise OidcError("oidc.upstream.unreachable", type(exc).__name__) from exc
    if len(response.content) > max_bytes:
        raise OidcError("oidc.token.too_large", "the provider's answer is too large")
    try:
        body = response.json()
    except ValueError as exc:
        raise OidcError("oidc.upstream.token", f"HTTP {response.status_code}, not JSON") from exc
    if response.status_code != 200 or not isinstance(body, dict):
        raise OidcError("oidc.upstream.token", f"HTTP {response.status_code}")
    return body


async def _with_current_keys(
    broker: Broker, http: httpx.AsyncClient, pending: _Pending, id_token: str
) -> _Pending:
    """The provider's keys, re-fetched when the token names a key id the stored JWKS lacks.

    The provider may have rolled its key. Another instance may have fetched the new JWKS
    already (the store is re-read); otherwise the lease decides who fetches the registered
    ``jwks_uri``, once per interval. A failed fetch keeps the stored keys: the signature check
    then refuses the token as usual.
    """
    kid = jose.header_of(id_token).get("kid")
    if not isinstance(kid, str) or kid in oidc_providers.key_ids(pending.jwks):
        return pending
    keys, may_fetch = await run_in_threadpool(_stored_keys, broker, pending.issuer, kid)
    if kid not in oidc_providers.key_ids(keys) and may_fetch:
        try:
            fetched = oidc_providers.read_jwks(await _call(
                http, "GET", pending.jwks_uri, {"Accept": "application/json"},
                max_bytes=oidc_providers.MAX_DOCUMENT_BYTES))
        except OidcError:
            logger.warning("could not re-fetch the JWKS of %s", pending.issuer)
        else:
            await run_in_threadpool(_store_keys, broker, pending.issuer, fetched)
            keys = fetched
    return replace(pending, jwks=keys)


def _stored_keys(broker: Broker, issuer: str, kid: str) -> tuple[dict[str, Any], bool]:
    with broker.sessions() as session:
        provider = oidc_providers.find(session, issuer)
        keys = dict(provider.jwks) if provider is not None else {"keys": []}
        if provider is None or kid in oidc_providers.key_ids(keys):
            return keys, False
        leased = oidc_providers.take_refresh_lease(session, issuer, datetime.now(UTC))
        session.commit()
        return keys, leased


def _store_keys(broker: Broker, issuer: str, keys: dict[str, Any]) -> None:
    with broker.sessions() as session:
        oidc_providers.store_keys(session, issuer, keys)
        session.commit()


def verify(pending: _Pending, id_token: str, now: datetime, skew: timedelta) -> dict[str, Any]:
    return jose.verify_id_token(
        id_token, keys=pending.jwks, algorithms=pending.algorithms, issuer=pending.issuer,
        client_id=pending.client_id, nonce=pending.nonce, now=now, skew=skew,
    )


def authentication(issuer: str, claims: Mapping[str, Any]) -> Authentication:
    """The person as the provider describes them; only string claims, bounded."""
    attributes: dict[str, tuple[str, ...]] = {}
    for name, value in claims.items():
        if name in _JWT_CLAIMS or len(name) > 128:
            continue
        if isinstance(value, str):
            attributes[name] = (value,)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            attributes[name] = tuple(value[:50])
    jti, auth_time = claims.get("jti"), claims.get("auth_time")
    return Authentication(
        issuer=issuer, protocol="oidc", subject=str(claims["sub"]), attributes=attributes,
        assertion_id=jti if isinstance(jti, str) else None,
        session_index=claims.get("sid") if isinstance(claims.get("sid"), str) else None,
        authenticated_at=(datetime.fromtimestamp(auth_time, UTC)
                          if isinstance(auth_time, int) and not isinstance(auth_time, bool)
                          else None),
    )


def _error_page(request: Request, code: str, status: int = 400) -> Response:
    message = message_for(code)
    return web.error_page(request, status, code, message.title, message.reason, message.action)


@router.get("/oidc/rp/callback")
async def callback(request: Request) -> Response:
    broker = broker_of(request)
    settings = broker.settings
    params = dict(request.query_params)
    http: httpx.AsyncClient = request.app.state.oidc_http
    skew = timedelta(seconds=settings.clock_skew_seconds)
    try:
        pending = await run_in_threadpool(_pending, broker, params)
        tokens = await _exchange(http, settings, pending, params.get("code", ""))
        pending = await _with_current_keys(broker, http, pending, tokens["id_token"])
        claims = verify(pending, tokens["id_token"], datetime.now(UTC), skew)
        if pending.userinfo_endpoint and isinstance(tokens.get("access_token"), str):
            info = await _call(http, "GET", pending.userinfo_endpoint, {
                "Authorization": f"Bearer {tokens['access_token']}",
                "Accept": "application/json"})
            if info.get("sub") != claims["sub"]:  # OIDC Core §5.3.2
                raise OidcError("oidc.upstream.userinfo", "userinfo sub differs from the ID token")
            claims = {**info, **claims}  # the signed ID token wins on any conflict
    except FlowError as error:
        return _error_page(request, error.code, error.status)
    except OidcError as error:
        return _error_page(request, error.code)
    return await run_in_threadpool(
        run_step, request, broker, lambda s, now: _finish(s, broker, now, pending, claims, request)
    )


def _finish(
    session: Session, broker: Broker, now: datetime, pending: _Pending, claims: dict[str, Any],
    request: Request,
) -> Response:
    # Consumed and read in one UPDATE … RETURNING, as the SAML ACS does (broker.state.take).
    row = login_state.take(session, pending.state_id, now)
    if row is None:
        raise FlowError("sso.state_unknown", "", 400)
    state = login_state.state_of(row)
    expires = datetime.fromtimestamp(float(claims["exp"]), UTC) + timedelta(
        seconds=broker.settings.clock_skew_seconds)
    if not login_state.remember_assertion(session, pending.issuer, f"nonce:{pending.nonce}",
                                          expires):
        raise FlowError("oidc.token.replay", pending.nonce, 400)
    return deliver.complete(session, broker, state, authentication(pending.issuer, claims),
                            now, request)
