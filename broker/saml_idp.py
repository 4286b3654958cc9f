"""The broker as a SAML identity provider toward resource providers.

Reads a provider's AuthnRequest (HTTP-Redirect or HTTP-POST), trusting only what its
registered metadata says (signing certificates, assertion consumer services), and issues the
signed Response that carries the released attributes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from lxml import etree
from sqlalchemy.orm import Session

from broker import endpoints, trust
from broker.errors import FlowError
from services.keys import KeyPair
from services.saml import bindings, build, signing
from services.saml.constants import BINDING_POST, NAMEID_TRANSIENT, NS
from services.saml.errors import SamlError
from services.saml.metadata import EntityMetadata
from services.saml.validate import AuthnRequestInfo, validate_authn_request
from services.saml.xml import text_of
from services.settings import Settings


@dataclass(frozen=True)
class SsoRequest:
    info: AuthnRequestInfo
    relay_state: str | None
    sp: EntityMetadata
    acs_url: str


def _issuer(root: etree._Element) -> str:
    found = root.find("saml:Issuer", NS)
    if found is None or not text_of(found).strip():
        raise SamlError("saml.message.unexpected", "AuthnRequest without Issuer")
    return text_of(found).strip()


def _registered_sp(session: Session, issuer: str) -> EntityMetadata:
    metadata = trust.find_sp(session, issuer)
    if metadata is None or metadata.sp is None:
        raise FlowError("sso.unknown_sp", f"no registered service provider {issuer!r}", 403)
    return metadata


def read_authn_request(
    session: Session,
    settings: Settings,
    *,
    raw_query: str | None,
    form: Mapping[str, str] | None,
    now: datetime,
) -> SsoRequest:
    """Decode, authenticate and validate an AuthnRequest from either binding."""
    limit = settings.max_xml_bytes
    if raw_query is not None:
        issuer = _issuer(bindings.peek_redirect(raw_query, kind="SAMLRequest", max_bytes=limit))
        sp = _registered_sp(session, issuer)
        assert sp.sp is not None
        message = bindings.decode_redirect(
            raw_query,
            kind="SAMLRequest",
            max_bytes=limit,
            certificates=sp.sp.signing_certificates,
            require_signature=_signature_required(settings, sp),
            allow_sha1=trust.allows_sha1(session, issuer),
        )
        root, relay_state = message.xml, message.relay_state
    else:
        form = form or {}
        if not form.get("SAMLRequest"):
            raise SamlError("saml.binding.invalid", "SAMLRequest is missing")
        root = bindings.decode_post(form["SAMLRequest"], max_bytes=limit)
        relay_state = form.get("RelayState")
        sp = _registered_sp(session, _issuer(root))
        assert sp.sp is not None
        if root.find("ds:Signature", NS) is not None:
            root = signing.verify(root, sp.sp.signing_certificates,
                                  allow_sha1=trust.allows_sha1(session, sp.entity_id))
        elif _signature_required(settings, sp):
            raise SamlError("saml.signature.missing", "the AuthnRequest must be signed")
    info = validate_authn_request(
        root,
        destination=endpoints.idp_sso_url(settings),
        now=now,
        skew=timedelta(seconds=settings.clock_skew_seconds),
    )
    if info.issuer != sp.entity_id:
        raise SamlError("saml.issuer.mismatch", "the signed Issuer differs from the one read")
    return SsoRequest(info, relay_state, sp, _acs_for(sp, info))


def _signature_required(settings: Settings, sp: EntityMetadata) -> bool:
    return settings.want_authn_requests_signed or bool(sp.sp and sp.sp.authn_requests_signed)


def _acs_for(sp: EntityMetadata, info: AuthnRequestInfo) -> str:
    """Never send an assertion to an address the provider's metadata does not list."""
    assert sp.sp is not None
    posts = [e for e in sp.sp.acs if e.binding == BINDING_POST]
    if info.acs_url is not None:
        if info.acs_url in {e.location for e in posts}:
            return info.acs_url
        raise FlowError("sso.acs_not_registered", info.acs_url)
    if info.acs_index is not None:
        for endpoint in posts:
            if endpoint.index == info.acs_index:
                return endpoint.location
        raise FlowError("sso.acs_not_registered", f"index {info.acs_index}")
    default = sp.acs_url(BINDING_POST)
    if default is None:
        raise FlowError("sso.acs_not_registered", "no HTTP-POST assertion consumer service")
    return default


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
    return bindings.post_form(acs_url, kind="SAMLResponse", message=signing.sign(response, keypair),
                              relay_state=relay_state)
