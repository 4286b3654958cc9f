"""The assignment console as a JSON API, under ``/console/api`` (the pages' actions, scriptable).

Authentication is the console's session cookie (``gar_console``, obtained by signing in to
``/console/`` through single sign-on). ``GET /console/api/session`` returns the session's CSRF
token; every call that changes something must send it back in the ``X-CSRF-Token`` header and
a JSON body (``Content-Type: application/json``). Errors are ``application/problem+json``
(RFC 9457) with a stable ``code``; a refused change writes nothing.

- ``GET /session``: ``{person, csrf_token, establishments: [{uai, name, role}]}``
- ``GET /etablissements/{uai}/abonnements``: the subscriptions, each with ``counters``
  (``[{audience, used, left}]``, ``left`` null when unlimited)
- ``GET /etablissements/{uai}/affectations?abonnement=ID``: the subscription's assignments
- ``POST /etablissements/{uai}/affectations`` ``{subscription_id, target_kind, target_value}``
  (``target_kind``: ``person`` | ``division`` | ``group`` | ``profile``): 201, the assignment
- ``DELETE /etablissements/{uai}/affectations/{id}``: 204
- ``POST /etablissements/{uai}/delegations`` ``{person_id}``: 204 (RA only)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse, Response

from broker import console_actions, console_data, console_session
from broker.console_access import ConsoleError, Officer, current
from services import web

router = APIRouter(prefix="/api")

MAX_BODY_BYTES = 16 * 1024
PROBLEM = "application/problem+json"


def problem(error: ConsoleError) -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "title": error.title, "status": error.status, "code": error.code,
         "detail": error.detail or error.reason},
        status_code=error.status, media_type=PROBLEM, headers=dict(web.SECURITY_HEADERS),
    )


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers=dict(web.SECURITY_HEADERS))


def _call(
    request: Request,
    step: Callable[[Session, Officer, datetime], Response],
    *,
    csrf: bool = False,
) -> Response:
    """One API call in one transaction, for a signed-in officer (and a CSRF token if asked)."""
    now = datetime.now(UTC)
    with request.app.state.broker.sessions() as session:
        try:
            officer = current(session, request.cookies.get(console_session.COOKIE), now)
            if officer is None:
                raise ConsoleError("console.not_logged_in", 401)
            if csrf:
                officer.check_csrf(request.headers.get(console_session.CSRF_HEADER))
            response = step(session, officer, now)
        except ConsoleError as error:
            session.rollback()
            return problem(error)
        session.commit()
        return response


async def _body(request: Request) -> dict[str, Any]:
    """The JSON object of a change; ConsoleError for anything else (never a partial read)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise ConsoleError("console.bad_request", 415, "Content-Type must be application/json")
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise ConsoleError("console.bad_request", 413, "body too large")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ConsoleError("console.bad_request", 400, "body is not JSON") from None
    if not isinstance(data, dict):
        raise ConsoleError("console.bad_request", 400, "body must be a JSON object")
    return data


async def _change(
    request: Request, step: Callable[[Session, Officer, datetime, dict[str, Any]], Response]
) -> Response:
    try:
        data = await _body(request)
    except ConsoleError as error:
        return problem(error)
    return await run_in_threadpool(
        _call, request, lambda s, o, now: step(s, o, now, data), csrf=True)


def _subscription_json(view: console_data.SubscriptionView) -> dict[str, Any]:
    return {
        "id": view.id,
        "resource_id": view.resource_id,
        "resource_title": view.resource_title,
        "start_at": view.start_at.isoformat(),
        "end_at": view.end_at.isoformat(),
        "type": view.type,
        "category": view.category,
        "audience": list(view.audience),
        "counters": [{"audience": c.audience, "used": c.used, "left": c.left}
                     for c in view.counters],
    }


