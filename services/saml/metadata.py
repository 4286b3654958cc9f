"""SAML metadata: what we publish about ourselves and what we learn about a peer.

Metadata we generate is unsigned: peers fetch it over HTTPS from our own URL, and in this
testbed the trust decision is the operator's act of registering a peer. For the same reason
``parse_metadata`` does not check a signature on metadata it is given; it only extracts the
signing certificates that will then be the *only* keys trusted for that entity.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from lxml import etree

from services.keys import KeyPair
from services.saml.build import parse_instant
from services.saml.constants import (
    BINDING_POST,
    BINDING_REDIRECT,
    NAMEID_PERSISTENT,
    NAMEID_TRANSIENT,
    NS,
    NS_XML,
    PROTOCOL_SAML2,
)
from services.saml.errors import SamlError
from services.saml.xml import parse, text_of

_MD = NS["md"]
_DS = NS["ds"]


@dataclass(frozen=True)
class Endpoint:
    binding: str
    location: str
    index: int | None = None
    is_default: bool = False


@dataclass(frozen=True)
class IdPRole:
    sso: tuple[Endpoint, ...]
    signing_certificates: tuple[x509.Certificate, ...]
    want_authn_requests_signed: bool


@dataclass(frozen=True)
class SPRole:
    acs: tuple[Endpoint, ...]
    signing_certificates: tuple[x509.Certificate, ...]
    authn_requests_signed: bool
    want_assertions_signed: bool
    requested_attributes: tuple[str, ...]


@dataclass(frozen=True)
class EntityMetadata:
    entity_id: str
    idp: IdPRole | None
    sp: SPRole | None
    valid_until: datetime | None

    def sso_url(self, binding: str) -> str | None:
        if self.idp is None:
            return None
        return next((e.location for e in self.idp.sso if e.binding == binding), None)

    def acs_url(self, binding: str = BINDING_POST) -> str | None:
        """The default assertion consumer service for ``binding``: the one marked
        ``isDefault``, else the first listed (SAML metadata §2.2.3)."""
        if self.sp is None:
            return None
        candidates = [e for e in self.sp.acs if e.binding == binding]
        default = next((e for e in candidates if e.is_default), None)
        chosen = default or (candidates[0] if candidates else None)
        return chosen.location if chosen is not None else None


# --- generation --------------------------------------------------------------------------


def _entity(entity_id: str) -> etree._Element:
    return etree.Element(
        f"{{{_MD}}}EntityDescriptor", nsmap={"md": _MD, "ds": _DS}, entityID=entity_id
    )


def _key_descriptors(role: etree._Element, keypairs: Sequence[KeyPair]) -> None:
    # Every key is published: during a rotation peers must accept both old and new signatures.
    for keypair in keypairs:
        descriptor = etree.SubElement(role, f"{{{_MD}}}KeyDescriptor", use="signing")
        key_info = etree.SubElement(descriptor, f"{{{_DS}}}KeyInfo")
        data = etree.SubElement(key_info, f"{{{_DS}}}X509Data")
        etree.SubElement(data, f"{{{_DS}}}X509Certificate").text = keypair.cert_b64


def _organization(root: etree._Element, entity_id: str, organization: str | None) -> None:
    if organization is None:
        return
    org = etree.SubElement(root, f"{{{_MD}}}Organization")
    lang = {f"{{{NS_XML}}}lang": "fr"}
    etree.SubElement(org, f"{{{_MD}}}OrganizationName", lang).text = organization
    etree.SubElement(org, f"{{{_MD}}}OrganizationDisplayName", lang).text = organization
    etree.SubElement(org, f"{{{_MD}}}OrganizationURL", lang).text = entity_id


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True, pretty_print=True)


def sp_metadata(
    *,
    entity_id: str,
    acs_url: str,
    keypairs: Sequence[KeyPair],
    authn_requests_signed: bool = True,
    want_assertions_signed: bool = True,
    requested_attributes: Sequence[str] = (),
    organization: str | None = None,
) -> bytes:
    root = _entity(entity_id)
    role = etree.SubElement(
        root,
        f"{{{_MD}}}SPSSODescriptor",
        AuthnRequestsSigned=_bool(authn_requests_signed),
        WantAssertionsSigned=_bool(want_assertions_signed),
        protocolSupportEnumeration=PROTOCOL_SAML2,
    )
    _key_descriptors(role, keypairs)
    etree.SubElement(role, f"{{{_MD}}}NameIDFormat").text = NAMEID_TRANSIENT
    etree.SubElement(
        role,
        f"{{{_MD}}}AssertionConsumerService",
        Binding=BINDING_POST,
        Location=acs_url,
        index="0",
        isDefault="true",
    )
    if requested_attributes:
        service = etree.SubElement(
            role, f"{{{_MD}}}AttributeConsumingService", index="0", isDefault="true"
        )
        etree.SubElement(service, f"{{{_MD}}}ServiceName", {f"{{{NS_XML}}}lang": "fr"}).text = (
            organization or entity_id
        )
        for name in requested_attributes:
            etree.SubElement(service, f"{{{_MD}}}RequestedAttribute", Name=name)
    _organization(root, entity_id, organization)
    return _serialize(root)


def idp_metadata(
    *,
    entity_id: str,
    sso_url: str,
    keypairs: Sequence[KeyPair],
    want_authn_requests_signed: bool = True,
    organization: str | None = None,
) -> bytes:
    root = _entity(entity_id)
    role = etree.SubElement(
        root,
        f"{{{_MD}}}IDPSSODescriptor",
        WantAuthnRequestsSigned=_bool(want_authn_requests_signed),
        protocolSupportEnumeration=PROTOCOL_SAML2,
    )
    _key_descriptors(role, keypairs)
    for name_id_format in (NAMEID_TRANSIENT, NAMEID_PERSISTENT):
        etree.SubElement(role, f"{{{_MD}}}NameIDFormat").text = name_id_format
    for binding in (BINDING_REDIRECT, BINDING_POST):
        etree.SubElement(role, f"{{{_MD}}}SingleSignOnService", Binding=binding, Location=sso_url)
    _organization(root, entity_id, organization)
    return _serialize(root)


# --- parsing -----------------------------------------------------------------------------


def _invalid(detail: str) -> SamlError:
    return SamlError("saml.metadata.invalid", detail)


def parse_metadata(data: bytes, *, max_bytes: int = 1_048_576) -> EntityMetadata:
    """Read one entity's metadata; refuse it if malformed or past its ``validUntil``."""
    root = parse(data, max_bytes=max_bytes)
    descriptors = list(root.iter(f"{{{_MD}}}EntityDescriptor"))
    if root.tag == f"{{{_MD}}}EntityDescriptor":
        if len(descriptors) != 1:
            raise _invalid("nested EntityDescriptor")
    elif root.tag == f"{{{_MD}}}EntitiesDescriptor":
        if len(descriptors) != 1:
            raise _invalid(f"expected exactly one EntityDescriptor, found {len(descriptors)}")
    else:
        raise _invalid(f"unexpected root element {root.tag}")
    entity = descriptors[0]

    valid_until = _valid_until(entity)
    if valid_until is not None and valid_until <= datetime.now(UTC):
        raise _invalid(f"validUntil {valid_until.isoformat()} is past")

    entity_id = entity.get("entityID", "").strip()
    if not entity_id:
        raise _invalid("entityID is missing")
    idp = _idp_role(entity)
    sp = _sp_role(entity)
    if idp is None and sp is None:
        raise _invalid("no SAML 2.0 IdP or SP role")
    return EntityMetadata(entity_id=entity_id, idp=idp, sp=sp, valid_until=valid_until)


