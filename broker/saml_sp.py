"""The broker as a SAML service provider toward identity providers (ENTs, ÉduConnect).

It always starts the exchange itself (the Response must answer a request it recorded), and
turns a validated assertion into a protocol-neutral `Authentication`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from broker import endpoints, trust
from broker.domain import Authentication
from broker.errors import FlowError
from broker.models import LoginState
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
