"""Builders for the few SAML messages the testbed emits, unsigned (see ``signing.sign``).

Element order follows the SAML 2.0 schema because strict peers (Shibboleth, pysaml2) validate
it; attribute values are typed ``xs:string`` as the GAR and most federations expect.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from lxml import etree

from services.saml.constants import (
    ATTRNAME_BASIC,
    AUTHN_CTX_PPT,
    BINDING_POST,
    CM_BEARER,
    NAMEID_TRANSIENT,
    NS,
    STATUS_RESPONDER,
    STATUS_SUCCESS,
    TOP_LEVEL_STATUSES,
)
from services.saml.errors import SamlError

_SAMLP = NS["samlp"]
_SAML = NS["saml"]
_INSTANT = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})"
)


def new_id() -> str:
    """A fresh message ID: 160 random bits, starting with ``_`` because xs:ID may not start
    with a digit."""
    return "_" + secrets.token_hex(20)


def instant(t: datetime) -> str:
    """Format as SAML wants it: UTC, second precision, ``Z``. A naive ``t`` is taken as UTC."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(s: str) -> datetime:
    """Parse an xs:dateTime with an explicit time zone; anything else is refused."""
    match = _INSTANT.fullmatch(s) if isinstance(s, str) else None
    if match is None:
        raise SamlError("saml.message.unexpected", f"invalid instant {str(s)[:40]!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        value = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=UTC,
        )
    except ValueError as exc:
        raise SamlError("saml.message.unexpected", f"invalid instant {s[:40]!r}") from exc
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 14 or minutes > 59:
            raise SamlError("saml.message.unexpected", f"invalid time zone in {s[:40]!r}")
        value -= sign * timedelta(hours=hours, minutes=minutes)
    return value


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def _issuer(parent: etree._Element, issuer: str) -> None:
    etree.SubElement(parent, f"{{{_SAML}}}Issuer").text = issuer


def authn_request(
    *,
    issuer: str,
    destination: str,
    acs_url: str,
    request_id: str | None = None,
    now: datetime | None = None,
    force_authn: bool = False,
) -> etree._Element:
    """An AuthnRequest asking for an HTTP-POST response and a transient NameID."""
    root = etree.Element(
        f"{{{_SAMLP}}}AuthnRequest",
        nsmap={"samlp": _SAMLP, "saml": _SAML},
        ID=request_id or new_id(),
        Version="2.0",
        IssueInstant=instant(_now(now)),
        Destination=destination,
        AssertionConsumerServiceURL=acs_url,
        ProtocolBinding=BINDING_POST,
    )
    if force_authn:
        root.set("ForceAuthn", "true")
    _issuer(root, issuer)
    etree.SubElement(root, f"{{{_SAMLP}}}NameIDPolicy", Format=NAMEID_TRANSIENT, AllowCreate="true")
    return root


def assertion(
    *,
    issuer: str,
    name_id: str,
    name_id_format: str,
    audience: str,
    recipient: str,
    in_response_to: str | None,
    attributes: Mapping[str, Sequence[str]],
    session_index: str | None = None,
    lifetime_seconds: int = 300,
    now: datetime | None = None,
    name_format: str = ATTRNAME_BASIC,
    authn_context: str = AUTHN_CTX_PPT,
    assertion_id: str | None = None,
) -> etree._Element:
    """A bearer assertion for the Web Browser SSO profile, valid ``lifetime_seconds``."""
    issued = _now(now)
    until = instant(issued + timedelta(seconds=lifetime_seconds))
    root = etree.Element(
        f"{{{_SAML}}}Assertion",
        nsmap={"saml": _SAML, "xs": NS["xs"], "xsi": NS["xsi"]},
        ID=assertion_id or new_id(),
        Version="2.0",
        IssueInstant=instant(issued),
    )
    _issuer(root, issuer)

    subject = etree.SubElement(root, f"{{{_SAML}}}Subject")
    etree.SubElement(subject, f"{{{_SAML}}}NameID", Format=name_id_format).text = name_id
    confirmation = etree.SubElement(subject, f"{{{_SAML}}}SubjectConfirmation", Method=CM_BEARER)
    data = etree.SubElement(
        confirmation, f"{{{_SAML}}}SubjectConfirmationData", NotOnOrAfter=until, Recipient=recipient
    )
    if in_response_to is not None:
        data.set("InResponseTo", in_response_to)

    conditions = etree.SubElement(
        root, f"{{{_SAML}}}Conditions", NotBefore=instant(issued), NotOnOrAfter=until
    )
    restriction = etree.SubElement(conditions, f"{{{_SAML}}}AudienceRestriction")
    etree.SubElement(restriction, f"{{{_SAML}}}Audience").text = audience

    statement = etree.SubElement(root, f"{{{_SAML}}}AuthnStatement", AuthnInstant=instant(issued))
    if session_index is not None:
        statement.set("SessionIndex", session_index)
    context = etree.SubElement(statement, f"{{{_SAML}}}AuthnContext")
    etree.SubElement(context, f"{{{_SAML}}}AuthnContextClassRef").text = authn_context

    if attributes:  # the schema wants at least one Attribute in an AttributeStatement
        attribute_statement = etree.SubElement(root, f"{{{_SAML}}}AttributeStatement")
        xsi_type = f"{{{NS['xsi']}}}type"
        for name, values in attributes.items():
            attribute = etree.SubElement(
                attribute_statement, f"{{{_SAML}}}Attribute", Name=name, NameFormat=name_format
            )
            for value in values:
                etree.SubElement(
                    attribute, f"{{{_SAML}}}AttributeValue", {xsi_type: "xs:string"}
                ).text = value
    return root


def response(
    *,
    issuer: str,
    destination: str,
    in_response_to: str | None,
    assertion: etree._Element | None,
    status: str = STATUS_SUCCESS,
    status_message: str | None = None,
    now: datetime | None = None,
) -> etree._Element:
    """A Response wrapping ``assertion`` (moved, not copied) or reporting a failure status.

    A second-level status such as RequestDenied is nested under a top-level Responder code,
    as SAML core requires.
    """
    root = etree.Element(
        f"{{{_SAMLP}}}Response",
        nsmap={"samlp": _SAMLP, "saml": _SAML},
        ID=new_id(),
        Version="2.0",
        IssueInstant=instant(_now(now)),
        Destination=destination,
    )
    if in_response_to is not None:
        root.set("InResponseTo", in_response_to)
    _issuer(root, issuer)
    status_el = etree.SubElement(root, f"{{{_SAMLP}}}Status")
    if status in TOP_LEVEL_STATUSES:
        etree.SubElement(status_el, f"{{{_SAMLP}}}StatusCode", Value=status)
    else:
        top = etree.SubElement(status_el, f"{{{_SAMLP}}}StatusCode", Value=STATUS_RESPONDER)
        etree.SubElement(top, f"{{{_SAMLP}}}StatusCode", Value=status)
    if status_message is not None:
        etree.SubElement(status_el, f"{{{_SAMLP}}}StatusMessage").text = status_message
    if assertion is not None:
        root.append(assertion)
    return root
