"""The mediacentre's machine interface, ENT → broker (GAR_REFERENCE §2), and its page.

- ``GET /ressources/{idENT}/{UAI}/{idUser}`` (also spelt ``/resources/...``): what the person
  may open today in that establishment, as the ``listeRessources`` JSON, gzip when accepted.
  Only an ENT client whose ``ident`` is that ``idENT`` may ask (bearer token or client
  certificate, ``broker.api_auth``); another ENT's client gets a 403 ``Erreur``.
- ``GET /ressourcesDiffusables``: the catalogue as the "ressources diffusables" XML, for an
  ENT client (everything) or a distributor client (what it distributes). The real GAR's
  path for this list is not public; this one is the testbed's choice.

The page (``/mediacentre``, thumbnails) lives in ``broker.mediacentre_page`` and is mounted
by this router, so the app includes one router for the whole mediacentre.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from broker import diffusables, mediacentre_list, mediacentre_page, mediacentre_wire
from broker.api_auth import ApiClient, authenticate, client_dependency, require_client

router = APIRouter()
router.include_router(mediacentre_page.router)

_ent_client = client_dependency("ent")
_LIMITS = {"idENT": 64, "UAI": 45, "idUser": 64}


def _ent_or_distributor(request: Request) -> ApiClient:
    """The calling ENT or distributor; otherwise the ENT dependency's own 401 problem."""
    with request.app.state.broker.sessions() as session:
        for kind in ("ent", "distributor"):
            client = authenticate(session, request, kind)
            if client is not None:
                return client
    return _ent_client(request)


def _well_formed(**values: str) -> bool:
    return all(value and len(value) <= _LIMITS[name] and value.isprintable()
               and value.strip() == value for name, value in values.items())


@router.get("/ressources/{id_ent}/{uai}/{id_user}")
@router.get("/resources/{id_ent}/{uai}/{id_user}")
def list_resources(request: Request, id_ent: str, uai: str, id_user: str) -> Response:
    """The person's list in one establishment, or the GAR's ``Erreur`` body.

    The caller is authenticated in the list's own session, not by a dependency with a session
    of its own: the ENTs ask for this list on every portal page, and one connection checkout
    per request is cheaper than two (bench/README.md, mediacentre list).
    """
    where = request.url.path.lstrip("/")
    broker = request.app.state.broker
    today = datetime.now(UTC).date()
    with broker.sessions() as session:
        client = require_client(session, request, "ent")
        if not _well_formed(idENT=id_ent, UAI=uai, idUser=id_user):
            return mediacentre_wire.erreur("mediacentre.bad_path", where[:300])
        if client.ident != id_ent:
            return mediacentre_wire.erreur("mediacentre.other_ent", where)
        try:
            person = mediacentre_list.find(session, id_ent, uai, id_user)
        except mediacentre_list.NotListable as refused:
            return mediacentre_wire.erreur(refused.code, where)
        items = mediacentre_list.openable(session, person, uai, today=today)
    body = mediacentre_wire.liste(
        items, broker_base=broker.settings.broker_base, ent_id=id_ent, uai=uai)
    gzipped = mediacentre_wire.accepts_gzip(request.headers.get("accept-encoding"))
    return mediacentre_wire.json_response(body, gzipped=gzipped)


@router.get("/ressourcesDiffusables")
def list_diffusables(
    request: Request, client: Annotated[ApiClient, Depends(_ent_or_distributor)]
) -> Response:
    """The catalogue an establishment may subscribe to, as the GAR publishes it (XML)."""
    scope = client.ident if client.kind == "distributor" else None
    with request.app.state.broker.sessions() as session:
        items = diffusables.listing(session, distributor_id=scope)
    return Response(
        diffusables.to_xml(items, generated_at=datetime.now(UTC)),
        media_type=diffusables.XML_TYPE,
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )
