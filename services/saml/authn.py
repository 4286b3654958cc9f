"""Receiving an AuthnRequest as an identity provider, in two steps.

First `requester` names who claims to ask (nothing verified yet), so the caller can find that
service provider's registered metadata however it keeps it (a database, a fetched URL). Then
`accept` verifies the signature with exactly those certificates, validates the request, and
picks an assertion consumer service the metadata lists: never an address taken on trust
from the request itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from lxml import etree

from services.saml import bindings, signing
from services.saml.constants import BINDING_POST, NS
from services.saml.errors import SamlError
from services.saml.metadata import EntityMetadata, SPRole
from services.saml.validate import AuthnRequestInfo, validate_authn_request
from services.saml.xml import text_of


@dataclass(frozen=True)
class AcceptedRequest:
    info: AuthnRequestInfo
    relay_state: str | None
    sp: EntityMetadata
    acs_url: str


def _unverified(
    raw_query: str | None, form: Mapping[str, str] | None, max_bytes: int
) -> etree._Element:
    if raw_query is not None:
        return bindings.peek_redirect(raw_query, kind="SAMLRequest", max_bytes=max_bytes)
    value = (form or {}).get("SAMLRequest")
    if not value:
        raise SamlError("saml.binding.invalid", "SAMLRequest is missing")
    return bindings.decode_post(value, max_bytes=max_bytes)


def _issuer(root: etree._Element) -> str:
    found = root.find("saml:Issuer", NS)
    issuer = text_of(found).strip() if found is not None else ""
    if not issuer:
        raise SamlError("saml.message.unexpected", "AuthnRequest without Issuer")
    return issuer


def requester(*, raw_query: str | None, form: Mapping[str, str] | None, max_bytes: int) -> str:
    """Who claims to send this request (HTTP-Redirect when ``raw_query`` is given, else POST)."""
    return _issuer(_unverified(raw_query, form, max_bytes))


def accept(
    *,
    raw_query: str | None,
    form: Mapping[str, str] | None,
    sp: EntityMetadata,
    destination: str,
    max_bytes: int,
    want_signed: bool,
    now: datetime,
    skew: timedelta,
    allow_sha1: bool = False,
) -> AcceptedRequest:
    role = _role(sp)
    require = want_signed or role.authn_requests_signed
    if raw_query is not None:
        message = bindings.decode_redirect(
            raw_query,
            kind="SAMLRequest",
            max_bytes=max_bytes,
            certificates=role.signing_certificates,
            require_signature=require,
            allow_sha1=allow_sha1,
        )
        root, relay_state = message.xml, message.relay_state
    else:
        root = _unverified(None, form, max_bytes)
        relay_state = (form or {}).get("RelayState")
        if root.find("ds:Signature", NS) is not None:
            root = signing.verify(root, role.signing_certificates, allow_sha1=allow_sha1)
        elif require:
            raise SamlError("saml.signature.missing", "the AuthnRequest must be signed")
    info = validate_authn_request(root, destination=destination, now=now, skew=skew)
    if info.issuer != sp.entity_id:
        raise SamlError("saml.issuer.mismatch", "the signed Issuer is not the registered one")
    return AcceptedRequest(info, relay_state, sp, _acs_for(sp, role, info))


def _role(sp: EntityMetadata) -> SPRole:
    if sp.sp is None:
        raise SamlError("saml.issuer.unknown", f"{sp.entity_id} has no service provider role")
    return sp.sp


def _acs_for(sp: EntityMetadata, role: SPRole, info: AuthnRequestInfo) -> str:
    posts = [e for e in role.acs if e.binding == BINDING_POST]
    if info.acs_url is not None:
        if info.acs_url in {e.location for e in posts}:
            return info.acs_url
        raise SamlError("saml.acs.unregistered", info.acs_url[:200])
    if info.acs_index is not None:
        for endpoint in posts:
            if endpoint.index == info.acs_index:
                return endpoint.location
        raise SamlError("saml.acs.unregistered", f"index {info.acs_index}")
    default = sp.acs_url(BINDING_POST)
    if default is None:
        raise SamlError("saml.acs.unregistered", "no HTTP-POST assertion consumer service")
    return default
