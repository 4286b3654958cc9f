"""Page helpers shared by the three services: templates, French error pages, no stack traces.

Every service renders its pages through one Jinja2 environment that looks first in its own
``templates/`` folder and then in ``services/templates`` (the shared layout), always with
autoescaping: values shown on pages come from SAML messages and forms, i.e. from strangers.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from functools import cache
from typing import Any

import jinja2
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("gar_testbed.web")

_Handler = Callable[[Request, Exception], Awaitable[Response]]

#: Headers every page carries: no framing, no sniffing, no external anything.
SECURITY_HEADERS: Mapping[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action *; "
        "script-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'"
    ),
}

_HTTP_TITLES: Mapping[int, tuple[str, str]] = {
    400: ("Requête invalide", "La requête reçue est incomplète ou mal formée."),
    401: ("Authentification requise", "Vous devez vous identifier pour accéder à cette page."),
    403: ("Accès refusé", "Vous n'avez pas le droit d'accéder à cette page."),
    404: ("Page introuvable", "L'adresse demandée n'existe pas sur ce service."),
    405: ("Méthode non autorisée", "Cette adresse n'accepte pas ce type de requête."),
    413: ("Requête trop volumineuse", "Le message reçu dépasse la taille autorisée."),
}


def make_environment(package: str | None = None) -> jinja2.Environment:
    """Environment for ``package``'s templates, falling back to the shared layout."""
    loaders: list[jinja2.BaseLoader] = []
    if package is not None:
        loaders.append(jinja2.PackageLoader(package, "templates"))
    loaders.append(jinja2.PackageLoader("services", "templates"))
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@cache
def _shared_environment() -> jinja2.Environment:
    return make_environment(None)


def service_name(request: Request) -> str:
    """The name shown in the page header, set by :func:`install_error_handlers`."""
    name = getattr(request.app.state, "service_name", None)
    return name if isinstance(name, str) else "gar-testbed"


def render(
    env: jinja2.Environment,
    request: Request,
    template: str,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` with the service name and security headers."""
    html = env.get_template(template).render(service_name=service_name(request), **context)
    response = HTMLResponse(html, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    if headers:
        response.headers.update(headers)
    return response


def error_page(
    request: Request,
    status: int,
    code: str,
    title: str,
    reason: str,
    action: str,
    *,
    detail: str | None = None,
) -> HTMLResponse:
    """A French error page showing the stable ``code`` (what support and tests key on).

    ``detail`` is an optional technical diagnostic for integrators (escaped, never a trace).
    """
    return render(
        _shared_environment(),
        request,
        "error.html",
        status=status,
        code=code,
        title=title,
        reason=reason,
        action=action,
        detail=detail[:500] if detail else None,
    )


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" not in accept and ("json" in accept)


def _problem(status: int, code: str, title: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "code": code, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
        headers=dict(SECURITY_HEADERS),
    )


def _generic_error(request: Request, status: int, code: str, title: str, reason: str) -> Response:
    if _wants_json(request):
        return _problem(status, code, title, reason)
    return error_page(
        request, status, code, title, reason, "Revenez à la page précédente et réessayez."
    )


class ApiProblem(StarletteHTTPException):
    """Raise from an API route or dependency: answered as problem+json with a stable code.

    A dependency cannot return a response, so authentication failures and the like travel
    as this exception to the app's handler, whatever the client's ``Accept`` header says.
    """

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status, detail, dict(headers) if headers else None)
        self.code = code
        self.title = title


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """An RFC 9457 ``application/problem+json`` answer with a stable ``code``."""
    response = _problem(status, code, title, detail)
    if headers:
        response.headers.update(headers)
    return response


async def _http_exception(request: Request, exc: Exception) -> Response:
    if isinstance(exc, ApiProblem):
        return problem(exc.status_code, exc.code, exc.title, exc.detail, headers=exc.headers)
    status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
    title, reason = _HTTP_TITLES.get(status, ("Erreur", "La requête n'a pas pu aboutir."))
    return _generic_error(request, status, f"http.{status}", title, reason)


async def _validation_error(request: Request, exc: Exception) -> Response:
    return _generic_error(
        request,
        400,
        "request.invalid",
        "Requête invalide",
        "Un paramètre attendu est absent ou n'a pas le bon format.",
    )


class _LastResort:
    """ASGI middleware: any uncaught exception becomes a French 500 page with a correlation id.

    A plain exception handler is not enough: Starlette re-raises after answering, and the
    server would then print the traceback beside the response; here it is logged once, with
    the correlation id the user sees, and swallowed.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            correlation_id = secrets.token_hex(8)
            logger.exception("unhandled error, correlation id %s", correlation_id)
            if started:
                return
            request = Request(scope)
            reason = (
                "Une erreur inattendue s'est produite. "
                f"Identifiant de corrélation : {correlation_id}."
            )
            response = _generic_error(request, 500, "server.error", "Erreur interne", reason)
            response.headers["X-Correlation-Id"] = correlation_id
            await response(scope, receive, send)


def install_error_handlers(app: FastAPI, *, name: str) -> None:
    """Make every error a French page (or problem+json for API clients), never a traceback."""
    app.state.service_name = name
    handlers: list[tuple[type[Exception], _Handler]] = [
        (StarletteHTTPException, _http_exception),
        (RequestValidationError, _validation_error),
    ]
    for exc_type, function in handlers:
        app.add_exception_handler(exc_type, function)
    app.add_middleware(_LastResort)
