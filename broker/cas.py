"""The broker as a CAS 3.0 server toward publishers (GAR_REFERENCE §4b).

``/cas/login?service=`` opens a login state bound to a registered CAS service and sends the
person to their identity provider; after the pipeline (same decision, release, IDO and audit
as SAML), ``deliver_ticket`` issues a service ticket and redirects to ``service?ticket=``.
The publisher validates it at ``/cas/serviceValidate`` or ``/cas/p3/serviceValidate``; both
answer with the attributes (``cas:user`` is the IDO, which publishers must not rely on: the
GAR tells them to key on the ``IDO`` attribute). ``/cas/logout`` redirects only to a
registered service. Proxy tickets are not offered: ``pgtUrl`` is ignored (no
``proxyGrantingTicket`` in the answer); ``/cas/proxyValidate`` and ``/cas/p3/proxyValidate``
validate service tickets as the specification requires, and no ``PT-`` ticket ever passes.

``renew`` at login asks the identity provider for the person's credentials now (the broker
keeps no single sign-on session of its own); the ticket then records that it came from
primary credentials, which a validation with ``renew`` requires.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.datastructures import QueryParams
from starlette.responses import RedirectResponse, Response

from broker import cas_services, cas_tickets, upstream
from broker import state as login_state
from broker.cas_xml import Format, failure, media_type, success
from broker.errors import FlowError
from broker.flow import Broker, broker_of, run_step, state_lifetime
from broker.models import Resource
from services import web

if TYPE_CHECKING:
    from broker.deliver import Delivery

logger = logging.getLogger("gar_testbed.broker.cas")
router = APIRouter()
_templates = web.make_environment("broker")
_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _single(params: QueryParams, name: str) -> str | None:
    """The parameter's one value; FlowError when it is repeated (which one would we trust?)."""
    values = params.getlist(name)
    if len(values) > 1:
        raise FlowError("cas.request_invalid", f"{name} repeated")
    return values[0] if values else None


def _flag(params: QueryParams, name: str) -> bool:
    value = params.get(name)
    return value is not None and value.lower() not in ("false", "0")


# --- login --------------------------------------------------------------------------------


@router.get("/cas/login")
def login(request: Request) -> Response:
    broker = broker_of(request)
    params = request.query_params
    return run_step(request, broker, lambda s, now: start_login(s, broker, now, params))


def start_login(session: Session, broker: Broker, now: datetime, params: QueryParams) -> Response:
    service_url = _single(params, "service")
    if not service_url:
        raise FlowError("cas.service_missing", "", 400)
    service = cas_services.find(session, service_url)
    # gateway: never ask for credentials. The broker keeps no single sign-on session, and the
    # identity provider may be interactive, so the answer is the service without a ticket.
    renew = _flag(params, "renew")
    if _flag(params, "gateway") and not renew:  # renew wins over gateway (§2.1.1)
        return RedirectResponse(service.url, status_code=303, headers=_NO_STORE)
    return _open(session, broker, now, service, flow="sp", uai=None, renew=renew)


def start_from_mediacentre(
    session: Session, broker: Broker, now: datetime, resource: Resource, provider_entity_id: str,
    uai: str,
) -> Response:
    """The mediacentre's tile for a CAS resource: log in, then hand a ticket to its access URL.

    The broker starts the CAS login itself with ``access URL?sso_id=GAR`` as the service, so
    the establishment the person chose in the mediacentre scopes the release, as for SAML.
    """
    url = cas_services.checked_url(cas_services.service_for_access(resource.access_url))
    service = cas_services.Service(url, resource.id, provider_entity_id)
    return _open(session, broker, now, service, flow="mediacentre", uai=uai)


def _open(
    session: Session, broker: Broker, now: datetime, service: cas_services.Service, *,
    flow: str, uai: str | None, renew: bool = False,
) -> Response:
    state = login_state.open_state(
        flow=flow,
        now=now,
        lifetime=state_lifetime(broker.settings),
        acs_url=service.url,
        sp_entity_id=service.provider_entity_id,
        sp_request_id=None,
        relay_state=None,
        resource_id=service.resource_id,
        uai=uai,
        downstream="cas",
        downstream_params={"service": service.url, **({upstream.FRESH_LOGIN: True} if renew
                                                       else {})},
    )
    return upstream.to_identity_provider(session, broker, state, now)


