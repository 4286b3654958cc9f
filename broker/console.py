"""The assignment console's pages, behind single sign-on through the broker itself.

An officer who opens ``/console/`` without a session is sent to the identity provider exactly
as a resource's visitor is (a login state with ``flow="console"``); the broker's ACS then calls
:func:`finish_login`, which opens a console session only for an assignment officer (RA) or a
delegate (RAD) of at least one establishment. Every page re-reads the officer's
establishments; every form carries the session's CSRF token; every change follows
POST-redirect-GET. The same actions are offered as JSON under ``/console/api`` (see
:mod:`broker.console_api`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from broker import (
    access,
    assignments,
    console_actions,
    console_api,
    console_data,
    console_session,
    directory,
    upstream,
)
from broker import state as login_state
from broker.console_access import ConsoleError, Officer, current
from broker.domain import Authentication
from broker.errors import FlowError
from broker.messages import message_for
from broker.models import LoginState
from services import web
from services.saml.errors import SamlError
from services.settings import Settings

router = APIRouter(prefix="/console")
router.include_router(console_api.router)

HOME = "/console/"
_templates = web.make_environment("broker")
_templates.filters["date_fr"] = lambda value: value.strftime("%d/%m/%Y")
#: Confirmations shown after a change (a fixed set: nothing from the query is echoed).
_DONE = {
    "affectation": "Les licences ont été attribuées.",
    "retrait": "L'affectation a été retirée.",
    "delegation": "Le rôle a été délégué.",
    "actualisation": "L'affectation a été étendue aux personnes arrivées depuis.",
    "recuperation": "Les licences des personnes parties de l'établissement ont été récupérées.",
}
_MAX_RETURN_PATH = 512


# --- single sign-on ------------------------------------------------------------------------


def _return_path(path: str) -> str:
    """Where to land after signing in: a console page, never anywhere else."""
    if path.startswith(HOME) and len(path) <= _MAX_RETURN_PATH and path.isprintable() \
            and "//" not in path and "\\" not in path:
        return path
    return HOME


def _start_login(session: Session, request: Request, now: datetime) -> Response:
    broker = request.app.state.broker
    state = login_state.open_state(
        flow="console",
        now=now,
        lifetime=_lifetime(broker.settings),
        acs_url="",
        sp_entity_id=None,
        sp_request_id=None,
        relay_state=_return_path(request.url.path),
        resource_id=None,
        uai=None,
    )
    return upstream.to_identity_provider(session, broker, state, now)


def _lifetime(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.login_state_lifetime_seconds)


def finish_login(
    session: Session,
    settings: Settings,
    auth: Authentication,
    state: LoginState,
    now: datetime,
    request: Request,
) -> Response:
    """The identity provider vouched for someone: open a console session if they are an officer.

    Called by the broker's ACS after the Response was validated, the login state consumed and
    the assertion recorded against replay, in the same transaction.
    """
    person = directory.find_person(session, auth)
    if person is None:
        refusal = access.refusal("access.unknown_person")
        return web.error_page(request, 403, refusal.code, "Accès à la console refusé",
                              refusal.reason, refusal.action)
    if not assignments.officer_establishments(session, person.pk):
        return _error_page(request, ConsoleError("console.not_officer", 403))
    console_session.purge_expired(session, now)  # housekeeping, on an indexed column
    opened = console_session.open_session(session, person_pk=person.pk, now=now)
    response = RedirectResponse(_return_path(state.relay_state or HOME), status_code=303)
    response.headers.update(web.SECURITY_HEADERS)
    console_session.set_cookie(response, opened, settings)
    return response


# --- plumbing ------------------------------------------------------------------------------


def _error_page(request: Request, error: ConsoleError) -> Response:
    action = ("Recommencez depuis l'accueil de la console ; si l'erreur persiste, adressez-vous "
              "à l'équipe de l'ENT.")
    return web.error_page(request, error.status, error.code, error.title, error.reason, action,
                          detail=error.detail or None)


def _run(request: Request, step: Callable[[Session, datetime], Response]) -> Response:
    """One page request in one transaction: commit on success, roll back on any refusal."""
    now = datetime.now(UTC)
    with request.app.state.broker.sessions() as session:
        try:
            response = step(session, now)
        except ConsoleError as error:
            session.rollback()
            return _error_page(request, error)
        except (SamlError, FlowError) as error:
            session.rollback()
            message = message_for(error.code)
            status = error.status if isinstance(error, FlowError) else 400
            return web.error_page(request, status, error.code, message.title, message.reason,
                                  message.action)
        session.commit()
        return response


def _page(
    request: Request, build: Callable[[Session, Officer, datetime], Response]
) -> Response:
    """A page for a signed-in officer; anyone else is sent through single sign-on."""

    def step(session: Session, now: datetime) -> Response:
        officer = current(session, request.cookies.get(console_session.COOKIE), now)
        if officer is None:
            return _start_login(session, request, now)
        return build(session, officer, now)

    return _run(request, step)


def _change(
    request: Request, csrf: str, build: Callable[[Session, Officer, datetime], Response]
) -> Response:
    """A form submission: a live session and its CSRF token, or a refusal."""

    def step(session: Session, now: datetime) -> Response:
        officer = current(session, request.cookies.get(console_session.COOKIE), now)
        if officer is None:
            raise ConsoleError("console.not_logged_in", 401)
        officer.check_csrf(csrf)
        return build(session, officer, now)

    return _run(request, step)


def _render(request: Request, template: str, officer: Officer, **context: Any) -> Response:
    done = _DONE.get(request.query_params.get("fait", ""))
    return web.render(_templates, request, template, officer=officer, done=done,
                      role_labels=console_data.ROLE_LABELS, **context)


def _establishment_url(uai: str) -> str:
    return f"{HOME}etablissements/{quote(uai, safe='')}"


def _subscription_url(uai: str, subscription_id: str) -> str:
    return f"{_establishment_url(uai)}/abonnements/{quote(subscription_id, safe='')}"


def _see_other(url: str) -> Response:
    response = RedirectResponse(url, status_code=303)
    response.headers.update(web.SECURITY_HEADERS)
    return response


# --- pages ---------------------------------------------------------------------------------


@router.get("/")
def home(request: Request) -> Response:
    def build(session: Session, officer: Officer, now: datetime) -> Response:
        places = [(uai, console_data.establishment_name(session, uai), role)
                  for uai, role in sorted(officer.establishments.items())]
        return _render(request, "console_home.html", officer, places=places,
                       establishment_url=_establishment_url)

    return _page(request, build)


@router.get("/etablissements/{uai}")
def dashboard(request: Request, uai: str) -> Response:
    def build(session: Session, officer: Officer, now: datetime) -> Response:
        role = officer.role_in(uai)
        return _render(
            request, "console_dashboard.html", officer, uai=uai, role=role,
            name=console_data.establishment_name(session, uai),
            subscriptions=console_data.subscriptions(session, uai),
            subscription_url=lambda sid: _subscription_url(uai, sid),
            establishment_url=_establishment_url(uai), now=now,
        )

    return _page(request, build)


@router.get("/etablissements/{uai}/abonnements/{subscription_id:path}")
def by_resource(request: Request, uai: str, subscription_id: str) -> Response:
    def build(session: Session, officer: Officer, now: datetime) -> Response:
        officer.role_in(uai)
        found = console_data.subscription(session, uai, subscription_id)
        if found is None:
            if console_data.subscription_uai(session, subscription_id) is not None:
                raise ConsoleError("console.establishment_forbidden", 403, subscription_id)
            raise ConsoleError("console.subscription_unknown", 404, subscription_id)
        return _render(
            request, "console_subscription.html", officer, uai=uai,
            name=console_data.establishment_name(session, uai), subscription=found,
            assignments=console_data.assignments(session, uai, found.id),
            targets=console_data.targets_of(session, uai, audience=found.audience),
            search=console_data.search_persons(
                session, uai, request.query_params.get("q", ""), audience=found.audience),
            locked=console_data.locked_licences(session, uai, found.id),
            target_labels=console_data.TARGET_LABELS,
            establishment_url=_establishment_url(uai),
        )

    return _page(request, build)


@router.post("/etablissements/{uai}/affectations")
def assign(
    request: Request, uai: str, csrf_token: str = Form(""), subscription_id: str = Form(""),
    target_kind: str = Form(""), target_value: str = Form(""),
) -> Response:
    def build(session: Session, officer: Officer, now: datetime) -> Response:
        console_actions.assign(session, officer, uai, subscription_id=subscription_id,
                               target_kind=target_kind, target_value=target_value, now=now)
        return _see_other(_subscription_url(uai, subscription_id) + "?fait=affectation")

    return _change(request, csrf_token, build)


@router.post("/etablissements/{uai}/affectations/{assignment_id}/retrait")
def withdraw(request: Request, uai: str, assignment_id: int,
             csrf_token: str = Form("")) -> Response:
    def build(session: Session, officer: Officer, now: datetime) -> Response:
        subscription_id = console_actions.withdraw(session, officer, uai, assignment_id, now=now)
        return _see_other(_subscription_url(uai, subscription_id) + "?fait=retrait")

    return _change(request, csrf_token, build)


@router.post("/etablissements/{uai}/affectations/{assignment_id}/actualisation")
def refresh(request: Request, uai: str, assignment_id: int,
            csrf_token: str = Form("")) -> Response:
    def build(session: Session, officer: Officer, now: datetime) -> Response:
        subscription_id, _ = console_actions.refresh(session, officer, uai, assignment_id,
                                                     now=now)
        return _see_other(_subscription_url(uai, subscription_id) + "?fait=actualisation")

    return _change(request, csrf_token, build)


@router.post("/etablissements/{uai}/recuperations")
def recover(request: Request, uai: str, csrf_token: str = Form(""),
            subscription_id: str = Form("")) -> Response:
    def build(session: Session, officer: Officer, now: datetime) -> Response:
        sub_id, _ = console_actions.recover(session, officer, uai,
                                            subscription_id=subscription_id, now=now)
        return _see_other(_subscription_url(uai, sub_id) + "?fait=recuperation")

    return _change(request, csrf_token, build)


@router.get("/etablissements/{uai}/delegation")
def delegation(request: Request, uai: str) -> Response:
    def build(session: Session, officer: Officer, now: datetime) -> Response:
        officer.require_ra(uai)
        return _render(
            request, "console_delegation.html", officer, uai=uai,
            name=console_data.establishment_name(session, uai),
            officers=console_data.officers(session, uai),
            staff=console_data.staff(session, uai),
            establishment_url=_establishment_url(uai),
        )

    return _page(request, build)


@router.post("/etablissements/{uai}/delegation")
def delegate(request: Request, uai: str, csrf_token: str = Form(""),
             person_id: str = Form("")) -> Response:
    def build(session: Session, officer: Officer, now: datetime) -> Response:
        console_actions.delegate(session, officer, uai, person_id=person_id)
        return _see_other(f"{_establishment_url(uai)}/delegation?fait=delegation")

    return _change(request, csrf_token, build)


@router.post("/deconnexion")
def log_out(request: Request, csrf_token: str = Form("")) -> Response:
    def build(session: Session, officer: Officer, now: datetime) -> Response:
        console_session.close(session, request.cookies.get(console_session.COOKIE))
        response = web.render(_templates, request, "console_logged_out.html", home=HOME)
        console_session.clear_cookie(response, request.app.state.broker.settings)
        return response

    return _change(request, csrf_token, build)