def _assignment_json(view: console_data.AssignmentView) -> dict[str, Any]:
    return {"id": view.id, "target_kind": view.target_kind, "target_value": view.target_value,
            "target_label": view.target_label, "created_at": view.created_at.isoformat()}


@router.get("/session")
def who(request: Request) -> Response:
    def step(session: Session, officer: Officer, now: datetime) -> Response:
        return _json({
            "person": officer.name,
            "csrf_token": officer.csrf_token,
            "establishments": [
                {"uai": uai, "name": console_data.establishment_name(session, uai), "role": role}
                for uai, role in sorted(officer.establishments.items())
            ],
        })

    return _call(request, step)


@router.get("/etablissements/{uai}/abonnements")
def list_subscriptions(request: Request, uai: str) -> Response:
    def step(session: Session, officer: Officer, now: datetime) -> Response:
        officer.role_in(uai)
        return _json([_subscription_json(v) for v in console_data.subscriptions(session, uai)])

    return _call(request, step)


@router.get("/etablissements/{uai}/affectations")
def list_assignments(request: Request, uai: str, abonnement: str = "") -> Response:
    def step(session: Session, officer: Officer, now: datetime) -> Response:
        officer.role_in(uai)
        found = console_data.subscription(session, uai, abonnement)
        if found is None:
            if console_data.subscription_uai(session, abonnement) is not None:
                raise ConsoleError("console.establishment_forbidden", 403, abonnement[:64])
            raise ConsoleError("console.subscription_unknown", 404, abonnement[:64])
        return _json([_assignment_json(a)
                      for a in console_data.assignments(session, uai, found.id)])

    return _call(request, step)


@router.post("/etablissements/{uai}/affectations")
async def create_assignment(request: Request, uai: str) -> Response:
    def step(session: Session, officer: Officer, now: datetime, data: dict[str, Any]) -> Response:
        made = console_actions.assign(
            session, officer, uai, subscription_id=data.get("subscription_id"),
            target_kind=data.get("target_kind"), target_value=data.get("target_value"), now=now)
        session.flush()
        return _json({"id": made.id, "subscription_id": made.subscription_id,
                      "target_kind": made.target_kind, "target_value": made.target_value},
                     status=201)

    return await _change(request, step)


@router.delete("/etablissements/{uai}/affectations/{assignment_id}")
def delete_assignment(request: Request, uai: str, assignment_id: int) -> Response:
    def step(session: Session, officer: Officer, now: datetime) -> Response:
        console_actions.withdraw(session, officer, uai, assignment_id, now=now)
        return Response(status_code=204, headers=dict(web.SECURITY_HEADERS))

    return _call(request, step, csrf=True)


@router.post("/etablissements/{uai}/affectations/{assignment_id}/actualisation")
def refresh_assignment(request: Request, uai: str, assignment_id: int) -> Response:
    def step(session: Session, officer: Officer, now: datetime) -> Response:
        subscription_id, given = console_actions.refresh(session, officer, uai, assignment_id,
                                                         now=now)
        return _json({"subscription_id": subscription_id, "licences_given": given})

    return _call(request, step, csrf=True)


@router.post("/etablissements/{uai}/recuperations")
async def recover_licences(request: Request, uai: str) -> Response:
    def step(session: Session, officer: Officer, now: datetime, data: dict[str, Any]) -> Response:
        subscription_id, taken = console_actions.recover(
            session, officer, uai, subscription_id=data.get("subscription_id"), now=now)
        return _json({"subscription_id": subscription_id, "licences_recovered": taken})

    return await _change(request, step)


@router.post("/etablissements/{uai}/delegations")
async def create_delegation(request: Request, uai: str) -> Response:
    def step(session: Session, officer: Officer, now: datetime, data: dict[str, Any]) -> Response:
        console_actions.delegate(session, officer, uai, person_id=data.get("person_id"))
        return Response(status_code=204, headers=dict(web.SECURITY_HEADERS))

    return await _change(request, step)
