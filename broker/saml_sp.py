"""The broker as a SAML service provider toward identity providers (ENTs, ÉduConnect).

It always starts the exchange itself (the Response must answer a request it recorded), and
turns a validated assertion into a protocol-neutral `Authentication`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.elements import Label

from broker import endpoints, trust
from broker import state as login_state
from broker.domain import Authentication
from broker.errors import FlowError
from broker.models import LoginState, Peer, table
from services.keys import KeyPair
from services.saml import bindings, build
from services.saml.constants import BINDING_REDIRECT
from services.saml.errors import SamlError
from services.saml.metadata import EntityMetadata
from services.saml.validate import ValidatedAssertion, validate_response
from services.settings import Settings


def redirect_to_idp(
    settings: Settings, keypair: KeyPair, idp: EntityMetadata, state: LoginState, now: datetime,
    *, force_authn: bool = False,
) -> str:
    """The signed HTTP-Redirect URL that asks the identity provider to authenticate.

    ``force_authn`` asks for the person's credentials even within a single sign-on session.
    """
    sso = idp.sso_url(BINDING_REDIRECT)
    if sso is None:
        raise FlowError("sso.unknown_identity_provider", "no HTTP-Redirect SSO endpoint", 502)
    request_id = build.new_id()
    request = build.authn_request(
        issuer=endpoints.sp_entity_id(settings),
        destination=sso,
        acs_url=endpoints.sp_acs_url(settings),
        request_id=request_id,
        now=now,
        force_authn=force_authn,
    )
    state.idp_entity_id, state.upstream_request_id = idp.entity_id, request_id
    return bindings.encode_redirect(
        sso, request, kind="SAMLRequest", relay_state=state.id, keypair=keypair
    )


_STATES = table(LoginState)


def _of_the_idp(column: InstrumentedAttribute[Any]) -> Label[Any]:
    return (select(column).where(Peer.entity_id == _STATES.c.idp_entity_id)
            .scalar_subquery().label(f"idp_{column.key}"))


# The login state consumed, with the row of the identity provider it was sent to (scalar
# subqueries in RETURNING: PostgreSQL, and SQLite from 3.35): one round trip for both.
_TAKE = login_state.TAKE.returning(_of_the_idp(Peer.metadata_xml), _of_the_idp(Peer.allow_sha1))


def take_state(session: Session, state_id: str, now: datetime) -> LoginState | None:
    """Consume the login state an identity provider's Response answers (``state.take``).

    The identity provider's peer row comes back with it and is held for the session
    (``trust.hold``): checking the Response's signature and algorithms then reads no peer.
    Which peer is trusted does not change: the state's own identity provider, whose entity id
    ``validate_response`` requires as the issuer; a peer removed since is simply not held, and
    the Response is then refused as from an unknown issuer, as before.
    """
    row = login_state.take(session, state_id, now, statement=_TAKE)
    if row is None:
        return None
    state = login_state.state_of(row)
    if state.idp_entity_id is not None and row.idp_metadata_xml is not None:
        trust.hold(session, state.idp_entity_id, row.idp_metadata_xml, row.idp_allow_sha1)
    return state


def read_response(
    session: Session, settings: Settings, form: Mapping[str, str], state: LoginState, now: datetime
) -> ValidatedAssertion:
    value = form.get("SAMLResponse")
    if not value:
        raise SamlError("saml.binding.invalid", "SAMLResponse is missing")
    root = bindings.decode_post(value, max_bytes=settings.max_xml_bytes)
    return validate_response(
        root,
        certificates_for=trust.idp_certificates(session),
        sp_entity_id=endpoints.sp_entity_id(settings),
        acs_url=endpoints.sp_acs_url(settings),
        expected_issuer=state.idp_entity_id,
        in_response_to=state.upstream_request_id,
        now=now,
        skew=timedelta(seconds=settings.clock_skew_seconds),
        allow_sha1=bool(state.idp_entity_id and trust.allows_sha1(session, state.idp_entity_id)),
    )


def authentication(assertion: ValidatedAssertion) -> Authentication:
    return Authentication(
        issuer=assertion.issuer,
        protocol="saml",
        subject=assertion.name_id,
        attributes={name: tuple(values) for name, values in assertion.attributes.items()},
        assertion_id=assertion.assertion_id,
        session_index=assertion.session_index,
        authenticated_at=assertion.authn_instant,
    )
