"""After an identity provider vouched for someone: decide, release, audit, answer downstream.

The inbound side of each protocol (SAML ACS, OIDC callback) validates the identity provider's
answer, consumes the login state and guards against replay, then calls ``complete``. What
happens next is the same for every protocol: the pipeline decides and releases in the same
transaction, the outbound side the login state names (``state.downstream``) turns the
release into its own message, and the pipeline audits last (see ``pipeline.run``). Adding a
downstream protocol adds one entry to ``outbound``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, Response

from broker import cas, console, oidc_op, pipeline, saml_idp, upstream
from broker.domain import Authentication, Refusal, Release
from broker.errors import FlowError
from broker.flow import Broker
from broker.models import LoginState
from services import web
from services.saml import build


@dataclass(frozen=True)
class Delivery:
    """Everything an outbound protocol needs to hand a release to its provider."""

    session: Session
    broker: Broker
    state: LoginState
    release: Release
    delivery_id: str  # the assertion id, the token's jti or the ticket: what the audit names
    now: datetime
    request: Request


def _saml(delivery: Delivery) -> Response:
    state = delivery.state
    assert state.sp_entity_id is not None  # checked by complete()
    return HTMLResponse(
        saml_idp.issue_response(
            delivery.broker.settings,
            delivery.broker.keypair,
            sp_entity_id=state.sp_entity_id,
            acs_url=state.acs_url,
            in_response_to=state.sp_request_id,
            relay_state=state.relay_state,
            attributes=delivery.release.attributes,
            assertion_id=delivery.delivery_id,
            now=delivery.now,
        ),
        headers=web.SECURITY_HEADERS,
    )


def outbound(protocol: str) -> Callable[[Delivery], Response] | None:
    """The outbound side of a downstream protocol.

    Looked up at call time: the CAS and OIDC modules start their flows through
    ``broker.upstream``, whose OIDC inbound side finishes here, so this module is still being
    imported when theirs are.
    """
    by_protocol: dict[str, Callable[[Delivery], Response]] = {
        "saml": _saml,
        "cas": cas.deliver_ticket,
        "oidc": oidc_op.deliver_code,
    }
    return by_protocol.get(protocol)


def complete(
    session: Session,
    broker: Broker,
    state: LoginState,
    auth: Authentication,
    now: datetime,
    request: Request,
) -> Response:
    """Finish a consumed login state for the person the identity provider authenticated."""
    upstream.check_fresh(state, auth, timedelta(seconds=broker.settings.clock_skew_seconds))
    if state.flow == "console":
        return console.finish_login(session, broker.settings, auth, state, now, request)
    if state.sp_entity_id is None or state.resource_id is None:  # a resource flow needs both
        raise FlowError("sso.state_unknown", "no resource in this login state", 400)
    deliver_to = outbound(state.downstream)
    if deliver_to is None:
        raise FlowError("sso.protocol_unsupported", state.downstream, 501)
    delivery_id = build.new_id()
    target = pipeline.Target(state.sp_entity_id, state.resource_id, state.uai, state.downstream)
    outcome = pipeline.run(
        session,
        auth,
        target,
        now=now,
        ido_secret=broker.ido_secret,
        ido_scope=broker.settings.ido_scope,
        assertion_id=delivery_id,
        deliver=lambda granted: deliver_to(
            Delivery(session, broker, state, granted.release, delivery_id, now, request)
        ),
    )
    if isinstance(outcome, Refusal):
        return refusal_page(request, outcome)
    return outcome


def refusal_page(request: Request, refusal: Refusal) -> Response:
    return web.error_page(
        request, 403, refusal.code, "Accès à la ressource refusé", refusal.reason, refusal.action
    )
