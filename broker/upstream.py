"""Sending the person to an identity provider, whichever flow needs them authenticated.

Every flow (a provider's request in any protocol, the mediacentre, the console) opens a login
state and comes here; the identity provider's answer comes back to the inbound side of its
protocol, which hands the authenticated person to ``broker.deliver``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, Text, case, cast, func, literal, null, select, union_all
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from broker import oidc_providers, oidc_rp, saml_sp, trust
from broker import state as login_state
from broker.domain import Authentication
from broker.errors import FlowError
from broker.flow import Broker
from broker.models import LoginState, OidcProvider, Peer, table
from services import web

SERVICE_NAME = "GAR — gestionnaire d'accès aux ressources (banc d'essai)"
#: A login state's downstream parameter: the downstream wants the person's primary
#: credentials, not a single sign-on session (CAS ``renew``).
FRESH_LOGIN = "fresh_login"
_templates = web.make_environment("broker")


def fresh_login_required(state: LoginState) -> bool:
    return bool((state.downstream_params or {}).get(FRESH_LOGIN))


def check_fresh(state: LoginState, auth: Authentication, skew: timedelta) -> None:
    """Refuse an authentication older than a login that asked for fresh credentials.

    The identity provider was asked to authenticate anew (SAML ``ForceAuthn``, OIDC
    ``prompt=login``/``max_age=0``); it proves it with the instant of authentication, which
    must fall after the login started (within the clock skew). Without that proof the broker
    will not vouch for primary credentials.
    """
    if not fresh_login_required(state):
        return
    if auth.authenticated_at is None or auth.authenticated_at < state.created_at - skew:
        raise FlowError("sso.authn_not_fresh", str(auth.authenticated_at), 400)


# Every identity provider's name and protocol, SAML ones first: one statement per login, and
# no peer's metadata read but the one the person is sent to. When there is one candidate only
# (the usual case: it is then not asked to choose), its row comes back in the same statement
# (``count(*) OVER ()``), which spares the SELECT of the peer that followed.
_PEERS, _OIDC_PROVIDERS = table(Peer).c, table(OidcProvider).c
_CANDIDATES = union_all(
    select(literal("saml").label("protocol"), _PEERS.entity_id.label("name"),
           _PEERS.metadata_xml.label("metadata_xml"), _PEERS.allow_sha1.label("allow_sha1"))
    .where(_PEERS.role.in_(trust.IDP_ROLES)),
    select(literal("oidc").label("protocol"), _OIDC_PROVIDERS.issuer.label("name"),
           cast(null(), Text).label("metadata_xml"), cast(null(), Boolean).label("allow_sha1")),
).subquery()
_ALONE = func.count().over() == 1
_IDENTITY_PROVIDERS = select(
    _CANDIDATES.c.protocol, _CANDIDATES.c.name,
    case((_ALONE, _CANDIDATES.c.metadata_xml)).label("metadata_xml"),
    case((_ALONE, _CANDIDATES.c.allow_sha1)).label("allow_sha1"),
)


def to_identity_provider(
    session: Session, broker: Broker, state: LoginState, now: datetime
) -> Response:
    """Send the person to the identity provider, or to the chooser; the new state is saved."""
    found = sorted(session.execute(_IDENTITY_PROVIDERS).all(),
                   key=lambda row: (row.protocol != "saml", row.name))
    if not found:
        raise FlowError("sso.no_identity_provider", "", 503)
    if len(found) > 1:
        login_state.save(session, state)
        return _chooser(state, [row.name for row in found])
    protocol, name, metadata_xml, allow_sha1 = found[0]
    fresh = fresh_login_required(state)
    if protocol == "oidc":
        op = oidc_providers.find(session, name)
        if op is None:  # removed since the listing
            raise FlowError("sso.no_identity_provider", name, 503)
        url = oidc_rp.redirect_to_op(broker.settings, op, state, force_authn=fresh)
    else:
        trust.hold(session, name, metadata_xml, allow_sha1)
        idp = trust.find_idp(session, name)
        if idp is None:
            raise FlowError("sso.no_identity_provider", name, 503)
        url = saml_sp.redirect_to_idp(broker.settings, broker.keypair, idp, state, now,
                                      force_authn=fresh)
    login_state.save(session, state)  # complete now: the identity provider and request id
    return RedirectResponse(url, status_code=303)


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
    fresh = fresh_login_required(state)
    if idp is None:
        op = oidc_providers.find(session, idp_id)
        if op is None:
            raise FlowError("sso.unknown_identity_provider", idp_id, 400)
        return RedirectResponse(
            oidc_rp.redirect_to_op(broker.settings, op, state, force_authn=fresh),
            status_code=303,
        )
    return RedirectResponse(
        saml_sp.redirect_to_idp(broker.settings, broker.keypair, idp, state, now,
                                force_authn=fresh),
        status_code=303,
    )
