"""A test-only OpenID Provider whose token endpoint hands out whatever ID token a test forges.

It stands where a real provider would, behind the same HTTP calls: upstream of the broker
(an ENT speaking OIDC, for the broker's relying party) or in the broker's place (for the
provider mock's relying party). Its authorisation endpoint answers at once, without a login
page, with a one-time code for the ``redirect_uri`` it was given; its token endpoint builds
the claims a well-behaved provider would sign (issuer, audience, times, the nonce of the
request) and passes them through ``forge``, so that a test changes exactly one thing.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from services.keys import KeyPair
from services.oidc import discovery, jose
from services.oidc.urls import with_query

Forge = Callable[[dict[str, Any]], str]


@dataclass
class FakeOP:
    issuer: str
    keypair: KeyPair
    client_id: str
    person: dict[str, Any] = field(default_factory=dict)  # claims about the person
    forge: Forge | None = None  # None: sign the claims as they are
    iss_parameter: str | None = None  # None: the issuer (RFC 9207), "": left out
    extra: dict[str, Any] = field(default_factory=dict)  # discovery members added
    _codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    _tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    issued: list[str] = field(default_factory=list)  # every ID token the token endpoint gave
    requests: list[dict[str, str]] = field(default_factory=list)  # authorisation requests
    jwks_fetches: int = 0

    @property
    def origin(self) -> str:
        parts = urlsplit(self.issuer)
        return f"{parts.scheme}://{parts.netloc}"

    def metadata(self) -> dict[str, Any]:
        return discovery.provider_metadata(
            self.issuer, authorization_endpoint=f"{self.issuer}/authorize",
            token_endpoint=f"{self.issuer}/token", userinfo_endpoint=f"{self.issuer}/userinfo",
            jwks_uri=f"{self.issuer}/jwks", extra={
                "profile_endpoint": f"{self.issuer}/profile",
                "end_session_endpoint": f"{self.issuer}/logout", **self.extra})

    def sign(self, claims: dict[str, Any]) -> str:
        return jose.sign(claims, self.keypair)

    def claims(self, nonce: str | None) -> dict[str, Any]:
        """What an honest provider would put in the ID token for this request."""
        now = int(time.time())
        claims: dict[str, Any] = {"iss": self.issuer, "sub": "fake-op-subject",
                                  "aud": self.client_id, "iat": now, "exp": now + 300,
                                  "jti": secrets.token_hex(8), **self.person}
        if nonce is not None:
            claims["nonce"] = nonce
        return claims

    async def _discovery(self, request: Request) -> Response:
        return JSONResponse(self.metadata())

    async def _jwks(self, request: Request) -> Response:
        self.jwks_fetches += 1
        return JSONResponse(jose.jwks([self.keypair]))

    async def _authorize(self, request: Request) -> Response:
        params = dict(request.query_params)
        self.requests.append(params)
        code = secrets.token_urlsafe(16)
        self._codes[code] = {"nonce": params.get("nonce"),
                             "redirect_uri": params["redirect_uri"]}
        iss = self.issuer if self.iss_parameter is None else self.iss_parameter
        return RedirectResponse(with_query(params["redirect_uri"], {
            "code": code, "state": params.get("state"), "iss": iss or None}), status_code=303)

    async def _token(self, request: Request) -> Response:
        form = await request.form()
        issued = self._codes.pop(str(form.get("code")), None)
        if issued is None or issued["redirect_uri"] != form.get("redirect_uri"):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        claims = self.claims(issued["nonce"])
        id_token = (self.forge or self.sign)(claims)
        self.issued.append(id_token)
        access = secrets.token_urlsafe(16)
        self._tokens[access] = {"sub": claims["sub"], **self.person}
        return JSONResponse({"access_token": access, "token_type": "Bearer", "expires_in": 300,
                             "id_token": id_token})

    def _bearer(self, request: Request) -> dict[str, Any] | None:
        value = request.headers.get("authorization", "")[7:]
        return self._tokens.get(value)

    async def _userinfo(self, request: Request) -> Response:
        found = self._bearer(request)
        return JSONResponse(found) if found else JSONResponse({}, status_code=401)

    async def _profile(self, request: Request) -> Response:
        found = self._bearer(request)
        return JSONResponse({**found, **dict(request.query_params)}) if found else JSONResponse(
            {}, status_code=401)

    def app(self) -> Starlette:
        base = urlsplit(self.issuer).path.rstrip("/")
        return Starlette(routes=[
            Route(f"{base}/.well-known/openid-configuration", self._discovery),
            Route(f"{base}/jwks", self._jwks),
            Route(f"{base}/authorize", self._authorize),
            Route(f"{base}/token", self._token, methods=["POST"]),
            Route(f"{base}/userinfo", self._userinfo, methods=["GET", "POST"]),
            Route(f"{base}/profile", self._profile),
        ])
