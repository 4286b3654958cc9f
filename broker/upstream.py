"""Sending the person to an identity provider, whichever flow needs them authenticated.

Every flow (a provider's request in any protocol, the mediacentre, the console) opens a login
state and comes here; the identity provider's answer comes back to the inbound side of its
protocol, which hands the authenticated person to ``broker.deliver``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from broker import oidc_providers, oidc_rp, saml_sp, trust
from broker import state as login_state
from broker.errors import FlowError
from broker.flow import Broker
from broker.models import LoginState
from services import web

SERVICE_NAME = "GAR — gestionnaire d'accès aux ressources (banc d'essai)"
_templates = web.make_environment("broker")


def to_identity_provider(
    session: Session, broker: Broker, state: LoginState, now: datetime
) -> Response:
    with session.no_autoflush:  # the new login state is inserted once, complete, at commit
        idps = trust.identity_providers(session)
        ops = oidc_providers.listing(session)  # identity providers speaking OpenID Connect
    if not idps and not ops:
        raise FlowError("sso.no_identity_provider", "", 503)
    if len(idps) + len(ops) == 1:
        if ops:
            url = oidc_rp.redirect_to_op(broker.settings, ops[0], state)
        else:
            url = saml_sp.redirect_to_idp(broker.settings, broker.keypair, idps[0], state, now)
        return RedirectResponse(url, status_code=303)
    return _chooser(state, [m.entity_id for m in idps] + [op.issuer for op in ops])


def _chooser(state: LoginState, idps: list[Any]) -> Response:
    html = _templates.get_template("discovery.html").render(
        service_name=SERVICE_NAME,
        state=state.id,
        idps=idps,
    )
    response = HTMLResponse(html)
    response.headers.update(web.SECURITY_HEADERS)
    return response


def discovered(
    session: Session, broker: Broker, now: datetime, state_id: str, idp_id: str
) -> Response:
    """The person chose an identity provider on the discovery page."""
    state = login_state.pending(session, state_id, now)
    if state is None or state.upstream_request_id is not None:
        raise FlowError("sso.state_unknown", "", 400)
    idp = trust.find_idp(session, idp_id)
    if idp is None:
        op = oidc_providers.find(session, idp_id)
        if op is None:
            raise FlowError("sso.unknown_identity_provider", idp_id, 400)
        return RedirectResponse(
            oidc_rp.redirect_to_op(broker.settings, op, state), status_code=303
        )
    return RedirectResponse(
        saml_sp.redirect_to_idp(broker.settings, broker.keypair, idp, state, now), status_code=303
    )