def deliver_ticket(delivery: Delivery) -> Response:
    """Outbound CAS: a ticket for the released attributes, bound to the exact service URL."""
    state = delivery.state
    assert state.sp_entity_id is not None and state.resource_id is not None  # complete() checked
    ido = delivery.release.attributes.get("IDO", ())
    if len(ido) != 1:
        raise FlowError("cas.no_identifier", state.resource_id, 500)
    ticket = cas_tickets.issue(
        delivery.session,
        service=state.acs_url,
        provider_entity_id=state.sp_entity_id,
        resource_id=state.resource_id,
        delivery_id=delivery.delivery_id,
        user=ido[0],
        attributes=delivery.release.attributes,
        now=delivery.now,
        lifetime=timedelta(seconds=delivery.broker.settings.cas_ticket_lifetime_seconds),
        # deliver.complete refused the login unless the provider proved a fresh authentication
        primary_credentials=upstream.fresh_login_required(state),
    )
    return RedirectResponse(
        cas_services.with_ticket(state.acs_url, ticket), status_code=303, headers=_NO_STORE
    )


# --- validation ---------------------------------------------------------------------------


@router.get("/cas/serviceValidate")
@router.get("/cas/p3/serviceValidate")
def service_validate(request: Request) -> Response:
    return validate(broker_of(request), request.query_params)


@router.get("/cas/proxyValidate")
@router.get("/cas/p3/proxyValidate")
def proxy_validate(request: Request) -> Response:
    """Service tickets, as at serviceValidate (§2.6); the broker issues no proxy ticket."""
    return validate(broker_of(request), request.query_params, proxy_endpoint=True)


def validate(broker: Broker, params: QueryParams, *, proxy_endpoint: bool = False) -> Response:
    """Answer a publisher's validation, always consuming the ticket it presented."""
    raw_format = params.get("format")
    fmt = Format.JSON if raw_format is not None and raw_format.upper() == "JSON" else Format.XML
    if raw_format is not None and raw_format.upper() not in ("XML", "JSON"):
        return _answer(failure("INVALID_REQUEST", f"format {raw_format[:20]!r} is not supported"
                                                  " (XML or JSON)", fmt), fmt)
    tickets, services = params.getlist("ticket"), params.getlist("service")
    if len(tickets) != 1 or len(services) != 1 or not tickets[0] or not services[0]:
        return _answer(failure("INVALID_REQUEST",
                               "'ticket' and 'service' parameters are both required, once", fmt),
                       fmt)
    now = datetime.now(UTC)
    try:
        with broker.sessions() as session:
            outcome = cas_tickets.validate(session, tickets[0], services[0], now,
                                           renew=_flag(params, "renew"),
                                           proxy_endpoint=proxy_endpoint)
            session.commit()  # a refused ticket is consumed all the same
    except SQLAlchemyError:
        logger.exception("CAS ticket validation failed")
        return _answer(failure("INTERNAL_ERROR", "the ticket could not be validated", fmt), fmt,
                       status=500)
    if isinstance(outcome, cas_tickets.Refused):
        return _answer(failure(outcome.code.value, outcome.description, fmt), fmt)
    return _answer(success(outcome.user, outcome.attributes, fmt), fmt)


def _answer(body: bytes, fmt: Format, *, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type=media_type(fmt), headers=_NO_STORE)


# --- logout -------------------------------------------------------------------------------


@router.get("/cas/logout")
def logout(request: Request) -> Response:
    """The broker keeps no CAS session; redirect to ``service`` only when it is registered."""
    broker = broker_of(request)
    service_url = request.query_params.get("service")
    refused: str | None = None
    if service_url:
        try:
            with broker.sessions() as session:
                service = cas_services.find(session, service_url)
            return RedirectResponse(service.url, status_code=303, headers=_NO_STORE)
        except FlowError as error:
            refused = error.code
    return web.render(_templates, request, "cas_logout.html", refused=refused)
