"""Enveloped XML signatures, and their verification on exactly the element that is then read.

Verification is where SAML implementations break (signature wrapping): a valid signature
somewhere in the document proves nothing about the element the code goes on to read. So
:func:`verify` only accepts the ``ds:Signature`` that is a direct child of the element, whose
single Reference points at that element's own ``ID``, and returns signxml's re-parsed copy of
what was signed; callers read from that copy and nothing else. Trust comes only from the
certificates the caller passes (from metadata); the certificate embedded in KeyInfo is
ignored, so a self-signed attacker certificate gains nothing.
"""

from __future__ import annotations

import base64
import copy
import hashlib
from collections.abc import Sequence
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import SignXMLException
from signxml.verifier import SignatureConfiguration, VerifyResult, XMLVerifier

from services.keys import KeyPair
from services.saml.constants import (
    ALG_RSA_SHA1,
    ALG_RSA_SHA256,
    ALG_RSA_SHA384,
    ALG_RSA_SHA512,
    C14N_10,
    C14N_11,
    DIGEST_SHA1,
    DIGEST_SHA256,
    DIGEST_SHA384,
    DIGEST_SHA512,
    EXC_C14N,
    NS,
    TRANSFORM_ENVELOPED,
)
from services.saml.errors import SamlError

_DS = NS["ds"]
_STRONG_SIGNATURES = frozenset({ALG_RSA_SHA256, ALG_RSA_SHA384, ALG_RSA_SHA512})
_STRONG_DIGESTS = frozenset({DIGEST_SHA256, DIGEST_SHA384, DIGEST_SHA512})
# Canonicalisations without comments only: a comment must never be part of what is trusted.
_ALLOWED_TRANSFORMS = frozenset({TRANSFORM_ENVELOPED, EXC_C14N, C14N_10, C14N_11})


# The signature algorithms the signer produces, and the hash each one signs with. RSA-SHA1 is
# here only so the testbed can emulate old ENTs; verification refuses it unless a peer is
# allowed it.
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    ALG_RSA_SHA1: hashes.SHA1,
    ALG_RSA_SHA256: hashes.SHA256,
    ALG_RSA_SHA384: hashes.SHA384,
    ALG_RSA_SHA512: hashes.SHA512,
}
_DS_NSMAP = {"ds": _DS}


def sign(
    element: etree._Element, keypair: KeyPair, *, algorithm: str = ALG_RSA_SHA256
) -> etree._Element:
    """Return a signed copy of ``element`` with ``ds:Signature`` right after its Issuer.

    The input element is left untouched; the result is a new tree root. The signature is
    enveloped, exclusive c14n, SHA-256 digest, with the signing certificate in KeyInfo: the
    same document, byte for byte, that signxml's ``XMLSigner`` made from the same input and
    key (``tests/saml/test_signer_identity.py`` holds that). It is built here rather than by
    signxml because signxml serialises and re-parses the document twice and builds generic
    machinery per call, which cost about half of each signature's time on the login path;
    what it checks on *verification* is untouched (``verify`` below still uses signxml).
    """
    hash_algorithm = _HASHES.get(algorithm)
    if hash_algorithm is None:
        raise ValueError(f"unsupported signature algorithm {algorithm}")
    element_id = element.get("ID")
    if not element_id:
        raise ValueError("only elements with an ID attribute can be signed")
    target = copy.deepcopy(element)
    target.tail = None
    for old in target.findall(f"{{{_DS}}}Signature"):
        target.remove(old)
    # The digest covers the element without its signature (the enveloped transform), so it is
    # taken before the signature goes in; without comments, as the CanonicalizationMethod says
    # (lxml's c14n keeps them unless told not to).
    digest = hashlib.sha256(_exc_c14n(target)).digest()

    signature = etree.Element(f"{{{_DS}}}Signature", nsmap=_DS_NSMAP)
    issuer = target.find(f"{{{NS['saml']}}}Issuer")
    target.insert(0 if issuer is None else target.index(issuer) + 1, signature)
    signed_info = etree.SubElement(signature, f"{{{_DS}}}SignedInfo", nsmap=_DS_NSMAP)
    etree.SubElement(signed_info, f"{{{_DS}}}CanonicalizationMethod", Algorithm=EXC_C14N)
    etree.SubElement(signed_info, f"{{{_DS}}}SignatureMethod", Algorithm=algorithm)
    reference = etree.SubElement(signed_info, f"{{{_DS}}}Reference", URI=f"#{element_id}")
    transforms = etree.SubElement(reference, f"{{{_DS}}}Transforms")
    etree.SubElement(transforms, f"{{{_DS}}}Transform", Algorithm=TRANSFORM_ENVELOPED)
    etree.SubElement(transforms, f"{{{_DS}}}Transform", Algorithm=EXC_C14N)
    etree.SubElement(reference, f"{{{_DS}}}DigestMethod", Algorithm=DIGEST_SHA256)
    etree.SubElement(reference, f"{{{_DS}}}DigestValue").text = base64.b64encode(digest).decode()
    value = keypair.private_key.sign(
        _exc_c14n(signed_info),
        padding.PKCS1v15(),
        hash_algorithm(),
    )
    etree.SubElement(signature, f"{{{_DS}}}SignatureValue").text = base64.b64encode(value).decode()
    key_info = etree.SubElement(signature, f"{{{_DS}}}KeyInfo")
    x509_data = etree.SubElement(key_info, f"{{{_DS}}}X509Data")
    etree.SubElement(x509_data, f"{{{_DS}}}X509Certificate").text = _pem_body(keypair.certificate)
    return target


