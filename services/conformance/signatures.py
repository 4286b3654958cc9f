"""Signatures as an attacker or a sloppy peer would make them.

The toolkit's :func:`services.saml.signing.sign` makes only correct signatures; the harness
also needs signatures by a foreign key, with a swapped or missing KeyInfo, with weak or
disallowed algorithms and transforms. The trick for the latter is to edit ``SignedInfo``
after signxml has signed and then sign ``SignedInfo`` again ourselves: the digest stays
right, so only a verifier that checks *which* algorithms it was given refuses the result.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree

from services.keys import KeyPair
from services.saml import signing
from services.saml.constants import NS

_DS = NS["ds"]
HMAC_SHA1 = "http://www.w3.org/2000/09/xmldsig#hmac-sha1"
XSLT = "http://www.w3.org/TR/1999/REC-xslt-19991116"
XPATH = "http://www.w3.org/TR/1999/REC-xpath-19991116"
EXC_C14N_WITH_COMMENTS = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"
UNKNOWN_TRANSFORM = "urn:example:gar-testbed:unknown-transform"


def signature_of(element: etree._Element) -> etree._Element:
    found = element.find(f"{{{_DS}}}Signature")
    if found is None:
        raise ValueError(f"{etree.QName(element).localname} is not signed")
    return found


def sign(
    element: etree._Element, keypair: KeyPair, *, algorithm: str | None = None,
    keyinfo: KeyPair | bool | None = True,
) -> etree._Element:
    """Sign ``element`` with ``keypair``; ``keyinfo`` names the certificate shown in KeyInfo
    (True: the signer's own, a KeyPair: that one's certificate, False/None: no KeyInfo)."""
    signed = (signing.sign(element, keypair) if algorithm is None
              else signing.sign(element, keypair, algorithm=algorithm))
    signature = signature_of(signed)
    key_info = signature.find(f"{{{_DS}}}KeyInfo")
    if keyinfo is False or keyinfo is None:
        if key_info is not None:
            signature.remove(key_info)
    elif isinstance(keyinfo, KeyPair) and key_info is not None:
        for cert in key_info.iter(f"{{{_DS}}}X509Certificate"):
            cert.text = keyinfo.cert_b64
    return signed


def _c14n(element: etree._Element) -> bytes:
    return etree.tostring(element, method="c14n", exclusive=True, with_comments=False)


def resign_signed_info(signature: etree._Element, keypair: KeyPair) -> None:
    """Compute SignatureValue again (RSA-SHA256) over the possibly edited SignedInfo."""
    signed_info = signature.find(f"{{{_DS}}}SignedInfo")
    value = signature.find(f"{{{_DS}}}SignatureValue")
    if signed_info is None or value is None:
        raise ValueError("not an XML signature")
    raw = keypair.private_key.sign(_c14n(signed_info), padding.PKCS1v15(), hashes.SHA256())
    value.text = base64.b64encode(raw).decode()


def add_transform(element: etree._Element, algorithm: str, keypair: KeyPair,
                  *, body: str | None = None) -> None:
    """Append a transform to the signature's Reference and sign SignedInfo again."""
    signature = signature_of(element)
    transforms = signature.find(f"{{{_DS}}}SignedInfo/{{{_DS}}}Reference/{{{_DS}}}Transforms")
    if transforms is None:
        raise ValueError("the Reference has no Transforms")
    transform = etree.SubElement(transforms, f"{{{_DS}}}Transform", Algorithm=algorithm)
    if algorithm == XPATH:
        xpath = etree.SubElement(transform, f"{{{_DS}}}XPath")
        xpath.text = body or "not(ancestor-or-self::ds:Signature)"
    elif body is not None:
        transform.text = body
    resign_signed_info(signature, keypair)


def set_canonicalization(element: etree._Element, algorithm: str, keypair: KeyPair) -> None:
    signature = signature_of(element)
    method = signature.find(f"{{{_DS}}}SignedInfo/{{{_DS}}}CanonicalizationMethod")
    if method is None:
        raise ValueError("no CanonicalizationMethod")
    method.set("Algorithm", algorithm)
    resign_signed_info(signature, keypair)


def sha1_digest(element: etree._Element, keypair: KeyPair) -> None:
    """Declare and compute a SHA-1 digest of the signed element, then sign SignedInfo again."""
    signature = signature_of(element)
    reference = signature.find(f"{{{_DS}}}SignedInfo/{{{_DS}}}Reference")
    assert reference is not None
    method = reference.find(f"{{{_DS}}}DigestMethod")
    value = reference.find(f"{{{_DS}}}DigestValue")
    assert method is not None and value is not None
    parent, index = signature.getparent(), None
    assert parent is not None
    index = parent.index(signature)
    parent.remove(signature)
    digest = hashlib.sha1(_c14n(parent), usedforsecurity=False).digest()
    parent.insert(index, signature)
    method.set("Algorithm", "http://www.w3.org/2000/09/xmldsig#sha1")
    value.text = base64.b64encode(digest).decode()
    resign_signed_info(signature, keypair)


