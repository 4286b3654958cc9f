"""The provider mock as a CAS 3.0 publisher, the way public GAR publisher clients behave.

Its access URL opened with ``?sso_id=GAR`` (and an optional ``grain``: a deep link, honoured
only within its own site) sends the person to the broker's CAS ``login`` with that exact URL
as ``service``. The ticket comes back on the same URL; the mock validates it once at
``p3/serviceValidate`` over httpx (the service being its URL without ``ticket``), parses the
answer with the hardened XML parser, keys the person on ``IDO`` (never ``cas:user``), reads
``UAI`` as several values, refuses an ``IDC`` naming another resource and shows everything it
received, with its account number. With ``GAR_PROVIDER_NAIVE`` it is the harness's naive
target instead (:mod:`provider_mock.naive`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import httpx
import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from lxml import etree

from provider_mock import display, gar_rules, naive
from provider_mock.display import Refusal
from provider_mock.memory import Accounts
from services import dataset as dataset_module
from services.saml.errors import SamlError
from services.saml.xml import parse
from services.settings import Settings
from services.web import error_page, render

logger = logging.getLogger("gar_testbed.provider_mock.cas")

CAS_NS = "http://www.yale.edu/tp/cas"
_IDO = re.compile(r"[0-9a-f]{128}")
_TIMEOUT = httpx.Timeout(5.0)
MAX_ANSWER = 64 * 1024


def broker_cas_base(settings: Settings) -> str:
    return f"{settings.broker_base}/cas"


@dataclass(frozen=True)
class Received:
    user: str
    attributes: dict[str, list[str]]


def safe_grain(grain: str, provider_base: str) -> str | None:
    """The deep-link path when ``grain`` stays on this site; None when it would leave it."""
    if not grain or len(grain) > 512 or not grain.isprintable() or "\\" in grain:
        return None
    parts = urlsplit(grain)
    own = urlsplit(provider_base)
    if parts.scheme or parts.netloc:
        if (parts.scheme, parts.netloc.lower()) != (own.scheme, own.netloc.lower()):
            return None
    elif not grain.startswith("/") or grain.startswith("//"):
        return None
    path = parts.path or "/"
    if any(segment == ".." for segment in path.split("/")):
        return None
    return path + (f"?{parts.query}" if parts.query else "")


def without_ticket(query: str) -> str:
    """The raw query minus its ``ticket`` pairs, the rest byte for byte (the exact service)."""
    return "&".join(p for p in query.split("&") if p and not p.startswith("ticket="))


def read_answer(body: bytes, *, max_bytes: int) -> Received:
    """A ``serviceResponse``: the success's user and attributes, or Refusal with its code."""
    try:
        root = parse(body, max_bytes=max_bytes)
    except SamlError as exc:
        raise Refusal("provider.cas.answer_unreadable",
                       "La réponse de validation du GAR n'est pas un XML acceptable.",
                       502, exc.code) from exc
    if root.tag != f"{{{CAS_NS}}}serviceResponse" or len(root) != 1:
        raise Refusal("provider.cas.answer_unexpected",
                       "La réponse de validation du GAR n'a pas la forme CAS attendue.", 502)
    outcome = root[0]
    if outcome.tag == f"{{{CAS_NS}}}authenticationFailure":
        code = outcome.get("code") or "UNKNOWN"
        raise Refusal(f"cas.{code}", _FAILURES.get(code, "Le GAR a refusé le ticket."), 403,
                       (outcome.text or "").strip())
    if outcome.tag != f"{{{CAS_NS}}}authenticationSuccess":
        raise Refusal("provider.cas.answer_unexpected",
                       "La réponse de validation du GAR n'a pas la forme CAS attendue.", 502)
    user = outcome.findtext(f"{{{CAS_NS}}}user") or ""
    attributes: dict[str, list[str]] = {}
    holder = outcome.find(f"{{{CAS_NS}}}attributes")
    for element in holder if holder is not None else ():
        if not isinstance(element.tag, str) or not element.tag.startswith(f"{{{CAS_NS}}}"):
            continue
        code = etree.QName(element).localname
        attributes.setdefault(code, []).append((element.text or "").strip())
    ido = attributes.get("IDO", [])
    if len(ido) != 1 or not _IDO.fullmatch(ido[0]):
        raise Refusal("provider.cas.no_ido",
                       "Le GAR n'a pas transmis un identifiant IDO unique de 128 caractères "
                       "hexadécimaux : sans lui, l'utilisateur ne peut être reconnu.", 502)
    return Received(user, attributes)