def _exc_c14n(element: etree._Element) -> bytes:
    return etree.tostring(element, method="c14n", exclusive=True, with_comments=False)


@lru_cache(maxsize=16)
def _pem_body(certificate: x509.Certificate) -> str:
    """The certificate's PEM without its armour lines, line breaks kept (as signxml wrote it)."""
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
    return pem.split("-----BEGIN CERTIFICATE-----\n", 1)[1].split("-----END CERTIFICATE-----", 1)[0]


def verify(
    element: etree._Element,
    certificates: Sequence[x509.Certificate],
    *,
    allow_sha1: bool = False,
) -> etree._Element:
    """Verify the enveloped signature of ``element`` and return the element that was signed."""
    signatures = element.findall(f"{{{_DS}}}Signature")
    if not signatures:
        raise SamlError("saml.signature.missing", f"{etree.QName(element).localname} is not signed")
    if len(signatures) > 1:
        raise SamlError("saml.signature.invalid", "more than one signature on the element")
    element_id = element.get("ID")
    if not element_id:
        raise SamlError("saml.signature.invalid", "signed element has no ID")
    _check_signature_shape(signatures[0], element_id, allow_sha1=allow_sha1)
    if not certificates:
        raise SamlError("saml.signature.invalid", "no trusted certificate for this signer")

    config = SignatureConfiguration(
        require_x509=True,
        location="./",
        expect_references=1,
        signature_methods=frozenset(
            SignatureMethod(a)
            for a in _STRONG_SIGNATURES | ({ALG_RSA_SHA1} if allow_sha1 else set())
        ),
        digest_algorithms=frozenset(
            DigestAlgorithm(d) for d in _STRONG_DIGESTS | ({DIGEST_SHA1} if allow_sha1 else set())
        ),
    )
    data = etree.tostring(element, encoding="UTF-8", with_tail=False)
    failures: list[str] = []
    for certificate in certificates:
        try:
            result = XMLVerifier().verify(
                data,
                x509_cert=certificate,
                id_attribute="ID",
                expect_config=config,
                parser=_verifier_parser(),
            )
        except (SignXMLException, etree.LxmlError, ValueError, TypeError, KeyError) as exc:
            # Hostile input reaches signxml internals; any of these means "not a valid signature".
            failures.append(f"{type(exc).__name__}: {exc}"[:200])
            continue
        signed = result.signed_xml if isinstance(result, VerifyResult) else None
        if signed is None or signed.tag != element.tag or signed.get("ID") != element_id:
            raise SamlError("saml.signature.invalid", "the signature does not cover this element")
        return signed
    raise SamlError("saml.signature.invalid", "; ".join(failures) or "no certificate matched")


def _verifier_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _check_signature_shape(signature: etree._Element, element_id: str, *, allow_sha1: bool) -> None:
    """Refuse weak or unexpected algorithms with a precise code before any cryptography runs."""
    ns = {"ds": _DS}
    references = signature.findall("ds:SignedInfo/ds:Reference", ns)
    if len(references) != 1:
        raise SamlError(
            "saml.signature.invalid", f"expected one Reference, found {len(references)}"
        )
    if references[0].get("URI") != f"#{element_id}":
        raise SamlError("saml.signature.invalid", "the Reference does not point at the element")
    method = signature.find("ds:SignedInfo/ds:SignatureMethod", ns)
    digest = references[0].find("ds:DigestMethod", ns)
    if method is None or digest is None:
        raise SamlError("saml.signature.invalid", "SignatureMethod or DigestMethod missing")
    for algorithm, strong, weak in (
        (method.get("Algorithm"), _STRONG_SIGNATURES, ALG_RSA_SHA1),
        (digest.get("Algorithm"), _STRONG_DIGESTS, DIGEST_SHA1),
    ):
        if algorithm in strong or (algorithm == weak and allow_sha1):
            continue
        raise SamlError("saml.signature.algorithm", f"algorithm not allowed: {algorithm}")
    for transform in references[0].findall("ds:Transforms/ds:Transform", ns):
        if transform.get("Algorithm") not in _ALLOWED_TRANSFORMS:
            raise SamlError(
                "saml.signature.algorithm", f"transform not allowed: {transform.get('Algorithm')}"
            )
    c14n = signature.find("ds:SignedInfo/ds:CanonicalizationMethod", ns)
    if c14n is None or c14n.get("Algorithm") not in _ALLOWED_TRANSFORMS - {TRANSFORM_ENVELOPED}:
        raise SamlError("saml.signature.algorithm", "canonicalization method not allowed")
