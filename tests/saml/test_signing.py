"""services.saml.signing: enveloped signatures verified on exactly the element read."""

from __future__ import annotations

import copy

import pytest
from lxml import etree
from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm, SignatureMethod

from services.keys import KeyPair
from services.saml import build, signing
from services.saml.constants import ALG_RSA_SHA1, NAMEID_TRANSIENT, NS
from services.saml.errors import SamlError
from services.saml.xml import parse, to_bytes
from tests.saml.conftest import ACS, IDP, NOW, SP, LegacySigner


def _assertion() -> etree._Element:
    return build.assertion(
        issuer=IDP,
        name_id="_n",
        name_id_format=NAMEID_TRANSIENT,
        audience=SP,
        recipient=ACS,
        in_response_to=None,
        attributes={"mail": ["a@example.test"]},
        now=NOW,
    )


def _code(element: etree._Element, keys: KeyPair, **kwargs: bool) -> str:
    with pytest.raises(SamlError) as caught:
        signing.verify(element, [keys.certificate], **kwargs)
    return caught.value.code


def test_signature_is_placed_right_after_issuer(idp_keys: KeyPair) -> None:
    signed = signing.sign(_assertion(), idp_keys)
    assert etree.QName(signed[0]).localname == "Issuer"
    assert signed[1].tag == f"{{{NS['ds']}}}Signature"


def test_signing_leaves_the_input_untouched(idp_keys: KeyPair) -> None:
    original = _assertion()
    before = to_bytes(original)
    signing.sign(original, idp_keys)
    assert to_bytes(original) == before


def test_signed_element_verifies_and_returns_the_signed_copy(idp_keys: KeyPair) -> None:
    signed = signing.sign(_assertion(), idp_keys)
    verified = signing.verify(signed, [idp_keys.certificate])
    assert verified.tag == signed.tag
    assert verified.get("ID") == signed.get("ID")
    assert verified.findtext("saml:Subject/saml:NameID", namespaces=NS) == "_n"


def test_signature_survives_the_wire(idp_keys: KeyPair) -> None:
    signed = signing.sign(_assertion(), idp_keys)
    received = parse(to_bytes(signed), max_bytes=1 << 20)
    assert signing.verify(received, [idp_keys.certificate]).get("ID") == signed.get("ID")


def test_signed_assertion_still_verifies_inside_a_response(idp_keys: KeyPair) -> None:
    signed = signing.sign(_assertion(), idp_keys)
    response = build.response(issuer=IDP, destination=ACS, in_response_to=None, assertion=signed)
    received = parse(to_bytes(response), max_bytes=1 << 20)
    inner = received.find("saml:Assertion", NS)
    assert inner is not None
    signing.verify(inner, [idp_keys.certificate])


def test_any_of_several_certificates_may_match(idp_keys: KeyPair, attacker_keys: KeyPair) -> None:
    """Key rotation: metadata lists the old and the new certificate."""
    signed = signing.sign(_assertion(), idp_keys)
    signing.verify(signed, [attacker_keys.certificate, idp_keys.certificate])


def test_unsigned_element_is_refused(idp_keys: KeyPair) -> None:
    assert _code(_assertion(), idp_keys) == "saml.signature.missing"


def test_signature_by_an_untrusted_key_is_refused(
    idp_keys: KeyPair, attacker_keys: KeyPair
) -> None:
    """The attacker's certificate rides in KeyInfo; it must not be trusted."""
    signed = signing.sign(_assertion(), attacker_keys)
    assert _code(signed, idp_keys) == "saml.signature.invalid"


def test_no_trusted_certificate_means_invalid(idp_keys: KeyPair) -> None:
    signed = signing.sign(_assertion(), idp_keys)
    with pytest.raises(SamlError) as caught:
        signing.verify(signed, [])
    assert caught.value.code == "saml.signature.invalid"


