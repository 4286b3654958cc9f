"""The broker as a SAML identity provider toward resource providers.

Reads a provider's AuthnRequest (HTTP-Redirect or HTTP-POST), trusting only what its
registered metadata says (signing certificates, assertion consumer services), and issues the
signed Response that carries the released attributes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from broker import endpoints, trust
from broker.errors import FlowError
from services.keys import KeyPair
from services.saml import authn, bindings, build, signing
from services.saml.constants import NAMEID_TRANSIENT
from services.settings import Settings


def read_authn_request(
    session: Session,
    settings: Settings,
    *,
    raw_query: str | None,
    form: Mapping[str, str] | None,
    now: datetime,
) -> authn.AcceptedRequest:
    """Decode, authenticate and validate an AuthnRequest from either binding."""
    issuer = authn.requester(raw_query=raw_query, form=form, max_bytes=settings.max_xml_bytes)
    sp = trust.find_sp(session, issuer)
    if sp is None:
        raise FlowError("sso.unknown_sp", f"no registered service provider {issuer!r}", 403)
    return authn.accept(
        raw_query=raw_query,
        form=form,
        sp=sp,
        destination=endpoints.idp_sso_url(settings),
        max_bytes=settings.max_xml_bytes,
        want_signed=settings.want_authn_requests_signed,
        now=now,
        skew=timedelta(seconds=settings.clock_skew_seconds),
        allow_sha1=trust.allows_sha1(session, issuer),
    )


def issue_response(
    settings: Settings,
    keypair: KeyPair,
    *,
    sp_entity_id: str,
    acs_url: str,
    in_response_to: str | None,
    relay_state: str | None,
    attributes: Mapping[str, Sequence[str]],
    assertion_id: str,
    now: datetime,
) -> str:
    """The auto-submitting page that posts the signed Response to the provider."""
    issuer = endpoints.idp_entity_id(settings)
    assertion = build.assertion(
        issuer=issuer,
        name_id=build.new_id(),
        name_id_format=NAMEID_TRANSIENT,
        audience=sp_entity_id,
        recipient=acs_url,
        in_response_to=in_response_to,
        attributes=attributes,
        session_index=build.new_id(),
        lifetime_seconds=settings.assertion_lifetime_seconds,
        now=now,
        assertion_id=assertion_id,
    )
    signed_assertion = signing.sign(assertion, keypair)
    response = build.response(
        issuer=issuer,
        destination=acs_url,
        in_response_to=in_response_to,
        assertion=signed_assertion,
        now=now,
    )
    return bindings.post_form(
        acs_url,
        kind="SAMLResponse",
        message=signing.sign(response, keypair),
        relay_state=relay_state,
    )
