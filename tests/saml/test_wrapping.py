"""XML signature wrapping (XSW): a valid signature elsewhere in the document must never lend
its authority to unsigned content. Each variant must be refused, or yield only signed values.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from datetime import timedelta

import pytest
from cryptography import x509
from lxml import etree

from services.saml import build
from services.saml.constants import NAMEID_TRANSIENT, NS
from services.saml.errors import SamlError
from services.saml.validate import ValidatedAssertion, validate_response
from services.saml.xml import parse, to_bytes
from tests.saml.conftest import ACS, IDP, NOW, REQUEST_ID, SP, MakeResponse

Trust = Callable[[str], Sequence[x509.Certificate] | None]
SAML = NS["saml"]
SAMLP = NS["samlp"]
DS = NS["ds"]


def _evil_assertion(assertion_id: str | None = None) -> etree._Element:
    return build.assertion(
        issuer=IDP,
        name_id="admin",
        name_id_format=NAMEID_TRANSIENT,
        audience=SP,
        recipient=ACS,
        in_response_to=REQUEST_ID,
        attributes={"profile": ["National_dir"]},
        now=NOW,
        assertion_id=assertion_id,
    )


def _outcome(root: etree._Element, trust: Trust) -> ValidatedAssertion | SamlError:
    """Validate what would arrive on the wire; return the result or the refusal."""
    received = parse(to_bytes(root), max_bytes=1 << 20)
    try:
        return validate_response(
            received,
            certificates_for=trust,
            sp_entity_id=SP,
            acs_url=ACS,
            in_response_to=REQUEST_ID,
            now=NOW + timedelta(seconds=5),
        )
    except SamlError as exc:
        return exc


def _assert_safe(outcome: ValidatedAssertion | SamlError) -> None:
    if isinstance(outcome, SamlError):
        return
    assert outcome.name_id == "_transient42"
    assert "National_dir" not in outcome.attributes.get("profile", [])


def _assertion_of(root: etree._Element) -> etree._Element:
    assertion = root.find(f"{{{SAML}}}Assertion")
    assert assertion is not None
    return assertion


def _extensions(response: etree._Element) -> etree._Element:
    extensions = etree.Element(f"{{{SAMLP}}}Extensions")
    response.insert(1, extensions)  # after Issuer, as the schema places it
    return extensions


def test_signed_assertion_moved_into_extensions_is_refused(
    make_response: MakeResponse, trust: Trust
) -> None:
    root = make_response(sign_response=False)
    signed = _assertion_of(root)
    root.remove(signed)
    _extensions(root).append(signed)
    root.append(_evil_assertion())
    outcome = _outcome(root, trust)
    assert isinstance(outcome, SamlError)
    assert outcome.code == "saml.message.unexpected"


def test_signed_assertion_moved_into_evil_assertions_signature_object_is_refused(
    make_response: MakeResponse, trust: Trust
) -> None:
    root = make_response(sign_response=False)
    signed = _assertion_of(root)
    evil = _evil_assertion(assertion_id=signed.get("ID"))
    signature = copy.deepcopy(signed.find(f"{{{DS}}}Signature"))
    assert signature is not None
    etree.SubElement(signature, f"{{{DS}}}Object").append(copy.deepcopy(signed))
    evil.insert(1, signature)
    root.replace(signed, evil)
    outcome = _outcome(root, trust)
    assert isinstance(outcome, SamlError)
    assert outcome.code == "saml.message.unexpected"


@pytest.mark.parametrize("offset", [0, 1], ids=["before", "after"])
def test_second_unsigned_assertion_is_refused(
    make_response: MakeResponse, trust: Trust, offset: int
) -> None:
    root = make_response(sign_response=False)
    signed = _assertion_of(root)
    root.insert(root.index(signed) + offset, _evil_assertion())
    outcome = _outcome(root, trust)
    assert isinstance(outcome, SamlError)
    assert outcome.code == "saml.message.unexpected"


def test_evil_assertion_reusing_the_signed_id_and_signature_is_refused(
    make_response: MakeResponse, trust: Trust
) -> None:
    """Same ID, the original signature copied in, original gone: the digest cannot match."""
    root = make_response(sign_response=False)
    signed = _assertion_of(root)
    evil = _evil_assertion(assertion_id=signed.get("ID"))
    signature = signed.find(f"{{{DS}}}Signature")
    assert signature is not None
    evil.insert(1, copy.deepcopy(signature))
    root.replace(signed, evil)
    outcome = _outcome(root, trust)
    assert isinstance(outcome, SamlError)
    assert outcome.code == "saml.signature.invalid"


def test_signed_response_hidden_in_an_evil_response_is_refused(
    make_response: MakeResponse, trust: Trust
) -> None:
    original = make_response(sign_assertion=False)
    evil = build.response(
        issuer=IDP,
        destination=ACS,
        in_response_to=REQUEST_ID,
        assertion=_evil_assertion(),
        now=NOW,
    )
    evil.set("ID", original.get("ID") or "")
    signature = copy.deepcopy(original.find(f"{{{DS}}}Signature"))
    assert signature is not None
    etree.SubElement(signature, f"{{{DS}}}Object").append(copy.deepcopy(original))
    evil.insert(1, signature)
    outcome = _outcome(evil, trust)
    assert isinstance(outcome, SamlError)
    assert outcome.code == "saml.message.unexpected"


def test_signed_response_moved_into_extensions_is_refused(
    make_response: MakeResponse, trust: Trust
) -> None:
    """The evil envelope carries no assertion of its own: the only Assertion is buried."""
    original = make_response(sign_assertion=False)
    evil = build.response(
        issuer=IDP, destination=ACS, in_response_to=REQUEST_ID, assertion=None, now=NOW
    )
    _extensions(evil).append(original)
    outcome = _outcome(evil, trust)
    assert isinstance(outcome, SamlError)
    assert outcome.code == "saml.message.unexpected"


def test_response_signature_copied_onto_an_evil_response_is_refused(
    make_response: MakeResponse, trust: Trust
) -> None:
    original = make_response(sign_assertion=False)
    evil = build.response(
        issuer=IDP,
        destination=ACS,
        in_response_to=REQUEST_ID,
        assertion=_evil_assertion(),
        now=NOW,
    )
    signature = original.find(f"{{{DS}}}Signature")
    assert signature is not None
    evil.insert(1, copy.deepcopy(signature))
    outcome = _outcome(evil, trust)
    assert isinstance(outcome, SamlError)
    assert outcome.code == "saml.signature.invalid"


def test_assertion_signature_hoisted_onto_the_response_is_refused(
    make_response: MakeResponse, trust: Trust
) -> None:
    """A signature over the assertion, placed on the response, does not sign the response."""
    root = make_response(sign_response=False)
    signed = _assertion_of(root)
    signature = signed.find(f"{{{DS}}}Signature")
    assert signature is not None
    root.insert(1, copy.deepcopy(signature))
    outcome = _outcome(root, trust)
    assert isinstance(outcome, SamlError)
    assert outcome.code == "saml.signature.invalid"


@pytest.mark.parametrize("signed_part", ["response", "assertion"])
def test_attribute_added_to_a_signed_message_is_refused(
    make_response: MakeResponse, trust: Trust, signed_part: str
) -> None:
    root = make_response(
        sign_response=signed_part == "response", sign_assertion=signed_part == "assertion"
    )
    statement = _assertion_of(root).find(f"{{{SAML}}}AttributeStatement")
    assert statement is not None
    attribute = etree.SubElement(statement, f"{{{SAML}}}Attribute", Name="profile")
    etree.SubElement(attribute, f"{{{SAML}}}AttributeValue").text = "National_dir"
    outcome = _outcome(root, trust)
    _assert_safe(outcome)
    assert isinstance(outcome, SamlError)
    assert outcome.code == "saml.signature.invalid"


def test_unsigned_envelope_edits_leave_the_signed_values_intact(
    make_response: MakeResponse, trust: Trust
) -> None:
    """Only the assertion is signed; editing the envelope changes nothing that is returned."""
    root = make_response(sign_response=False)
    issuer = root.find(f"{{{SAML}}}Issuer")
    assert issuer is not None
    root.remove(issuer)  # an unsigned Response may omit its Issuer
    outcome = _outcome(root, trust)
    assert isinstance(outcome, ValidatedAssertion)
    _assert_safe(outcome)
    assert outcome.issuer == IDP
    assert outcome.signed_parts == ("assertion",)
