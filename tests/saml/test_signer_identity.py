"""services.saml.signing.sign: the same bytes signxml's XMLSigner produced, for what is signed.

The broker's signer is its own (lxml's exclusive c14n and ``cryptography``), no longer
signxml's generic one; peers must not be able to tell. RSA PKCS#1 v1.5 is deterministic, so
the reference below (the broker's former ``sign``, verbatim through signxml) and the new
signer must give byte-identical documents for the same input and key: digest, signature value,
element order, namespace declarations and the certificate's line breaks included.
"""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree
from signxml.algorithms import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConstructionMethod,
    SignatureMethod,
)
from signxml.signer import XMLSigner

from broker import saml_idp
from services.keys import KeyPair
from services.saml import build, signing
from services.saml.constants import (
    ALG_RSA_SHA1,
    ALG_RSA_SHA256,
    ALG_RSA_SHA384,
    ALG_RSA_SHA512,
    DIGEST_SHA256,
    EXC_C14N,
    NS,
)
from services.saml.xml import to_bytes
from services.settings import Settings
from tests.saml.conftest import ACS, REQUEST_ID, SP, LegacySigner, MakeResponse

_DS = NS["ds"]


def _signxml_sign(
    element: etree._Element, keypair: KeyPair, *, algorithm: str = ALG_RSA_SHA256
) -> etree._Element:
    """The broker's ``signing.sign`` as it was, through signxml's XMLSigner: the reference."""
    target = copy.deepcopy(element)
    target.tail = None
    for old in target.findall(f"{{{_DS}}}Signature"):
        target.remove(old)
    placeholder = etree.Element(f"{{{_DS}}}Signature", {"Id": "placeholder"}, nsmap={"ds": _DS})
    issuer = target.find(f"{{{NS['saml']}}}Issuer")
    target.insert(0 if issuer is None else target.index(issuer) + 1, placeholder)
    signer_class = LegacySigner if algorithm == ALG_RSA_SHA1 else XMLSigner
    signer = signer_class(
        method=SignatureConstructionMethod.enveloped,
        signature_algorithm=SignatureMethod(algorithm),
        digest_algorithm=DigestAlgorithm(DIGEST_SHA256),
        c14n_algorithm=CanonicalizationMethod(EXC_C14N),
    )
    signed: etree._Element = signer.sign(
        target,
        key=keypair.private_key,
        cert=[keypair.certificate],
        reference_uri=f"#{element.get('ID')}",
        id_attribute="ID",
    )
    return signed


def _assertion_of(response: etree._Element) -> etree._Element:
    assertion = response.find("saml:Assertion", NS)
    assert assertion is not None
    return assertion


@pytest.mark.parametrize("algorithm", [ALG_RSA_SHA256, ALG_RSA_SHA384, ALG_RSA_SHA512,
                                       ALG_RSA_SHA1])
def test_a_signed_assertion_is_byte_identical_to_signxml(
    idp_keys: KeyPair, make_response: MakeResponse, algorithm: str
) -> None:
    assertion = _assertion_of(make_response(sign_response=False, sign_assertion=False))
    assert to_bytes(signing.sign(assertion, idp_keys, algorithm=algorithm)) == to_bytes(
        _signxml_sign(assertion, idp_keys, algorithm=algorithm)
    )


def test_a_comment_inside_the_signed_element_is_signed_as_signxml_did(
    idp_keys: KeyPair, make_response: MakeResponse
) -> None:
    """Exclusive c14n without comments: the comment is kept in the document, not in the digest."""
    assertion = _assertion_of(make_response(sign_response=False, sign_assertion=False))
    value = assertion.find(".//saml:AttributeValue", NS)
    assert value is not None
    value.append(etree.Comment(" a comment "))
    value[-1].tail = "x"
    assert to_bytes(signing.sign(assertion, idp_keys)) == to_bytes(
        _signxml_sign(assertion, idp_keys)
    )


def test_a_signed_response_around_a_signed_assertion_is_byte_identical_to_signxml(
    idp_keys: KeyPair, make_response: MakeResponse
) -> None:
    """The identity provider mock's shape: the Response signed over an already signed Assertion."""
    response = make_response(sign_response=False)
    assert to_bytes(signing.sign(response, idp_keys)) == to_bytes(
        _signxml_sign(response, idp_keys)
    )


def test_resigning_replaces_the_old_signature_as_signxml_did(
    idp_keys: KeyPair, make_response: MakeResponse
) -> None:
    signed_once = _assertion_of(make_response(sign_response=False))
    assert to_bytes(signing.sign(signed_once, idp_keys)) == to_bytes(
        _signxml_sign(signed_once, idp_keys)
    )


def test_the_brokers_response_to_a_provider_is_byte_identical_to_signxml(
    tmp_path: Path, idp_keys: KeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the broker really sends a provider: the self-posting page with its Response."""

    def issue() -> str:
        counter = itertools.count()
        monkeypatch.setattr(build, "new_id", lambda: f"_id{next(counter)}")
        return saml_idp.issue_response(
            Settings(data_dir=tmp_path),
            idp_keys,
            sp_entity_id=SP,
            acs_url=ACS,
            in_response_to=REQUEST_ID,
            relay_state="https://sp.example.test/resource",
            attributes={"IDO": ["ido-1"], "UAI": ["0350001A", "0350002B"], "PRO": ["National_elv"]},
            assertion_id="_assertion",
            now=datetime(2026, 12, 6, 10, 0, tzinfo=UTC),
        )

    ours = issue()
    monkeypatch.setattr(signing, "sign", _signxml_sign)
    assert ours == issue()