def test_content_tampered_after_signing_is_refused(idp_keys: KeyPair) -> None:
    signed = signing.sign(_assertion(), idp_keys)
    value = signed.find("saml:AttributeStatement/saml:Attribute/saml:AttributeValue", NS)
    assert value is not None
    value.text = "admin@example.test"
    assert _code(signed, idp_keys) == "saml.signature.invalid"


def test_signature_moved_to_a_parent_is_refused(idp_keys: KeyPair) -> None:
    """A valid signature over a child says nothing about the parent that holds it."""
    signed = signing.sign(_assertion(), idp_keys)
    response = build.response(issuer=IDP, destination=ACS, in_response_to=None, assertion=signed)
    signature = signed.find("ds:Signature", NS)
    assert signature is not None
    response.insert(1, copy.deepcopy(signature))
    assert _code(response, idp_keys) == "saml.signature.invalid"


def test_duplicate_id_inside_the_signed_element_is_refused(idp_keys: KeyPair) -> None:
    signed = signing.sign(_assertion(), idp_keys)
    evil = etree.SubElement(signed, "{urn:evil}Extra", ID=signed.get("ID") or "")
    evil.text = "x"
    assert _code(signed, idp_keys) == "saml.signature.invalid"


def test_two_signatures_on_one_element_are_refused(idp_keys: KeyPair) -> None:
    signed = signing.sign(_assertion(), idp_keys)
    signature = signed.find("ds:Signature", NS)
    assert signature is not None
    signed.insert(2, copy.deepcopy(signature))
    assert _code(signed, idp_keys) == "saml.signature.invalid"


def test_rsa_sha1_signature_is_refused_by_default(idp_keys: KeyPair) -> None:
    signed = signing.sign(_assertion(), idp_keys, algorithm=ALG_RSA_SHA1)
    assert _code(signed, idp_keys) == "saml.signature.algorithm"


def test_rsa_sha1_signature_is_accepted_when_allowed(idp_keys: KeyPair) -> None:
    signed = signing.sign(_assertion(), idp_keys, algorithm=ALG_RSA_SHA1)
    assert signing.verify(signed, [idp_keys.certificate], allow_sha1=True).get("ID")


def test_sha1_digest_is_refused_by_default(idp_keys: KeyPair) -> None:
    element = _assertion()
    signer = LegacySigner(
        signature_algorithm=SignatureMethod.RSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA1,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    signed = signer.sign(
        element,
        key=idp_keys.private_key,
        cert=[idp_keys.certificate],
        reference_uri=f"#{element.get('ID')}",
    )
    assert _code(signed, idp_keys) == "saml.signature.algorithm"
    assert signing.verify(signed, [idp_keys.certificate], allow_sha1=True).get("ID")


@pytest.mark.parametrize("value", ["", "!!!not base64!!!", "AAAA"])
def test_garbled_signature_value_is_refused(idp_keys: KeyPair, value: str) -> None:
    signed = signing.sign(_assertion(), idp_keys)
    signature_value = signed.find("ds:Signature/ds:SignatureValue", NS)
    assert signature_value is not None
    signature_value.text = value
    assert _code(signed, idp_keys) == "saml.signature.invalid"


def test_reference_to_another_element_is_refused(idp_keys: KeyPair) -> None:
    signed = signing.sign(_assertion(), idp_keys)
    reference = signed.find("ds:Signature/ds:SignedInfo/ds:Reference", NS)
    assert reference is not None
    reference.set("URI", "#_elsewhere")
    assert _code(signed, idp_keys) == "saml.signature.invalid"


@pytest.mark.parametrize(
    "algorithm",
    [
        "http://www.w3.org/TR/1999/REC-xslt-19991116",
        "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
    ],
)
def test_unexpected_transform_is_refused(idp_keys: KeyPair, algorithm: str) -> None:
    signed = signing.sign(_assertion(), idp_keys)
    transforms = signed.findall("ds:Signature/ds:SignedInfo/ds:Reference/ds:Transforms/*", NS)
    transforms[-1].set("Algorithm", algorithm)
    assert _code(signed, idp_keys) == "saml.signature.algorithm"
