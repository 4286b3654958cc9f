"""The deliberately naive service provider (``GAR_PROVIDER_NAIVE=<level>``), a target for the
conformity harness: what an SP written in a hurry does, one classic mistake family per level,
so that every adversarial scenario is shown to catch at least one of them.

- ``reader`` (``true``): checks that *a* signature in the document verifies with the broker's
  certificate (signxml on the whole document), then reads the first Assertion under the
  Response, whatever was signed; reads values with ``.text`` (stopping at a comment) and only
  the first value of each attribute; checks no audience, recipient, destination, issuer, time
  window, InResponseTo, replay nor IDC; keys accounts on the NameID.
- ``signature``: a hand-written verifier that takes what the message gives: a message with no
  signature is taken as is, the key is the one in KeyInfo (certificate or RSAKeyValue; the
  metadata's only when KeyInfo has none), any algorithm (SHA-1, HMAC keyed with the
  certificate), transforms it does not know are skipped, the signed element is found by ID
  anywhere in the document (so XSW1 and XSW6 pass); then it reads like ``reader``.
- ``digest``: the same lax verifier, checking each Reference's digest but never the
  SignatureValue (reference validation without signature validation).
- ``signed-info``: checking the SignatureValue over SignedInfo with the metadata certificate
  but never the digests (signature validation without reference validation).
- ``accounts``: validates like the careful mock, but keeps an account per IDO that remembers
  what earlier logins said (classes and establishments of another UAI stay) and takes any
  IDC (licence of another resource).

As a CAS publisher every level but ``accounts`` asks the validation endpoint and lets the
person in whatever it answers, reads the first value of each attribute, keys on ``cas:user``
and follows any ``grain``. Never run it for real users.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
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
LEVELS = ("reader", "signature", "digest", "signed-info", "accounts")
#: Levels that read naively, SAML and CAS alike (``accounts`` validates like the careful mock).
NAIVE_READERS = frozenset({"reader", "signature", "digest", "signed-info"})
_ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
_HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha1": hashes.SHA1(), "sha256": hashes.SHA256(),  # noqa: S303 - naive on purpose
    "sha384": hashes.SHA384(), "sha512": hashes.SHA512(),
}


def read_response(value: str, certificates: Sequence[x509.Certificate], *,
                  max_bytes: int, level: str = "reader") -> ValidatedAssertion:
    root = bindings.decode_post(value, max_bytes=max_bytes)
    if level == "reader":
        signed_parts = _any_signature_verifies(root, certificates)
    else:
        signed_parts = lax_verify(root, certificates, trust_keyinfo=level == "signature",
                                  check_digests=level in ("signature", "digest"),
                                  check_value=level in ("signature", "signed-info"),
                                  require_signature=level != "signature")
    return _first_assertion(root, signed_parts)


def _first_assertion(root: etree._Element, signed_parts: tuple[str, ...]) -> ValidatedAssertion:
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
        return (_signed_kind(signature),)
    raise SamlError("saml.signature.invalid", "no certificate verified the signature")


def _signed_kind(signature: etree._Element) -> str:
    parent = signature.getparent()
    return etree.QName(parent).localname.lower() if parent is not None else "response"


# --------------------------------------------------------------------------- lax verifier


def lax_verify(root: etree._Element, certificates: Sequence[x509.Certificate], *,
               trust_keyinfo: bool = True, check_digests: bool = True,
               check_value: bool = True, require_signature: bool = False) -> tuple[str, ...]:
    """Every ``ds:Signature`` of the document checked the way hurried code does: References
    resolved by ``ID`` anywhere in the document, declared algorithms believed, unknown
    transforms skipped. Returns the kinds of the elements carrying a signature. Also what the
    harness's own tests use to show that a wrapped original still verifies."""
    found = list(root.iter(f"{{{_DS}}}Signature"))
    if not found and require_signature:
        raise SamlError("saml.signature.missing", "no signature anywhere")
    try:
        for signature in found:
            signed_info = signature.find(f"{{{_DS}}}SignedInfo")
            if check_digests and signed_info is not None:
                for reference in signed_info.findall(f"{{{_DS}}}Reference"):
                    _check_reference(root, signature, reference)
            if check_value:
                if signed_info is None:
                    raise ValueError("no SignedInfo")
                _check_signature_value(signature, signed_info, certificates, trust_keyinfo)
    except (ValueError, TypeError, KeyError, InvalidSignature, etree.LxmlError) as exc:
        raise SamlError("saml.signature.invalid", f"{type(exc).__name__}: {exc}"[:200]) from exc
    return tuple(_signed_kind(s) for s in found)