def _valid_until(entity: etree._Element) -> datetime | None:
    """The earliest validUntil on the entity or any enclosing EntitiesDescriptor."""
    instants: list[datetime] = []
    node: etree._Element | None = entity
    while node is not None:
        value = node.get("validUntil")
        if value is not None:
            try:
                instants.append(parse_instant(value))
            except SamlError as exc:
                raise _invalid(f"bad validUntil {value[:40]!r}") from exc
        node = node.getparent()
    return min(instants) if instants else None


def _saml2_role(entity: etree._Element, local_name: str) -> etree._Element | None:
    for role in entity.findall(f"{{{_MD}}}{local_name}"):
        if PROTOCOL_SAML2 in (role.get("protocolSupportEnumeration") or "").split():
            return role
    return None


def _flag(role: etree._Element, name: str) -> bool:
    value = (role.get(name) or "false").strip()
    if value not in ("true", "1", "false", "0"):
        raise _invalid(f"{name} is not a boolean")
    return value in ("true", "1")


def _endpoints(role: etree._Element, local_name: str) -> tuple[Endpoint, ...]:
    endpoints: list[Endpoint] = []
    for element in role.findall(f"{{{_MD}}}{local_name}"):
        binding, location = element.get("Binding"), element.get("Location")
        if not binding or not location:
            raise _invalid(f"{local_name} without Binding or Location")
        raw_index = element.get("index")
        try:
            index = int(raw_index) if raw_index is not None else None
        except ValueError as exc:
            raise _invalid(f"{local_name} index is not an integer") from exc
        is_default = (element.get("isDefault") or "false").strip() in ("true", "1")
        endpoints.append(Endpoint(binding, location.strip(), index, is_default))
    return tuple(endpoints)


def _signing_certificates(role: etree._Element) -> tuple[x509.Certificate, ...]:
    certificates: list[x509.Certificate] = []
    for descriptor in role.findall(f"{{{_MD}}}KeyDescriptor"):
        if descriptor.get("use") not in (None, "signing"):
            continue
        for element in descriptor.iterfind(
            f"{{{_DS}}}KeyInfo/{{{_DS}}}X509Data/{{{_DS}}}X509Certificate"
        ):
            try:
                der = base64.b64decode("".join(text_of(element).split()), validate=True)
                certificate = x509.load_der_x509_certificate(der)
            except (binascii.Error, ValueError) as exc:
                raise _invalid("unreadable X509Certificate") from exc
            if certificate not in certificates:
                certificates.append(certificate)
    return tuple(certificates)


def _idp_role(entity: etree._Element) -> IdPRole | None:
    role = _saml2_role(entity, "IDPSSODescriptor")
    if role is None:
        return None
    return IdPRole(
        sso=_endpoints(role, "SingleSignOnService"),
        signing_certificates=_signing_certificates(role),
        want_authn_requests_signed=_flag(role, "WantAuthnRequestsSigned"),
    )


def _sp_role(entity: etree._Element) -> SPRole | None:
    role = _saml2_role(entity, "SPSSODescriptor")
    if role is None:
        return None
    requested = tuple(
        name
        for element in role.iterfind(
            f"{{{_MD}}}AttributeConsumingService/{{{_MD}}}RequestedAttribute"
        )
        if (name := element.get("Name"))
    )
    return SPRole(
        acs=_endpoints(role, "AssertionConsumerService"),
        signing_certificates=_signing_certificates(role),
        authn_requests_signed=_flag(role, "AuthnRequestsSigned"),
        want_assertions_signed=_flag(role, "WantAssertionsSigned"),
        requested_attributes=tuple(dict.fromkeys(requested)),
    )
