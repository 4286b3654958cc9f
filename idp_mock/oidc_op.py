"""The identity-provider mock as an OpenID Provider: the same personas and claims as its SAML side.

Code flow with PKCE S256 only. Its one client is the broker (its client id, secret and
redirect URI are derived from the settings and the shared keys folder, as its SAML side
trusts the broker's metadata). Claims are exactly what ``identity.attributes`` gives the
SAML assertion, in either shape; codes and access tokens live in process memory, one-time
and short-lived, as a mock needs (the broker keeps its own in the store). It keeps no single
sign-on session: every login presents credentials, so ``prompt=login`` and ``max_age`` are
always met, and ``auth_time`` (in every ID token) is the instant of that login.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from idp_mock import identity
from services import dataset as dataset_module
from services import web
from services.keys import KeyPair, load_secret
from services.oidc import discovery, jose, pkce
from services.oidc.errors import OidcError
from services.oidc.urls import with_query
from services.saml.errors import SamlError
from services.settings import Settings

CODE_SECONDS, TOKEN_SECONDS = 60, 300


def issuer(settings: Settings) -> str:
    return f"{settings.idp_base}/oidc"


@dataclass(frozen=True)
class Client:
    client_id: str
    secret: str
    redirect_uri: str


def broker_client(settings: Settings) -> Client:
    """The broker as this provider's client (both sides read the same keys folder)."""
    return Client(
        client_id=f"{settings.broker_base}/oidc/rp",
        secret=load_secret(settings.keys_dir, "idp_oidc_client").hex(),
        redirect_uri=f"{settings.broker_base}/oidc/rp/callback",
    )


def metadata(settings: Settings) -> dict[str, Any]:
    base = issuer(settings)
    return discovery.provider_metadata(
        base, authorization_endpoint=f"{base}/authorize", token_endpoint=f"{base}/token",
        userinfo_endpoint=f"{base}/userinfo", jwks_uri=f"{base}/jwks",
        claims=("idEnt", "GARPersonIdentifiant", "FrEduCtRefId", "FrEduCtId", "FrEduCtOpaqueId"),
    )


@dataclass(frozen=True)
class _Issued:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str | None
    claims: dict[str, Any]
    expires_at: float
    auth_time: int = 0  # when the person logged in (every login presents credentials)
    access_token: str | None = None  # a redeemed code: the token it gave, revoked on reuse


class _OneTime:
    """Codes (or tokens) by digest: taken once, gone after expiry; bounded in size."""

    def __init__(self, clock: Callable[[], float] = time.time, capacity: int = 10_000) -> None:
        self._items: dict[str, _Issued] = {}
        self._clock, self._capacity = clock, capacity

    def put(self, value: str, item: _Issued) -> None:
        now = self._clock()
        self._items = {k: v for k, v in self._items.items() if v.expires_at > now}
        if len(self._items) < self._capacity:
            self._items[hashlib.sha256(value.encode()).hexdigest()] = item

    def take(self, value: str) -> _Issued | None:
        item = self._items.pop(hashlib.sha256(value.encode()).hexdigest(), None)
        return item if item is not None and item.expires_at > self._clock() else None

    def peek(self, value: str) -> _Issued | None:
        item = self._items.get(hashlib.sha256(value.encode()).hexdigest())
        return item if item is not None and item.expires_at > self._clock() else None


def claims_of(values: Mapping[str, list[str]]) -> dict[str, Any]:
    """SAML attribute values as claims: one value as a string, several as a list."""
    return {name: v[0] if len(v) == 1 else list(v) for name, v in values.items()}


def install(
    app: FastAPI, settings: Settings, keypair: KeyPair, secret: bytes,
    data: dataset_module.Dataset,
    login_page: Callable[..., HTMLResponse],
    authenticate: Callable[[Mapping[str, str]], dataset_module.Person | None],
    seal: Callable[[dict[str, Any]], str], unseal: Callable[[str], dict[str, Any]],
) -> None:
    """Add the OpenID Provider routes to the mock's app (its login page is shared)."""
    router = APIRouter()
    codes, tokens, redeemed = _OneTime(), _OneTime(), _OneTime()
    client = broker_client(settings)

    def refused(request: Request, code: str, reason: str, status: int = 400) -> HTMLResponse:
        return web.error_page(request, status, code, "Demande d'authentification refusée",
                              reason, "Retournez sur le service d'où vous venez.")

    @router.get("/oidc/.well-known/openid-configuration")
    async def configuration() -> JSONResponse:
        return JSONResponse(metadata(settings))

    @router.get("/oidc/jwks")
    async def jwks() -> JSONResponse:
        return JSONResponse(jose.jwks([keypair]))

    @router.get("/oidc/authorize", response_model=None)
    async def authorize(request: Request) -> Response:
        params = request.query_params
        if params.get("client_id") != client.client_id:
            return refused(request, "idp.oidc.unknown_client",
                           "Ce client OpenID Connect est inconnu.")
        if params.get("redirect_uri") != client.redirect_uri:
            return refused(request, "idp.oidc.redirect_uri",
                           "L'adresse de retour n'est pas celle enregistrée pour ce client.")
        try:
            scope = params.get("scope", "").split()
            if params.get("response_type") != "code" or "openid" not in scope:
                raise OidcError("oidc.request.invalid", "response_type=code and scope openid")
            challenge = pkce.check_challenge(params.get("code_challenge"),
                                             params.get("code_challenge_method"))
        except OidcError as error:
            return RedirectResponse(with_query(client.redirect_uri, {
                "error": "invalid_request", "error_description": error.code,
                "state": params.get("state"), "iss": issuer(settings)}), status_code=303)
        pending = {"client_id": client.client_id, "state": params.get("state", "")[:512],
                   "nonce": (params.get("nonce") or "")[:512] or None, "challenge": challenge,
                   "expires_at": int(time.time()) + settings.login_state_lifetime_seconds}
        return login_page(request, seal(pending), client.client_id, action="/oidc/login")

    @router.post("/oidc/login", response_model=None)
    async def login(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=32)
        fields = {k: v for k, v in form.items() if isinstance(v, str) and len(v) <= 4096}
        try:
            pending = unseal(fields.get("state", ""))
        except SamlError:  # the sealed state was forged, altered, malformed or expired
            return refused(request, "idp.state.invalid",
                           "Le formulaire de connexion a expiré ou a été modifié.")
        person = authenticate(fields)
        shape = identity.parse_shape(fields.get("shape"), settings.idp_shape)
        if person is None:
            return login_page(request, fields.get("state", ""), client.client_id,
                              action="/oidc/login", status=401,
                              error="Identifiant ou mot de passe incorrect.")
        values = identity.attributes(
            data, person, shape=shape, talkative=fields.get("talkative") in {"1", "on", "true"},
            sp_entity_id=client.client_id, secret=secret)
        code = secrets.token_urlsafe(32)
        codes.put(code, _Issued(client.client_id, client.redirect_uri, pending["challenge"],
                                pending["nonce"], claims_of(values), time.time() + CODE_SECONDS,
                                auth_time=int(time.time())))
        return RedirectResponse(with_query(client.redirect_uri, {
            "code": code, "state": pending["state"], "iss": issuer(settings)}), status_code=303)

    @router.post("/oidc/token")
    async def token(request: Request) -> JSONResponse:
        form = await request.form(max_files=0, max_fields=16)
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        if not _client_authenticated(request.headers.get("authorization"), client):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        issued = codes.take(fields.get("code", ""))
        if issued is None:
            # A code presented again: refused, and what it gave is revoked (RFC 6749 §4.1.2:
            # the first exchange may have been an attacker's).
            again = redeemed.take(fields.get("code", ""))
            if again is not None and again.access_token is not None:
                tokens.take(again.access_token)
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        if issued.redirect_uri != fields.get("redirect_uri"):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        try:
            pkce.verify(fields.get("code_verifier"), issued.challenge)
        except OidcError as error:
            return JSONResponse({"error": "invalid_grant", "error_description": error.code},
                                status_code=400)
        now = int(time.time())
        subject = hashlib.sha256(repr(sorted(issued.claims.items())).encode()).hexdigest()
        id_claims = {"iss": issuer(settings), "sub": subject, "aud": issued.client_id,
                     "iat": now, "exp": now + settings.assertion_lifetime_seconds,
                     "auth_time": issued.auth_time,
                     "jti": secrets.token_hex(16), **issued.claims}
        if issued.nonce is not None:
            id_claims["nonce"] = issued.nonce
        access = secrets.token_urlsafe(32)
        tokens.put(access, _Issued(issued.client_id, issued.redirect_uri, "", None,
                                   {"sub": subject, **issued.claims}, time.time() + TOKEN_SECONDS))
        redeemed.put(fields["code"], replace(issued, access_token=access,
                                             expires_at=time.time() + TOKEN_SECONDS))
        return JSONResponse({"access_token": access, "token_type": "Bearer",
                             "expires_in": TOKEN_SECONDS,
                             "id_token": jose.sign(id_claims, keypair)},
                            headers={"Cache-Control": "no-store"})

    @router.get("/oidc/userinfo")
    async def userinfo(request: Request) -> JSONResponse:
        authorization = request.headers.get("authorization", "")
        found = tokens.peek(authorization[7:]) if authorization[:7].lower() == "bearer " else None
        if found is None:
            return JSONResponse({"error": "invalid_token"}, status_code=401,
                                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return JSONResponse(found.claims, headers={"Cache-Control": "no-store"})

    app.include_router(router)


def _client_authenticated(authorization: str | None, client: Client) -> bool:
    import base64
    import binascii

    if not authorization or authorization[:6].lower() != "basic ":
        return False
    try:
        raw = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        client_id, secret = (unquote(p) for p in raw.split(":", 1))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return False
    return client_id == client.client_id and hmac.compare_digest(secret, client.secret)