def hmac_with_public_certificate(element: etree._Element, keypair: KeyPair) -> None:
    """Key confusion: declare HMAC-SHA1 and key it with the trusted (public) certificate."""
    signature = signature_of(element)
    signed_info = signature.find(f"{{{_DS}}}SignedInfo")
    value = signature.find(f"{{{_DS}}}SignatureValue")
    assert signed_info is not None and value is not None
    method = signed_info.find(f"{{{_DS}}}SignatureMethod")
    assert method is not None
    method.set("Algorithm", HMAC_SHA1)
    mac = hmac.new(keypair.cert_pem, _c14n(signed_info), hashlib.sha1).digest()
    value.text = base64.b64encode(mac).decode()


def garble(element: etree._Element, what: str, keypair: KeyPair) -> None:
    """Flip one character of SignatureValue, or of DigestValue then sign SignedInfo again (so
    only the digest is wrong, not the signature over it), keeping each valid base64."""
    signature = signature_of(element)
    path = {"SignatureValue": f"{{{_DS}}}SignatureValue",
            "DigestValue": f"{{{_DS}}}SignedInfo/{{{_DS}}}Reference/{{{_DS}}}DigestValue"}[what]
    node = signature.find(path)
    assert node is not None and node.text
    text = node.text.strip()
    node.text = ("B" if text[0] == "A" else "A") + text[1:]
    if what == "DigestValue":
        resign_signed_info(signature, keypair)


def clone_certificate(original: KeyPair, attacker: KeyPair) -> KeyPair:
    """A self-signed certificate that copies ``original``'s subject, issuer, serial number and
    validity, around the attacker's key: what matches a trust check by name or serial."""
    cert = original.certificate
    clone = (x509.CertificateBuilder().subject_name(cert.subject).issuer_name(cert.issuer)
             .public_key(attacker.private_key.public_key()).serial_number(cert.serial_number)
             .not_valid_before(cert.not_valid_before_utc)
             .not_valid_after(cert.not_valid_after_utc)
             .sign(attacker.private_key, hashes.SHA256()))
    return KeyPair(attacker.private_key, clone)


def rsa_key_value_only(element: etree._Element, keypair: KeyPair) -> None:
    """KeyInfo reduced to the bare public key (``KeyValue/RSAKeyValue``), no certificate."""
    signature = signature_of(element)
    key_info = signature.find(f"{{{_DS}}}KeyInfo")
    if key_info is None:
        key_info = etree.SubElement(signature, f"{{{_DS}}}KeyInfo")
    for child in list(key_info):
        key_info.remove(child)
    numbers = keypair.private_key.public_key().public_numbers()
    value = etree.SubElement(etree.SubElement(key_info, f"{{{_DS}}}KeyValue"),
                             f"{{{_DS}}}RSAKeyValue")
    for name, number in (("Modulus", numbers.n), ("Exponent", numbers.e)):
        raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
        etree.SubElement(value, f"{{{_DS}}}{name}").text = base64.b64encode(raw).decode()


def blank(element: etree._Element, what: str, keypair: KeyPair) -> None:
    """Empty SignatureValue (as is), or empty DigestValue (SignedInfo signed again, so only
    the missing digest is wrong)."""
    signature = signature_of(element)
    if what == "SignatureValue":
        _child(signature, "SignatureValue").text = ""
        return
    _child(signature, "SignedInfo/ds:Reference/ds:DigestValue").text = ""
    resign_signed_info(signature, keypair)


def remove_signature_value(element: etree._Element) -> None:
    signature = signature_of(element)
    signature.remove(_child(signature, "SignatureValue"))


def empty_signature(element: etree._Element) -> None:
    """``<ds:Signature/>``: the element is there, with nothing in it."""
    signature = signature_of(element)
    for child in list(signature):
        signature.remove(child)


def duplicate_reference(element: etree._Element, keypair: KeyPair) -> None:
    """A second, identical Reference in SignedInfo, signed again: both digests hold."""
    signature = signature_of(element)
    reference = _child(signature, "SignedInfo/ds:Reference")
    reference.addnext(copy.deepcopy(reference))
    resign_signed_info(signature, keypair)


def _child(signature: etree._Element, path: str) -> etree._Element:
    found = signature.find(f"ds:{path}", {"ds": _DS})
    if found is None:
        raise ValueError(f"no {path} in the signature")
    return found