def referenced(root: etree._Element, uri: str) -> etree._Element:
    """What a Reference URI designates for a lax verifier: the first element with that ID in
    document order, wherever it sits (or the whole document for ``""``)."""
    if uri == "":
        return root
    if not uri.startswith("#"):
        raise ValueError(f"unsupported Reference URI {uri[:80]}")
    matches = root.xpath("//*[@ID=$id]", id=uri[1:])
    if not isinstance(matches, list) or not matches or not isinstance(matches[0],
                                                                      etree._Element):
        raise ValueError(f"no element with ID {uri[1:80]}")
    return matches[0]


def _algorithm(uri: str | None) -> hashes.HashAlgorithm:
    name = (uri or "").rsplit("#", 1)[-1].rsplit("-", 1)[-1]
    if name not in _HASHES:
        raise ValueError(f"unknown algorithm {uri}")
    return _HASHES[name]


def _c14n(element: etree._Element, *, comments: bool) -> bytes:
    return etree.tostring(element, method="c14n", exclusive=True, with_comments=comments)


def _check_reference(root: etree._Element, signature: etree._Element,
                     reference: etree._Element) -> None:
    target = referenced(root, reference.get("URI", ""))
    transforms = [t.get("Algorithm") or "" for t in
                  reference.findall(f"{{{_DS}}}Transforms/{{{_DS}}}Transform")]
    comments = any(t.endswith("#WithComments") for t in transforms)
    parent = signature.getparent()
    enveloped = (_ENVELOPED in transforms and parent is not None
                 and (target is signature.getparent() or target in signature.iterancestors()))
    index = parent.index(signature) if parent is not None else 0
    if enveloped and parent is not None:
        parent.remove(signature)
    try:
        data = _c14n(target, comments=comments)
    finally:
        if enveloped and parent is not None:
            parent.insert(index, signature)
    method = reference.find(f"{{{_DS}}}DigestMethod")
    digest = hashes.Hash(_algorithm(method.get("Algorithm") if method is not None else None))
    digest.update(data)
    expected = base64.b64decode(reference.findtext(f"{{{_DS}}}DigestValue") or "")
    if not hmac.compare_digest(digest.finalize(), expected):
        raise ValueError("digest mismatch")


def _check_signature_value(signature: etree._Element, signed_info: etree._Element,
                           certificates: Sequence[x509.Certificate], trust_keyinfo: bool
                           ) -> None:
    value = base64.b64decode(signature.findtext(f"{{{_DS}}}SignatureValue") or "")
    c14n = signed_info.find(f"{{{_DS}}}CanonicalizationMethod")
    data = _c14n(signed_info, comments=(c14n is not None and (c14n.get("Algorithm") or "")
                                        .endswith("#WithComments")))
    method = (signed_info.find(f"{{{_DS}}}SignatureMethod"))
    algorithm = method.get("Algorithm") if method is not None else None
    keys = _keyinfo_keys(signature) if trust_keyinfo else []
    candidates = keys or [c.public_key() for c in certificates]
    if algorithm is not None and "hmac-" in algorithm:
        # Key confusion: "the key" is the only one it has, the (public) certificate.
        for certificate in certificates:
            pem = certificate.public_bytes(Encoding.PEM)
            if hmac.compare_digest(hmac.new(pem, data, hashlib.sha1).digest(), value):
                return
        raise InvalidSignature()
    for key in candidates:
        if not isinstance(key, rsa.RSAPublicKey):
            continue
        try:
            key.verify(value, data, padding.PKCS1v15(), _algorithm(algorithm))
        except InvalidSignature:
            continue
        return
    raise InvalidSignature()


def _keyinfo_keys(signature: etree._Element) -> list[object]:
    keys: list[object] = []
    for text in signature.iterfind(f"{{{_DS}}}KeyInfo//{{{_DS}}}X509Certificate"):
        der = base64.b64decode("".join((text.text or "").split()))
        keys.append(x509.load_der_x509_certificate(der).public_key())
    for value in signature.iterfind(f"{{{_DS}}}KeyInfo/{{{_DS}}}KeyValue/{{{_DS}}}RSAKeyValue"):
        modulus = base64.b64decode(value.findtext(f"{{{_DS}}}Modulus") or "")
        exponent = base64.b64decode(value.findtext(f"{{{_DS}}}Exponent") or "")
        keys.append(rsa.RSAPublicNumbers(int.from_bytes(exponent, "big"),
                                         int.from_bytes(modulus, "big")).public_key())
    return keys


# --------------------------------------------------------------------------- CAS


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