_FAILURES = {
    "INVALID_TICKET": "Le ticket est inconnu, expiré ou déjà utilisé : un ticket ne sert "
                      "qu'une fois, quelques secondes.",
    "INVALID_SERVICE": "Le ticket a été émis pour une autre adresse que celle de cette "
                       "ressource.",
    "INVALID_REQUEST": "La demande de validation était incomplète.",
    "INTERNAL_ERROR": "Le GAR n'a pas pu valider le ticket (erreur interne).",
}


def cas_router(
    settings: Settings,
    resources: list[dataset_module.Resource],
    env: jinja2.Environment,
    http: httpx.AsyncClient | None,
) -> APIRouter:
    router = APIRouter()
    by_slug = {r.slug: r for r in resources if r.protocol == "cas"}
    hurried = settings.provider_naive in naive.NAIVE_READERS
    accounts = Accounts(merge=settings.provider_naive == "accounts")

    def refused(request: Request, exc: Refusal) -> HTMLResponse:
        return error_page(
            request, exc.status, exc.code, "Accès refusé par le fournisseur de ressources",
            exc.reason, "Revenez au médiacentre de votre ENT et ouvrez à nouveau la ressource.",
            detail=exc.detail,
        )

    async def fetch(url: str, params: dict[str, str]) -> bytes:
        client = http or httpx.AsyncClient(timeout=_TIMEOUT, follow_redirects=False)
        try:
            async with client.stream("GET", url, params=params, timeout=_TIMEOUT,
                                     follow_redirects=False) as answer:
                chunks: list[bytes] = []
                async for chunk in answer.aiter_bytes():
                    chunks.append(chunk)
                    if sum(map(len, chunks)) > MAX_ANSWER:
                        raise Refusal("provider.cas.answer_too_large",
                                       "La réponse de validation du GAR est trop volumineuse.",
                                       502)
                return b"".join(chunks)
        except httpx.HTTPError as exc:
            raise Refusal("provider.cas.unreachable",
                           "Le service de validation du GAR n'a pas pu être joint.", 502,
                           type(exc).__name__) from exc
        finally:
            if http is None:
                await client.aclose()

    @router.get("/cas/{slug}", response_model=None)
    async def open_resource(request: Request, slug: str) -> Response:
        resource = by_slug.get(slug)
        if resource is None:
            return error_page(
                request, 404, "provider.unknown_resource", "Ressource introuvable",
                "Ce fournisseur ne propose aucune ressource CAS à cette adresse.",
                "Consultez la liste des ressources sur la page d'accueil du fournisseur.",
            )
        params = request.query_params
        try:
            grain = None
            if "grain" in params and hurried:  # harness target only
                grain = params["grain"]
            elif "grain" in params:
                grain = safe_grain(params["grain"], settings.provider_base)
                if grain is None or len(params.getlist("grain")) > 1:
                    raise Refusal("provider.grain.offsite",
                                   "Le lien profond (grain) mène hors du site de ce fournisseur : "
                                   "il n'est pas suivi.", 400, params["grain"][:200])
            tickets = params.getlist("ticket")
            if not tickets:
                if params.get("sso_id") != "GAR":  # not from the GAR: offer the way in
                    gar_link = resource.access_url + "?" + urlencode(
                        {"sso_id": "GAR", **({"grain": grain} if grain else {})})
                    return render(env, request, "cas_welcome.html", resource=resource,
                                  gar_link=gar_link)
                service = f"{resource.access_url}?{request.url.query}"
                login = f"{broker_cas_base(settings)}/login?{urlencode({'service': service})}"
                return RedirectResponse(login, status_code=303,
                                        headers={"Cache-Control": "no-store"})
            if len(tickets) != 1:
                raise Refusal("provider.cas.ticket_repeated",
                               "Plusieurs tickets ont été reçus pour une même connexion.")
            rest = without_ticket(request.url.query)
            service = resource.access_url + (f"?{rest}" if rest else "")
            body = await fetch(f"{broker_cas_base(settings)}/p3/serviceValidate",
                               {"service": service, "ticket": tickets[0]})
            if hurried:  # trusts the ticket whatever the answer says, keys on cas:user
                user, attributes = naive.read_cas_answer(body, max_bytes=MAX_ANSWER)
                received, key = Received(user, attributes), user
            else:
                received = read_answer(body, max_bytes=MAX_ANSWER)
                key = received.attributes["IDO"][0]
                if settings.provider_naive != "accounts":  # that level takes any licence
                    gar_rules.check_licence(received.attributes, resource, key)
        except Refusal as exc:
            logger.info("CAS access refused: %s (%s)", exc.code, exc.detail)
            return refused(request, exc)
        account, shown = accounts.sign_in(key, received.attributes)
        return render(env, request, "cas_result.html", resource=resource,
                      rows=display.rows(shown.items()), received=received, account=account,
                      ido=received.attributes.get("IDO", [""])[0],
                      uais=shown.get("UAI", []), grain=grain, service=service)

    return router
