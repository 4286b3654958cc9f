"""The mediacentre page, as an ENT would show it, and the thumbnails its tiles use.

``GET /mediacentre`` is an ENT *simulator*: the person is named by ``idUser`` (their
``GARPersonIdentifiant``), exactly as the list API names them, and is not logged in. The
tiles are the very list the API returns (same function, same ``urlAccesRessource``), so a
click goes through ``domaineGar``: the broker then authenticates the person at their
identity provider before anything reaches the resource. Filters by level and subject are a
plain GET form, applied on the server.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException
from starlette.responses import Response

from broker import mediacentre_list, mediacentre_wire, thumbnails
from broker.directory import load_person
from broker.domain import PersonView
from broker.mediacentre_list import Openable
from broker.models import Establishment, Person, Resource
from services import dataset, web
from services.scolomfr import LEVELS, SUBJECTS, Term

router = APIRouter()
_templates = web.make_environment("broker")
_MAX_PARAM = 64
#: The page shows thumbnails a real catalogue may host elsewhere (https only).
_PAGE_HEADERS = {
    "Content-Security-Policy": web.SECURITY_HEADERS["Content-Security-Policy"].replace(
        "img-src 'self' data:", "img-src 'self' data: https:")
}


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@lru_cache(maxsize=4)
def _personas(provider_base: str) -> tuple[Choice, ...]:
    """The synthetic academy's test personas, offered first in the person picker."""
    academy = dataset.build(provider_base=provider_base)
    return tuple(Choice(p.person_id, f"{p.persona} ({p.login})")
                 for p in academy.personas() if p.persona)


def _param(request: Request, name: str) -> str:
    value = request.query_params.get(name, "").strip()
    return value if len(value) <= _MAX_PARAM and value.isprintable() else ""


def _find_person(session: Session, person_id: str) -> PersonView | None:
    pk = session.scalar(select(Person.id).where(Person.person_id == person_id).limit(1))
    return None if pk is None else load_person(session, pk)


def _options(items: Iterable[Openable], field: str, vocabulary: dict[str, Term]) -> list[Term]:
    """The terms of ``field`` the listed resources carry, in vocabulary order."""
    present = {term.id: term for item in items for term in getattr(item, field)}
    order = list(vocabulary)
    return sorted(present.values(),
                  key=lambda t: (order.index(t.id) if t.id in order else len(order), t.label))


@router.get("/mediacentre")
def page(request: Request) -> Response:
    broker = request.app.state.broker
    settings = broker.settings
    person_id = _param(request, "autreIdUser") or _param(request, "idUser")
    wanted_uai, level, subject = (_param(request, n) for n in ("uai", "niveau", "domaine"))
    if _param(request, "vu") != person_id:  # another person chosen: their first establishment
        wanted_uai, level, subject = "", "", ""
    context: dict[str, Any] = {
        "person_id": person_id, "person": None, "uai": "", "establishments": [],
        "level": level, "subject": subject, "levels": [], "subjects": [], "tiles": [],
        "total": 0, "problem": None,
    }
    with broker.sessions() as session:
        known = set(session.scalars(select(Person.person_id).where(
            Person.person_id.in_([c.value for c in _personas(settings.provider_base)]))))
        context["personas"] = [c for c in _personas(settings.provider_base) if c.value in known]
        person = _find_person(session, person_id) if person_id else None
        if person_id and person is None:
            context["problem"] = "Aucune personne de l'annuaire n'a cet identifiant (idUser)."
        if person is not None:
            context["person"] = person
            names = {uai: name for uai, name in session.execute(
                select(Establishment.uai, Establishment.name)
                .where(Establishment.uai.in_(person.establishments)))}
            context["establishments"] = [Choice(u, f"{names.get(u, u)} ({u})")
                                         for u in person.establishments]
            uai = wanted_uai or (person.establishments[0] if person.establishments else "")
            if uai and uai not in person.profiles:
                context["problem"] = "Cette personne n'est pas rattachée à cet établissement."
            elif uai:
                context["uai"] = uai
                items = mediacentre_list.openable(
                    session, person, uai, today=datetime.now(UTC).date())
                context["levels"] = _options(items, "levels", dict(LEVELS))
                context["subjects"] = _options(items, "subjects", dict(SUBJECTS))
                shown = [i for i in items
                         if (not level or any(t.id == level for t in i.levels))
                         and (not subject or any(t.id == subject for t in i.subjects))]
                context["total"] = len(items)
                context["tiles"] = [
                    mediacentre_wire.ressource(i, broker_base=settings.broker_base,
                                               ent_id=person.ent_id, uai=uai)
                    for i in shown
                ]
    return web.render(_templates, request, "mediacentre.html", headers=_PAGE_HEADERS, **context)


@router.get("/vignettes/{name}.svg")
def thumbnail(request: Request, name: str) -> Response:
    """The thumbnail of the resource whose ``thumbnail_url`` is this path (or a generic one)."""
    path = f"/vignettes/{name}.svg"
    if len(name) > 128:
        raise HTTPException(404)
    with request.app.state.broker.sessions() as session:
        found = session.execute(
            select(Resource.title, Resource.presentation)
            .where(Resource.thumbnail_url == path).limit(1)).first()
    if found is None:
        if path != mediacentre_wire.DEFAULT_THUMBNAIL:
            raise HTTPException(404)
        title, presentation = "Ressource", None
    else:
        title, presentation = found
    return Response(thumbnails.svg(title, presentation), media_type=thumbnails.SVG_TYPE,
                    headers=thumbnails.SVG_HEADERS)
