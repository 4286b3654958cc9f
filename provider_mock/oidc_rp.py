"""The provider mock as an OpenID Connect relying party, verifying with PyJWT.

PyJWT on purpose: an implementation independent of the broker's Authlib/joserfc, so that a
defect in one is not hidden by the same defect in the other. It behaves as a careful GAR
publisher: code flow with PKCE S256, ``state`` and ``nonce`` single-use, ``idRessource``
naming the resource, ``client_secret_basic`` at the token endpoint, the ID token checked
(RS256 only, key from the broker's JWKS by ``kid``, issuer, audience, expiry, issue time,
nonce), then userinfo and the GAR-style profile; it shows what it received and checked.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import jinja2
import jwt
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from provider_mock import display
from services import dataset as dataset_module
from services.attributes import CATALOGUE
from services.keys import load_secret
from services.settings import Settings
from services.web import error_page, render

MAX_TOKEN_CHARS = 16 * 1024
MAX_ANSWER_BYTES = 64 * 1024
ALGORITHMS = ["RS256"]  # pinned: never taken from the token's header


def client_id(settings: Settings) -> str:
    return f"{settings.provider_base}/oidc"


def client_secret(settings: Settings) -> str:
    return load_secret(settings.keys_dir, "provider_oidc_client").hex()


def broker_issuer(settings: Settings) -> str:
    return f"{settings.broker_base}/oidc"


def registration(settings: Settings) -> dict[str, Any]:
    """This client's registration document, as the broker's ``oidc client add`` reads it."""
    base = settings.provider_base
    return {
        "client_id": client_id(settings),
        "client_name": "Fournisseur simulé du banc d'essai (OpenID Connect)",
        "token_endpoint_auth_method": "client_secret_basic",
        "redirect_uris": [f"{base}/oidc/callback"],
        "post_logout_redirect_uris": [f"{base}/oidc/logged-out"],
        "initiate_login_uri": f"{base}/oidc/initiate",
    }


class Refused(Exception):
    """A login this provider will not accept; shown as a French page with its code."""

    def __init__(self, code: str, reason: str, detail: str = "") -> None:
        super().__init__(code)
        self.code, self.reason, self.detail = code, reason, detail


def verify_id_token(
    token: str, *, jwks: dict[str, Any], issuer: str, audience: str, nonce: str | None,
    leeway: float,
) -> dict[str, Any]:
    """The ID token's claims, after every check a relying party owes (OIDC Core §3.1.3.7)."""
    if len(token) > MAX_TOKEN_CHARS:
        raise Refused("oidc.token.too_large", "Le jeton d'identité est trop volumineux.")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise Refused("oidc.token.malformed", "Le jeton d'identité est illisible.") from exc
    if header.get("alg") not in ALGORITHMS:
        raise Refused("oidc.token.algorithm", "Le jeton est signé avec un algorithme refusé.",
                      str(header.get("alg"))[:20])
    try:
        keys = {k.key_id: k for k in jwt.PyJWKSet.from_dict(jwks).keys}
    except jwt.PyJWTError as exc:
        raise Refused("oidc.token.signature", "Les clés du gestionnaire sont illisibles.") from exc
    key = keys.get(header.get("kid"))
    if key is None:
        raise Refused("oidc.token.signature", "Le jeton est signé par une clé non publiée.")
    try:
        claims: dict[str, Any] = jwt.decode(
            token, key.key, algorithms=ALGORITHMS, audience=audience, issuer=issuer,
            leeway=leeway, options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Refused("oidc.token.expired", "Le jeton d'identité a expiré.") from exc
    except jwt.InvalidAudienceError as exc:
        raise Refused("oidc.token.audience", "Le jeton est destiné à un autre client.") from exc
    except jwt.InvalidIssuerError as exc:
        raise Refused("oidc.token.issuer", "Le jeton ne vient pas du gestionnaire.") from exc
    except (jwt.ImmatureSignatureError, jwt.InvalidIssuedAtError) as exc:
        raise Refused("oidc.token.not_yet_valid", "Le jeton est daté dans le futur.") from exc
    except jwt.InvalidSignatureError as exc:
        raise Refused("oidc.token.signature", "La signature du jeton est invalide.") from exc
    except jwt.PyJWTError as exc:
        raise Refused("oidc.token.malformed", "Le jeton d'identité est invalide.",
                      type(exc).__name__) from exc
    if nonce is not None and claims.get("nonce") != nonce:
        raise Refused("oidc.token.nonce", "Le jeton ne répond pas à cette demande (nonce).")
    return claims


@dataclass(frozen=True)
class _Sent:
    resource: dataset_module.Resource
    nonce: str
    verifier: str
    expires_at: float


def install(
    app: FastAPI, settings: Settings, http: httpx.AsyncClient | None,
    resources: list[dataset_module.Resource], env: jinja2.Environment,
) -> None:
    router = APIRouter()
    client = http or httpx.AsyncClient()
    by_slug = {r.slug: r for r in resources}
    by_url = {r.access_url: r for r in resources}
    sent: dict[str, _Sent] = {}
    skew = float(settings.clock_skew_seconds)
    me, secret = client_id(settings), client_secret(settings)
    redirect_uri = registration(settings)["redirect_uris"][0]
    cache: dict[str, dict[str, Any]] = {}

    def refused(request: Request, exc: Refused) -> HTMLResponse:
        return error_page(
            request, 400, exc.code, "Accès refusé par le fournisseur de ressources", exc.reason,
            "Revenez au médiacentre de votre ENT et ouvrez à nouveau la ressource.",
            detail=exc.detail or None)

    async def get_json(url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        try:
            answer = await client.get(url, headers=headers or {}, timeout=10.0)
        except httpx.HTTPError as exc:
            raise Refused("provider.oidc.unreachable", "Le gestionnaire est injoignable.") from exc
        if answer.status_code != 200 or len(answer.content) > MAX_ANSWER_BYTES:
            raise Refused("provider.oidc.unreachable", "Le gestionnaire a refusé la demande.",
                          f"{url}: HTTP {answer.status_code}")
        body = answer.json()
        if not isinstance(body, dict):
            raise Refused("provider.oidc.unreachable", "Réponse du gestionnaire illisible.")
        return body

    async def provider_configuration() -> dict[str, Any]:
        if "discovery" not in cache:
            document = await get_json(
                f"{broker_issuer(settings)}/.well-known/openid-configuration")
            if document.get("issuer") != broker_issuer(settings):
                raise Refused("oidc.token.issuer", "La découverte désigne un autre émetteur.")
            cache["discovery"] = document
        return cache["discovery"]

    async def start(resource: dataset_module.Resource) -> Response:
        document = await provider_configuration()
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        verifier = secrets.token_urlsafe(48)
        now = time.time()
        for key in [k for k, v in sent.items() if v.expires_at <= now]:
            del sent[key]
        if len(sent) < 10_000:
            sent[state] = _Sent(resource, nonce, verifier,
                                now + settings.login_state_lifetime_seconds)
        challenge = base64.urlsafe_b64encode(
            hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        query = urlencode({
            "response_type": "code", "client_id": me, "redirect_uri": redirect_uri,
            "scope": "openid scope.gar", "state": state, "nonce": nonce,
            "code_challenge": challenge, "code_challenge_method": "S256",
            "idRessource": resource.id,
        })
        return RedirectResponse(f"{document['authorization_endpoint']}?{query}",
                                status_code=303, headers={"Cache-Control": "no-store"})

    @router.get("/oidc/resource/{slug}", response_model=None)
    async def open_resource(request: Request, slug: str) -> Response:
        resource = by_slug.get(slug)
        if resource is None:
            return error_page(request, 404, "provider.unknown_resource", "Ressource introuvable",
                              "Ce fournisseur ne propose aucune ressource à cette adresse.",
                              "Consultez la liste des ressources du fournisseur.")
        try:
            return await start(resource)
        except Refused as exc:
            return refused(request, exc)

    @router.get("/oidc/initiate", response_model=None)
    async def initiate(request: Request, iss: str = "", target_link_uri: str = "") -> Response:
        """Third-party initiated login (OIDC Core §4): only from our broker, to our resources."""
        try:
            if iss != broker_issuer(settings):
                raise Refused("oidc.token.issuer", "La demande de connexion vient d'un émetteur "
                              "inconnu.")
            resource = by_url.get(target_link_uri)
            if resource is None:
                raise Refused("provider.oidc.target_unknown",
                              "La ressource demandée n'est pas proposée par ce fournisseur.")
            return await start(resource)
        except Refused as exc:
            return refused(request, exc)

    @router.get("/oidc/callback", response_model=None)
    async def callback(request: Request) -> Response:
        params = request.query_params
        try:
            pending = sent.pop(params.get("state", ""), None)  # single use
            if pending is None or pending.expires_at <= time.time():
                raise Refused("provider.oidc.state_unknown", "Cette réponse ne correspond à "
                              "aucune demande en cours de ce fournisseur (ou elle a expiré).")
            if params.get("error"):
                raise Refused("provider.oidc.error", "Le gestionnaire a refusé la connexion.",
                              f"{params.get('error')}: {params.get('error_description')}"[:300])
            document = await provider_configuration()
            # RFC 9207: the answer names its issuer, always when discovery promised it.
            iss = params.get("iss")
            if iss != broker_issuer(settings) and (
                    iss is not None
                    or document.get("authorization_response_iss_parameter_supported") is True):
                raise Refused("oidc.token.issuer", "La réponse vient d'un autre émetteur.")
            tokens = await exchange(document, params.get("code", ""), pending.verifier)
            keys = await get_json(document["jwks_uri"])
            claims = verify_id_token(
                str(tokens.get("id_token", "")), jwks=keys, issuer=broker_issuer(settings),
                audience=me, nonce=pending.nonce, leeway=skew)
            bearer = {"Authorization": f"Bearer {tokens.get('access_token')}"}
            info = await get_json(document["userinfo_endpoint"], bearer)
            if info.get("sub") != claims["sub"]:
                raise Refused("provider.oidc.userinfo", "Les informations de l'utilisateur ne "
                              "correspondent pas au jeton d'identité.")
            profile = await get_json(f"{document['profile_endpoint']}?" + urlencode(
                {"idRessource": pending.resource.id, "access_mode": "web"}), bearer)
        except Refused as exc:
            return refused(request, exc)
        rows = display.rows((code, _values(info[code])) for code in CATALOGUE if code in info)
        logout = f"{document.get('end_session_endpoint')}?" + urlencode({
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": registration(settings)["post_logout_redirect_uris"][0],
            "state": secrets.token_urlsafe(8)})
        return render(env, request, "oidc_result.html", resource=pending.resource, rows=rows,
                      claims=claims, issuer=broker_issuer(settings), audience=me,
                      kid=jwt.get_unverified_header(tokens["id_token"]).get("kid"),
                      profile_codes=sorted(k for k in profile if k in CATALOGUE),
                      expires=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(claims["exp"])),
                      logout_url=logout)

    async def exchange(document: dict[str, Any], code: str, verifier: str) -> dict[str, Any]:
        raw = f"{quote(me, safe='')}:{quote(secret, safe='')}".encode()
        try:
            answer = await client.post(document["token_endpoint"], data={
                "grant_type": "authorization_code", "code": code[:2048],
                "redirect_uri": redirect_uri, "code_verifier": verifier,
            }, headers={"Authorization": "Basic " + base64.b64encode(raw).decode()},
                timeout=10.0)
        except httpx.HTTPError as exc:
            raise Refused("provider.oidc.unreachable", "Le gestionnaire est injoignable.") from exc
        if len(answer.content) > MAX_ANSWER_BYTES:
            raise Refused("oidc.token.too_large", "La réponse du gestionnaire est trop grande.")
        body = answer.json() if answer.headers.get("content-type", "").find("json") >= 0 else {}
        if answer.status_code != 200 or not isinstance(body, dict):
            raise Refused("provider.oidc.token_refused", "Le gestionnaire a refusé l'échange "
                          "du code.", str(body.get("code") or body.get("error"))[:100])
        return body

    @router.get("/oidc/logged-out", response_class=HTMLResponse)
    async def logged_out(request: Request) -> HTMLResponse:
        return render(env, request, "oidc_logged_out.html")

    app.include_router(router)


def _values(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]
