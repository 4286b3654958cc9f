"""Acceptance rules for an incoming Response (SP side) and AuthnRequest (IdP side).

The order matters for security, not only for error codes: the document is first checked for
shape (one Assertion, a direct child), then signatures are verified, and from then on every
value is read from the element(s) that :func:`services.saml.signing.verify` returned. The
unverified document is only used to find out *who claims* to have signed it, which selects
the certificates to try. This is what defeats XML signature wrapping.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from lxml import etree

from services.saml.build import parse_instant
from services.saml.constants import CM_BEARER, NS, STATUS_SUCCESS
from services.saml.errors import SamlError
from services.saml.signing import verify
from services.saml.xml import text_of

_SAMLP = NS["samlp"]
_SAML = NS["saml"]
_DS = NS["ds"]


@dataclass(frozen=True)
class ValidatedAssertion:
    issuer: str
    assertion_id: str
    response_id: str
    name_id: str
    name_id_format: str | None
    session_index: str | None
    attributes: dict[str, list[str]]
    # The instant after which this assertion can no longer be accepted: the earliest
    # NotOnOrAfter plus the allowed skew, so a replay cache kept until then is complete.
    not_on_or_after: datetime
    in_response_to: str | None
    authn_instant: datetime | None
    signed_parts: tuple[str, ...]


@dataclass(frozen=True)
class AuthnRequestInfo:
    request_id: str
    issuer: str
    acs_url: str | None
    acs_index: int | None
    protocol_binding: str | None
    force_authn: bool
    is_passive: bool
    issue_instant: datetime
    destination: str | None


def _unexpected(detail: str) -> SamlError:
    return SamlError("saml.message.unexpected", detail)


def _check_root(root: etree._Element, tag: str) -> str:
    if root.tag != tag:
        raise _unexpected(f"expected {etree.QName(tag).localname}, got {root.tag!s:.80}")
    if root.get("Version") != "2.0":
        raise _unexpected("Version is not 2.0")
    element_id = root.get("ID")
    if not element_id:
        raise _unexpected("ID is missing")
    return element_id


def _issuer(element: etree._Element, *, required: bool) -> str | None:
    issuers = element.findall(f"{{{_SAML}}}Issuer")
    if len(issuers) > 1:
        raise _unexpected("more than one Issuer")
    if not issuers:
        if required:
            raise _unexpected(f"{etree.QName(element).localname} has no Issuer")
        return None
    value = text_of(issuers[0]).strip()
    if not value:
        raise _unexpected("empty Issuer")
    return value


def _instant(element: etree._Element, name: str, *, required: bool) -> datetime | None:
    value = element.get(name)
    if value is None:
        if required:
            raise _unexpected(f"{etree.QName(element).localname} has no {name}")
        return None
    return parse_instant(value)


def _signed(element: etree._Element) -> bool:
    return element.find(f"{{{_DS}}}Signature") is not None


def _single_assertion(response: etree._Element) -> etree._Element:
    """Exactly one Assertion in the whole document, as a direct child of the Response:
    a second one anywhere (Extensions, ds:Object...) is how wrapping attacks hide."""
    assertions = list(response.iter(f"{{{_SAML}}}Assertion"))
    if len(assertions) != 1:
        raise _unexpected(f"expected one Assertion, found {len(assertions)}")
    if assertions[0].getparent() is not response:
        raise _unexpected("the Assertion is not a direct child of the Response")
    return assertions[0]


def _check_status(root: etree._Element) -> None:
    code = root.find(f"{{{_SAMLP}}}Status/{{{_SAMLP}}}StatusCode")
    if code is None:
        raise _unexpected("Status is missing")
    if code.get("Value") == STATUS_SUCCESS:
        return
    codes = [code.get("Value") or "?"]
    codes += [c.get("Value") or "?" for c in code.iter(f"{{{_SAMLP}}}StatusCode") if c is not code]
    message = root.find(f"{{{_SAMLP}}}Status/{{{_SAMLP}}}StatusMessage")
    detail = " / ".join(codes)
    if message is not None:
        detail += f": {text_of(message).strip()[:200]}"
    raise SamlError("saml.status.failure", detail)


def validate_response(
    root: etree._Element,
    *,
    certificates_for: Callable[[str], Sequence[x509.Certificate] | None],
    sp_entity_id: str,
    acs_url: str,
    expected_issuer: str | None = None,
    in_response_to: str | None = None,
    allow_unsolicited: bool = False,
    now: datetime | None = None,
    skew: timedelta = timedelta(minutes=2),
    allow_sha1: bool = False,
) -> ValidatedAssertion:
    """Accept a Web Browser SSO Response or raise the first rule it breaks."""
    now = now if now is not None else datetime.now(UTC)
    _check_root(root, f"{{{_SAMLP}}}Response")
    _check_status(root)
    if next(root.iter(f"{{{_SAML}}}EncryptedAssertion"), None) is not None:
        raise SamlError("saml.encrypted.unsupported", "EncryptedAssertion")
    claimed_assertion = _single_assertion(root)

    # Who claims to speak: used only to choose the keys; everything is re-read once verified.
    claimed = _issuer(claimed_assertion, required=True)
    assert claimed is not None
    claimed_response_issuer = _issuer(root, required=False)
    if claimed_response_issuer is not None and claimed_response_issuer != claimed:
        raise SamlError("saml.issuer.mismatch", "Response and Assertion issuers differ")
    certificates = certificates_for(claimed)
    if certificates is None:
        raise SamlError("saml.issuer.unknown", claimed)
    if expected_issuer is not None and claimed != expected_issuer:
        raise SamlError("saml.issuer.mismatch", f"expected {expected_issuer}, got {claimed}")

    signed_parts: list[str] = []
    response = root
    if _signed(root):
        response = verify(root, certificates, allow_sha1=allow_sha1)
        signed_parts.append("response")
    assertion = _single_assertion(response)
    if _signed(assertion):
        assertion = verify(assertion, certificates, allow_sha1=allow_sha1)
        signed_parts.append("assertion")
    if not signed_parts:
        raise SamlError(
            "saml.signature.missing", "neither the Response nor the Assertion is signed"
        )

    # From here on, only verified elements are read.
    response_id = _check_root(response, f"{{{_SAMLP}}}Response")
    assertion_id = _check_root(assertion, f"{{{_SAML}}}Assertion")
    issuer = _issuer(assertion, required=True)
    response_issuer = _issuer(response, required=False)
    if issuer != claimed or response_issuer not in (None, claimed):
        raise SamlError("saml.issuer.mismatch", "the signed issuer differs from the claimed one")
    assert issuer is not None

    destination = response.get("Destination")
    if destination is None and "response" in signed_parts:
        raise SamlError("saml.destination.mismatch", "a signed Response must carry Destination")
    if destination is not None and destination != acs_url:
        raise SamlError("saml.destination.mismatch", f"Destination is {destination[:200]}")

    subject = assertion.find(f"{{{_SAML}}}Subject")
    if subject is None:
        raise _unexpected("the Assertion has no Subject")
    if subject.find(f"{{{_SAML}}}EncryptedID") is not None:
        raise SamlError("saml.encrypted.unsupported", "EncryptedID")
    name_id_el = subject.find(f"{{{_SAML}}}NameID")
    if name_id_el is None or not text_of(name_id_el).strip():
        raise _unexpected("the Subject has no NameID")
    confirmation_until, confirmation_irt = _bearer_confirmation(subject, acs_url, now, skew)

    response_irt = response.get("InResponseTo")
    _check_in_response_to(
        in_response_to,
        allow_unsolicited,
        response_irt=response_irt,
        confirmation_irt=confirmation_irt,
    )
    conditions_until = _check_conditions(assertion, sp_entity_id, now, skew)
    issue_instant = _instant(assertion, "IssueInstant", required=True)
    assert issue_instant is not None
    if issue_instant > now + skew:
        raise SamlError("saml.time.not_yet_valid", "IssueInstant is in the future")

    authn_instant, session_index = _authn_statement(assertion, now, skew)
    return ValidatedAssertion(
        issuer=issuer,
        assertion_id=assertion_id,
        response_id=response_id,
        name_id=text_of(name_id_el).strip(),
        name_id_format=name_id_el.get("Format"),
        session_index=session_index,
        attributes=_attributes(assertion),
        not_on_or_after=min(conditions_until, confirmation_until) + skew,
        in_response_to=confirmation_irt or response_irt,
        authn_instant=authn_instant,
        signed_parts=tuple(signed_parts),
    )


def _bearer_confirmation(
    subject: etree._Element, acs_url: str, now: datetime, skew: timedelta
) -> tuple[datetime, str | None]:
    """Return (NotOnOrAfter, InResponseTo) of the first bearer confirmation that holds."""
    bearers = [
        c
        for c in subject.findall(f"{{{_SAML}}}SubjectConfirmation")
        if c.get("Method") == CM_BEARER
    ]
    if not bearers:
        raise SamlError("saml.subject.confirmation", "no bearer SubjectConfirmation")
    first_error: SamlError | None = None
    for bearer in bearers:
        try:
            return _check_bearer(bearer, acs_url, now, skew)
        except SamlError as exc:
            first_error = first_error or exc
    assert first_error is not None
    raise first_error


def _check_bearer(
    bearer: etree._Element, acs_url: str, now: datetime, skew: timedelta
) -> tuple[datetime, str | None]:
    data = bearer.find(f"{{{_SAML}}}SubjectConfirmationData")
    if data is None:
        raise SamlError("saml.subject.confirmation", "bearer confirmation without data")
    if data.get("Recipient") != acs_url:
        raise SamlError(
            "saml.recipient.mismatch", f"Recipient is {(data.get('Recipient') or '')[:200]}"
        )
    until = _instant(data, "NotOnOrAfter", required=False)
    if until is None:
        raise SamlError("saml.subject.confirmation", "bearer confirmation without NotOnOrAfter")
    if now >= until + skew:
        raise SamlError("saml.time.expired", "SubjectConfirmationData NotOnOrAfter is past")
    not_before = _instant(data, "NotBefore", required=False)
    if not_before is not None and now + skew < not_before:
        raise SamlError("saml.time.not_yet_valid", "SubjectConfirmationData NotBefore is future")
    return until, data.get("InResponseTo")


def _check_in_response_to(
    expected: str | None,
    allow_unsolicited: bool,
    *,
    response_irt: str | None,
    confirmation_irt: str | None,
) -> None:
    if expected is not None:
        if response_irt is not None and response_irt != expected:
            raise SamlError("saml.in_response_to.mismatch", "Response InResponseTo differs")
        if confirmation_irt != expected:
            raise SamlError(
                "saml.in_response_to.mismatch", "SubjectConfirmationData InResponseTo differs"
            )
        return
    if not allow_unsolicited:
        raise SamlError("saml.in_response_to.unsolicited", "no pending request for this response")
    if response_irt is not None or confirmation_irt is not None:
        raise SamlError("saml.in_response_to.mismatch", "answers a request we have no record of")


def _check_conditions(
    assertion: etree._Element, sp_entity_id: str, now: datetime, skew: timedelta
) -> datetime:
    conditions = assertion.findall(f"{{{_SAML}}}Conditions")
    if len(conditions) != 1:
        raise _unexpected("the Assertion must have one Conditions element")
    until = _instant(conditions[0], "NotOnOrAfter", required=True)
    assert until is not None
    not_before = _instant(conditions[0], "NotBefore", required=False)
    if not_before is not None and now + skew < not_before:
        raise SamlError("saml.time.not_yet_valid", "Conditions NotBefore is in the future")
    if now >= until + skew:
        raise SamlError("saml.time.expired", "Conditions NotOnOrAfter is past")
    restrictions = conditions[0].findall(f"{{{_SAML}}}AudienceRestriction")
    if not restrictions:
        raise SamlError("saml.audience.mismatch", "no AudienceRestriction")
    for restriction in restrictions:  # each restriction must admit us (SAML core §2.5.1.4)
        audiences = [text_of(a).strip() for a in restriction.findall(f"{{{_SAML}}}Audience")]
        if sp_entity_id not in audiences:
            raise SamlError("saml.audience.mismatch", f"audiences: {', '.join(audiences)[:200]}")
    return until


def _authn_statement(
    assertion: etree._Element, now: datetime, skew: timedelta
) -> tuple[datetime | None, str | None]:
    statement = assertion.find(f"{{{_SAML}}}AuthnStatement")
    if statement is None:
        return None, None
    session_until = _instant(statement, "SessionNotOnOrAfter", required=False)
    if session_until is not None and now >= session_until + skew:
        raise SamlError("saml.time.expired", "SessionNotOnOrAfter is past")
    return _instant(statement, "AuthnInstant", required=True), statement.get("SessionIndex")


def _attributes(assertion: etree._Element) -> dict[str, list[str]]:
    if next(assertion.iter(f"{{{_SAML}}}EncryptedAttribute"), None) is not None:
        raise SamlError("saml.encrypted.unsupported", "EncryptedAttribute")
    attributes: dict[str, list[str]] = {}
    for attribute in assertion.iterfind(f"{{{_SAML}}}AttributeStatement/{{{_SAML}}}Attribute"):
        name = attribute.get("Name")
        if not name:
            raise _unexpected("Attribute without Name")
        values = attributes.setdefault(name, [])
        values.extend(text_of(v) for v in attribute.findall(f"{{{_SAML}}}AttributeValue"))
    return attributes


def _xs_boolean(element: etree._Element, name: str) -> bool:
    value = element.get(name)
    if value is None:
        return False
    if value.strip() not in ("true", "1", "false", "0"):
        raise _unexpected(f"{name} is not a boolean")
    return value.strip() in ("true", "1")


def validate_authn_request(
    root: etree._Element,
    *,
    destination: str,
    now: datetime | None = None,
    skew: timedelta = timedelta(minutes=2),
    max_age: timedelta = timedelta(minutes=10),
) -> AuthnRequestInfo:
    """Check an AuthnRequest's shape and freshness; its signature is checked by the binding."""
    now = now if now is not None else datetime.now(UTC)
    request_id = _check_root(root, f"{{{_SAMLP}}}AuthnRequest")
    issue_instant = _instant(root, "IssueInstant", required=True)
    assert issue_instant is not None
    if issue_instant > now + skew:
        raise SamlError("saml.time.not_yet_valid", "IssueInstant is in the future")
    if issue_instant < now - max_age - skew:
        raise SamlError("saml.time.expired", "the AuthnRequest is too old")
    request_destination = root.get("Destination")
    if request_destination is not None and request_destination != destination:
        raise SamlError("saml.destination.mismatch", f"Destination is {request_destination[:200]}")
    issuer = _issuer(root, required=True)
    assert issuer is not None
    raw_index = root.get("AssertionConsumerServiceIndex")
    try:
        acs_index = int(raw_index) if raw_index is not None else None
    except ValueError as exc:
        raise _unexpected("AssertionConsumerServiceIndex is not an integer") from exc
    return AuthnRequestInfo(
        request_id=request_id,
        issuer=issuer,
        acs_url=root.get("AssertionConsumerServiceURL"),
        acs_index=acs_index,
        protocol_binding=root.get("ProtocolBinding"),
        force_authn=_xs_boolean(root, "ForceAuthn"),
        is_passive=_xs_boolean(root, "IsPassive"),
        issue_instant=issue_instant,
        destination=request_destination,
    )
