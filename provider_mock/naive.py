"""The deliberately naive service provider (``GAR_PROVIDER_NAIVE=true``), a target for the
conformity harness: what an SP written in a hurry does.

It checks that *a* signature in the document verifies with the broker's certificate, then
reads the first Assertion under the Response, whatever was signed; it reads values with
``.text`` (stopping at a comment) and only the first value of each attribute; it checks no
audience, recipient, destination, issuer, time window, InResponseTo, nor replay. As a CAS
publisher it asks the validation endpoint but lets the person in whatever it answers (a
ticket in the URL is taken as proof), reads the first value of each attribute and follows any
``grain``. Never run it for real users: it exists so that the harness is shown to catch each
of these mistakes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from cryptography import x509
from lxml import etree
from signxml.exceptions import SignXMLException
from signxml.verifier import XMLVerifier

from services.saml import bindings
from services.saml.constants import NS
from services.saml.errors import SamlError
from services.saml.validate import ValidatedAssertion
from services.saml.xml import parse

_SAML = NS["saml"]
_DS = NS["ds"]
_CAS = "http://www.yale.edu/tp/cas"


def read_response(value: str, certificates: Sequence[x509.Certificate], *,
                  max_bytes: int) -> ValidatedAssertion:
    root = bindings.decode_post(value, max_bytes=max_bytes)
    signed_parts = _any_signature_verifies(root, certificates)
    assertion = root.find(f"{{{_SAML}}}Assertion")
    if assertion is None:
        raise SamlError("saml.message.unexpected", "no Assertion")
    name_id = assertion.find(f"{{{_SAML}}}Subject/{{{_SAML}}}NameID")
    issuer = assertion.find(f"{{{_SAML}}}Issuer")
    confirmation = assertion.find(
        f"{{{_SAML}}}Subject/{{{_SAML}}}SubjectConfirmation/{{{_SAML}}}SubjectConfirmationData")
    attributes: dict[str, list[str]] = {}
    for attribute in assertion.iter(f"{{{_SAML}}}Attribute"):
        first = attribute.find(f"{{{_SAML}}}AttributeValue")
        attributes[attribute.get("Name") or ""] = [first.text or "" if first is not None else ""]
    return ValidatedAssertion(
        issuer=(issuer.text or "") if issuer is not None else "",
        assertion_id=assertion.get("ID") or "",
        response_id=root.get("ID") or "",
        name_id=(name_id.text or "") if name_id is not None else "",
        name_id_format=name_id.get("Format") if name_id is not None else None,
        session_index=None,
        attributes=attributes,
        not_on_or_after=datetime.now(UTC) + timedelta(minutes=5),
        in_response_to=confirmation.get("InResponseTo") if confirmation is not None else None,
        authn_instant=None,
        signed_parts=signed_parts,
    )


def _any_signature_verifies(root: etree._Element, certificates: Sequence[x509.Certificate]
                            ) -> tuple[str, ...]:
    """signxml's defaults on the whole document: the first signature found anywhere."""
    signature = next(root.iter(f"{{{_DS}}}Signature"), None)
    if signature is None:
        raise SamlError("saml.signature.missing", "no signature anywhere")
    data = etree.tostring(root)
    for certificate in certificates:
        try:
            XMLVerifier().verify(data, x509_cert=certificate, id_attribute="ID")
        except (SignXMLException, etree.LxmlError, ValueError, TypeError, KeyError):
            continue
        parent = signature.getparent()
        kind = etree.QName(parent).localname.lower() if parent is not None else "response"
        return (kind,)
    raise SamlError("saml.signature.invalid", "no certificate verified the signature")


def read_cas_answer(body: bytes, *, max_bytes: int) -> tuple[str, dict[str, list[str]]]:
    """The user and first attribute values of a success; an unnamed guest on anything else
    (a failure, an unreadable answer): the hurried client's "the ticket was there"."""
    try:
        root = parse(body, max_bytes=max_bytes)
    except SamlError:
        return "invité", {}
    success = root.find(f"{{{_CAS}}}authenticationSuccess")
    if success is None:
        return "invité", {}
    attributes: dict[str, list[str]] = {}
    holder = success.find(f"{{{_CAS}}}attributes")
    for element in holder if holder is not None else ():
        if isinstance(element.tag, str):
            attributes.setdefault(etree.QName(element).localname, [element.text or ""])
    return success.findtext(f"{{{_CAS}}}user") or "", attributes
