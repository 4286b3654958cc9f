"""The audit trail for people and machines, under ``/audit``: pages, exports, JSON.

Pages (French, server-rendered, no script) need an audit session; the same data is served
under ``/audit/api`` to a bearer token or to that session, as JSON, CSV or JSON Lines, with
``application/problem+json`` errors. Every request resolves the reader's scope afresh
(:mod:`broker.audit_access`) and every query applies it (:mod:`broker.audit_scope`).
``/console/audit`` is the officers' door: their console session opens an audit session.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from broker import (
    audit_access,
    audit_linkability,
    audit_query,
    audit_register,
    audit_report,
    audit_stats,
)
from broker.audit_access import Reader
from broker.audit_scope import DECISIONS, AuditError, Filters, Period
from broker.flow import Broker
from services import web
from services.attributes import CATALOGUE

router = APIRouter(prefix="/audit")
console_door = APIRouter(prefix="/console")
HOME = "/audit/"
SIGN_IN = "/audit/connexion"
_templates = web.make_environment("broker")
_templates.filters["date_fr"] = lambda value: value.strftime("%d/%m/%Y")

#: Stable codes with a French title and reason.
MESSAGES: dict[str, tuple[str, str]] = {
    "audit.auth_required": ("Authentification requise",
                            "Connectez-vous avec un jeton d'auditeur ou de fournisseur, ou "
                            "depuis la console d'affectation."),
    "audit.auth_invalid": ("Authentification refusée",
                           "Le jeton présenté n'est ni celui d'un auditeur ni celui d'un "
                           "fournisseur."),
    "audit.forbidden": ("Accès refusé", "Votre rôle ne donne pas accès à cette vue du journal."),
    "audit.out_of_scope": ("Hors de votre périmètre",
                           "Le filtre demandé désigne un établissement ou une ressource dont "
                           "vous ne pouvez pas consulter les données."),
    "audit.bad_filter": ("Filtre invalide",
                         "Un filtre (dates AAAA-MM-JJ, UAI, décision, page) est mal formé."),
    "audit.csrf": ("Requête refusée",
                   "Le jeton de sécurité du formulaire est absent ou invalide."),
}
_ACTION = "Revenez à l'accueil du journal d'audit et recommencez."
_MAX_FILTER = 1024


# --- plumbing ------------------------------------------------------------------------------


def _message(error: AuditError) -> tuple[str, str]:
    return MESSAGES.get(error.code, ("Erreur", "La demande n'a pas pu aboutir."))


def _problem(error: AuditError) -> Response:
    title, reason = _message(error)
    headers = {"WWW-Authenticate": 'Bearer realm="gar-testbed"'} if error.status == 401 else None
    return web.problem(error.status, error.code, title, reason, headers=headers)


def _error_page(request: Request, error: AuditError) -> Response:
    title, reason = _message(error)
    return web.error_page(request, error.status, error.code, title, reason, _ACTION,
                          detail=error.detail or None)


def _text(request: Request, name: str) -> str | None:
    value = request.query_params.get(name, "").strip()
    if len(value) > _MAX_FILTER:
        raise AuditError("audit.bad_filter", 400, name)
    return value or None


def _day(request: Request, name: str) -> date | None:
    value = _text(request, name)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise AuditError("audit.bad_filter", 400, name) from None


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    value = _text(request, name)
    if value is None:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise AuditError("audit.bad_filter", 400, name)
    return int(value)


def filters_of(request: Request, now: datetime) -> Filters:
    try:
        period = Period.of(_day(request, "from"), _day(request, "to"), today=now.date())
    except ValueError as error:
        raise AuditError("audit.bad_filter", 400, str(error)) from None
    return Filters(period, provider=_text(request, "provider"),
                   resource=_text(request, "resource"), uai=_text(request, "uai"),
                   decision=_text(request, "decision"))


@contextlib.contextmanager
def _reading(broker: Broker, primary: Session, writes: bool) -> Iterator[Session]:
    """The session a view reads the trail with: the read replica when one is configured.

    The caller was authenticated on the primary (an audit session opened a moment ago may not
    have reached the replica yet); that connection is given back before the replica's is
    taken. A view that writes (signing out) stays on the primary.
    """
    if writes or broker.read_sessions is None:
        yield primary
        return
    primary.close()
    with broker.read_sessions() as replica:
        yield replica


def _api(request: Request, build: Callable[[Session, Reader, datetime], Response]) -> Response:
    """A data request: bearer token or audit session; problem+json on any refusal."""
    now = datetime.now(UTC)
    broker = request.app.state.broker
    with broker.sessions() as session:
        try:
            reader = audit_access.reader(session, request, now)
            with _reading(broker, session, writes=False) as reading:
                return build(reading, reader, now)
        except AuditError as error:
            return _problem(error)
        except ValueError:
            return _problem(AuditError("audit.bad_filter", 400))


def _page(request: Request, build: Callable[[Session, Reader, datetime], Response], *,
          writes: bool = False) -> Response:
    """A page: an audit session, or the sign-in page; a French page on any refusal."""
    now = datetime.now(UTC)
    broker = request.app.state.broker
    with broker.sessions() as session:
        try:
            reader = audit_access.from_cookie(session, request, now)
            if reader is None:
                return _see_other(SIGN_IN)
            with _reading(broker, session, writes) as reading:
                return build(reading, reader, now)
        except AuditError as error:
            return _error_page(request, error)


def _see_other(url: str) -> Response:
    response = RedirectResponse(url, status_code=303)
    response.headers.update(web.SECURITY_HEADERS)
    return response


def _render(request: Request, template: str, reader: Reader, **context: Any) -> Response:
    return web.render(_templates, request, template, reader=reader, **context)


def _query(request: Request, **changes: Any) -> str:
    """The current filters as a query string, with ``changes`` (for paging and exports)."""
    params = {k: v for k, v in request.query_params.items() if v}
    params.update({k: str(v) for k, v in changes.items() if v is not None})
    return urlencode(sorted(params.items()))


def _stream(rows: Iterator[bytes], media_type: str, filename: str) -> Response:
    headers = dict(web.SECURITY_HEADERS)
    headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return StreamingResponse(rows, media_type=media_type, headers=headers)


def _json(value: Any) -> Response:
    return JSONResponse(value, headers=dict(web.SECURITY_HEADERS))


# --- sign-in -------------------------------------------------------------------------------


@router.get("/connexion")
def sign_in_form(request: Request) -> Response:
    return web.render(_templates, request, "audit_sign_in.html", refused=False)


@router.post("/connexion")
def sign_in(request: Request, token: str = Form("")) -> Response:
    now = datetime.now(UTC)
    with request.app.state.broker.sessions() as session:
        client = audit_access.client_for_token(session, token)
        if client is None:
            return web.render(_templates, request, "audit_sign_in.html", status=401, refused=True)
        cookie = audit_access.open_session(session, now=now, client_id=client.id)
        session.commit()
    response = _see_other(HOME)
    audit_access.set_cookie(response, cookie, request.app.state.broker.settings)
    return response


@router.post("/deconnexion")
def sign_out(request: Request, csrf_token: str = Form("")) -> Response:
    def build(session: Session, reader: Reader, now: datetime) -> Response:
        audit_access.check_csrf(reader, csrf_token)
        audit_access.close_session(session, request.cookies.get(audit_access.COOKIE))
        session.commit()
        response = _see_other(SIGN_IN)
        audit_access.clear_cookie(response, request.app.state.broker.settings)
        return response

    return _page(request, build, writes=True)


@console_door.get("/audit")
def officer_door(request: Request) -> Response:
    """An officer signed in to the console gets an audit session for their establishments."""
    from broker.console import _page as console_page  # the console's sign-in and refusals
    from broker.console_access import Officer

    def build(session: Session, officer: Officer, now: datetime) -> Response:
        cookie = audit_access.open_session(session, now=now, person_pk=officer.person_pk)
        response = _see_other(HOME)
        audit_access.set_cookie(response, cookie, request.app.state.broker.settings)
        return response

    return console_page(request, build)


# --- pages ---------------------------------------------------------------------------------


@router.get("/")
def journal_page(request: Request) -> Response:
    def build(session: Session, reader: Reader, now: datetime) -> Response:
        filters = filters_of(request, now)
        number = _int(request, "page", 1, 1, 1_000_000)
        found = audit_query.page(session, reader.scope, filters, number=number, per_page=50)
        return _render(request, "audit_journal.html", reader, filters=filters, found=found,
                       decisions=DECISIONS, export=_query(request, page=None),
                       page_url=lambda n: "?" + _query(request, page=n))

    return _page(request, build)


@router.get("/statistiques")
def statistics_page(request: Request) -> Response:
    def build(session: Session, reader: Reader, now: datetime) -> Response:
        filters = filters_of(request, now)
        stats = _statistics(request, session, reader, filters)
        chart = audit_stats.bar_chart(stats.days_shown(), title="Accès accordés par jour",
                                      table_id="by-day", min_count=stats.min_count)
        return _render(request, "audit_statistics.html", reader, filters=filters, stats=stats,
                       chart=chart, export=_query(request))

    return _page(request, build)


def _statistics(request: Request, session: Session, reader: Reader,
                filters: Filters) -> audit_stats.Statistics:
    return audit_stats.statistics(
        session, reader.scope, filters,
        min_count=request.app.state.broker.settings.audit_stats_min_count)


@router.get("/flux")
def flows_page(request: Request) -> Response:
    def build(session: Session, reader: Reader, now: datetime) -> Response:
        filters = filters_of(request, now)
        flows = audit_report.data_flows(session, reader.scope, filters.period,
                                        resource=filters.resource, now=now)
        return _render(request, "audit_flows.html", reader, flows=flows, filters=filters,
                       reasons=audit_report.REASONS, catalogue=CATALOGUE, export=_query(request))

    return _page(request, build)


@router.get("/registre")
def register_page(request: Request) -> Response:
    def build(session: Session, reader: Reader, now: datetime) -> Response:
        filters = filters_of(request, now)
        settings = request.app.state.broker.settings
        flows = audit_report.data_flows(session, reader.scope, filters.period, now=now)
        entries = audit_register.register(flows, retention_days=settings.audit_retention_days)
        return _render(request, "audit_register.html", reader, entries=entries)

    return _page(request, build)


@router.get("/liaison")
def linkability_page(request: Request) -> Response:
    def build(session: Session, reader: Reader, now: datetime) -> Response:
        broker = request.app.state.broker
        result = audit_linkability.check(session, reader.scope, ido_secret=broker.ido_secret,
                                         ido_scope=broker.settings.ido_scope,
                                         period=filters_of(request, now).period)
        return _render(request, "audit_linkability.html", reader, result=result)

    return _page(request, build)


# --- data: JSON, CSV, JSON Lines, the report file --------------------------------------------


@router.get("/api/records")
def records(request: Request) -> Response:
    def build(session: Session, reader: Reader, now: datetime) -> Response:
        filters = filters_of(request, now)
        number = _int(request, "page", 1, 1, 1_000_000)
        per_page = _int(request, "per_page", 100, 1, audit_query.MAX_PER_PAGE)
        found = audit_query.page(session, reader.scope, filters, number=number,
                                 per_page=per_page)
        return _json({"items": found.items, "total": found.total, "page": found.page,
                      "per_page": found.per_page, "pages": found.pages})

    return _api(request, build)


def _export(request: Request, build_rows: Callable[[Iterator[dict[str, Any]]], Iterator[bytes]],
            media_type: str, filename: str) -> Response:
    def build(session: Session, reader: Reader, now: datetime) -> Response:
        rows = audit_query.stream(request.app.state.broker.report_sessions(), reader.scope,
                                  filters_of(request, now))
        return _stream(build_rows(rows), media_type, filename)

    return _api(request, build)


@router.get("/api/records.csv")
def records_csv(request: Request) -> Response:
    return _export(request, lambda rows: audit_query.csv_lines(audit_query.COLUMNS, rows),
                   "text/csv; charset=utf-8", "journal-audit.csv")


@router.get("/api/records.jsonl")
def records_jsonl(request: Request) -> Response:
    return _export(request, audit_query.jsonl, "application/jsonl", "journal-audit.jsonl")


@router.get("/api/statistics")
def statistics_json(request: Request) -> Response:
    def build(session: Session, reader: Reader, now: datetime) -> Response:
        return _json(_statistics(request, session, reader, filters_of(request, now)).as_json())

    return _api(request, build)


@router.get("/api/statistics.csv")
def statistics_csv(request: Request) -> Response:
    def build(session: Session, reader: Reader, now: datetime) -> Response:
        stats = _statistics(request, session, reader, filters_of(request, now))
        return _stream(audit_query.csv_lines(audit_stats.CSV_HEADER, stats.rows()),
                       "text/csv; charset=utf-8", "statistiques-acces.csv")

    return _api(request, build)


@router.get("/api/flows")
def flows_json(request: Request) -> Response:
    def build(session: Session, reader: Reader, now: datetime) -> Response:
        filters = filters_of(request, now)
        flows = audit_report.data_flows(session, reader.scope, filters.period,
                                        resource=filters.resource, now=now)
        return _json(flows.as_json())

    return _api(request, build)


@router.get("/api/flows.html")
def flows_file(request: Request) -> Response:
    def build(session: Session, reader: Reader, now: datetime) -> Response:
        filters = filters_of(request, now)
        flows = audit_report.data_flows(session, reader.scope, filters.period,
                                        resource=filters.resource, now=now)
        html = audit_report.standalone_html(flows, request.app.state.broker.settings)
        headers = dict(web.SECURITY_HEADERS)
        headers["Content-Disposition"] = (
            f'attachment; filename="rapport-flux-{filters.period.start}-{filters.period.end}.html"')
        return Response(html, media_type="text/html; charset=utf-8", headers=headers)

    return _api(request, build)


@router.get("/api/register")
def register_json(request: Request) -> Response:
    def build(session: Session, reader: Reader, now: datetime) -> Response:
        filters = filters_of(request, now)
        flows = audit_report.data_flows(session, reader.scope, filters.period, now=now)
        settings = request.app.state.broker.settings
        entries = audit_register.register(flows, retention_days=settings.audit_retention_days)
        return _json(audit_register.as_json(entries))

    return _api(request, build)


@router.get("/api/linkability")
def linkability_json(request: Request) -> Response:
    def build(session: Session, reader: Reader, now: datetime) -> Response:
        broker = request.app.state.broker
        result = audit_linkability.check(session, reader.scope, ido_secret=broker.ido_secret,
                                         ido_scope=broker.settings.ido_scope,
                                         period=filters_of(request, now).period)
        return _json(result.as_json())

    return _api(request, build)
