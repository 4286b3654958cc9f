"""The harness's own forgeries are what they claim: only the flaw they name is wrong."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from provider_mock import naive
from services.conformance import signatures, xsw
from services.conformance.forge import Context, Recipe, forge, persona
from services.conformance.scenarios import UNSIGNED, saml_scenarios
from services.keys import generate
from services.saml.errors import SamlError
from services.saml.signing import verify
from services.saml.xml import parse, text_of, to_bytes
from services.uai import is_valid_uai

KEY, ATTACKER = generate("sandbox"), generate("attacker")


def _context() -> Context:
    return Context(idp_entity_id="https://bac-a-sable/idp", key=KEY, attacker=ATTACKER,
                   sp_entity_id="https://sp", acs_url="https://sp/acs", requested=(),
                   now=datetime.now(UTC), pending=None)


def _assertion(recipe: Recipe):
    root, _ = forge(recipe, _context())
    received = parse(to_bytes(root), max_bytes=1 << 20)
    return received.find("{urn:oasis:names:tc:SAML:2.0:assertion}Assertion")


def test_signing_info_again_without_edits_still_verifies() -> None:
    signed = signatures.sign(persona_assertion(), KEY)
    signatures.resign_signed_info(signatures.signature_of(signed), KEY)
    assert verify(parse(to_bytes(signed), max_bytes=1 << 20), [KEY.certificate]) is not None


def persona_assertion():
    root, _ = forge(Recipe(assertion=UNSIGNED, response=UNSIGNED), _context())
    return root.find("{urn:oasis:names:tc:SAML:2.0:assertion}Assertion")


def test_the_sha1_digest_is_computed_right_so_only_the_algorithm_is_at_fault() -> None:
    signed = signatures.sign(persona_assertion(), KEY)
    signatures.sha1_digest(signed, KEY)
    received = parse(to_bytes(signed), max_bytes=1 << 20)
    with pytest.raises(SamlError, match="algorithm"):
        verify(received, [KEY.certificate])
    assert verify(received, [KEY.certificate], allow_sha1=True) is not None


def test_an_added_transform_keeps_the_signature_mathematically_valid() -> None:
    signed = signatures.sign(persona_assertion(), KEY)
    signatures.add_transform(signed, signatures.XSLT, KEY)
    with pytest.raises(SamlError) as refused:
        verify(parse(to_bytes(signed), max_bytes=1 << 20), [KEY.certificate])
    assert refused.value.code == "saml.signature.algorithm"


def test_comment_injection_keeps_the_signature_and_hides_the_suffix_from_text() -> None:
    scenario = next(s for s in saml_scenarios() if s.id == "comment.ido")
    assertion = _assertion(scenario.recipe)
    verified = verify(assertion, [KEY.certificate])
    ido = next(a for a in verified.iter("{*}Attribute") if a.get("Name") == "IDO")
    assert text_of(ido[0]).endswith(".evil")
    raw = next(a for a in assertion.iter("{*}Attribute") if a.get("Name") == "IDO")
    assert not (raw[0].text or "").endswith(".evil")


def test_personas_carry_gar_shapes() -> None:
    teacher = persona("teacher", uai=["0650499P", "0310001H"])
    assert len(teacher.attributes["IDO"][0]) == 128
    assert all(is_valid_uai(u) for u in teacher.attributes["UAI"])
    assert all("##" in d for d in teacher.attributes["DIV"])
    assert teacher.attributes["PRO"] == ["National_ens"]


# --------------------------------------------------------------------------- XSW1–XSW8 pinned
#
# Each wrapping keeps the signed original where a verifier that resolves the Reference by ID
# anywhere in the document finds it (SAML Raider's and Somorovsky et al.'s placements), and
# the evil copy where a reader of "the Assertion under the Response" reads it.

DS = "{http://www.w3.org/2000/09/xmldsig#}"
SAMLP = "{urn:oasis:names:tc:SAML:2.0:protocol}"
SAML = "{urn:oasis:names:tc:SAML:2.0:assertion}"


def _direct_assertions(root):
    return root.findall(f"{SAML}Assertion")


def _is(element, tag: str) -> bool:
    return element is not None and element.tag == tag


PLACES = {
    # The signed original Response inside the evil Response's ds:Signature.
    "xsw1": lambda root, original: (_is(original.getparent(), f"{DS}Signature")
                                    and original.getparent().getparent() is root
                                    and _is(original, f"{SAMLP}Response")),
    # The signed original Response right before the evil Response's ds:Signature.
    "xsw2": lambda root, original: (original.getparent() is root
                                    and _is(original, f"{SAMLP}Response")
                                    and _is(original.getnext(), f"{DS}Signature")),
    # The signed original is the second Assertion; the evil one comes first.
    "xsw3": lambda root, original: _direct_assertions(root)[1:2] == [original],
    # The signed original is nested inside the evil Assertion.
    "xsw4": lambda root, original: original.getparent() is _direct_assertions(root)[0],
    # The original, unsigned copy is the Response's last child.
    "xsw5": lambda root, original: root[-1] is original,
    # The original inside the ds:Signature the evil Assertion carries.
    "xsw6": lambda root, original: (original.getparent() is _direct_assertions(root)[0].find(
        f"{DS}Signature")),
    # The signed original inside samlp:Extensions, a child of the Response.
    "xsw7": lambda root, original: (_is(original.getparent(), f"{SAMLP}Extensions")
                                    and original.getparent().getparent() is root),
    # The original in a ds:Object of the ds:Signature the evil Assertion carries.
    "xsw8": lambda root, original: (_is(original.getparent(), f"{DS}Object")
                                    and original.getparent().getparent() is _direct_assertions(
                                        root)[0].find(f"{DS}Signature")),
}


def _wrapped(name: str):
    scenario = next(s for s in saml_scenarios() if s.id == f"wrapping.{name}")
    root, _ = forge(scenario.recipe, _context())
    return parse(to_bytes(root), max_bytes=1 << 20)


def _signed_original(root):
    signatures_found = list(root.iter(f"{DS}Signature"))
    assert len(signatures_found) == 1, "one signature, the original one"
    uri = signatures_found[0].find(f"{DS}SignedInfo/{DS}Reference").get("URI")
    return naive.referenced(root, uri)


@pytest.mark.parametrize("name", sorted(PLACES))
def test_each_wrapping_keeps_a_signature_that_verifies_over_the_original(name: str) -> None:
    """Only the trusted certificate, digests and SignatureValue checked: the signature holds,
    because what it references (by ID) is the untouched original."""
    root = _wrapped(name)
    assert naive.lax_verify(root, [KEY.certificate], trust_keyinfo=False,
                            require_signature=True)
    with pytest.raises(SamlError):
        naive.lax_verify(root, [ATTACKER.certificate], trust_keyinfo=False)


@pytest.mark.parametrize("name", sorted(PLACES))
def test_each_wrapping_puts_the_signed_original_at_its_place(name: str) -> None:
    root = _wrapped(name)
    original = _signed_original(root)
    assert PLACES[name](root, original)
    values = [text_of(v) for v in original.iter(f"{SAML}AttributeValue")]
    assert values and not any(xsw.is_evil_value(v) for v in values)


@pytest.mark.parametrize("name", sorted(PLACES))
def test_each_wrapping_puts_the_evil_copy_where_a_naive_reader_reads(name: str) -> None:
    root = _wrapped(name)
    first = _direct_assertions(root)[0]
    assert first is not _signed_original(root)
    assert xsw.EVIL_PROFILE in xsw.read_values(root)
    assert xsw.EVIL_IDO in xsw.read_values(root)


@pytest.mark.parametrize("name", ["xsw1", "xsw2"])
def test_response_wrappings_give_the_evil_response_a_new_id(name: str) -> None:
    root = _wrapped(name)
    assert root.get("ID") != _signed_original(root).get("ID")


@pytest.mark.parametrize("name", ["xsw1", "xsw6"])
def test_the_wrappings_hidden_in_the_signature_pass_a_lax_reader_but_not_signxml(
    name: str,
) -> None:
    """Why the reader level cannot be the one they catch: signxml's schema check of
    ds:Signature refuses foreign content there, the lax verifier does not look."""
    root = _wrapped(name)
    with pytest.raises(SamlError):
        naive.read_response(forge_encode(root), [KEY.certificate], max_bytes=1 << 20)
    assert naive.read_response(forge_encode(root), [KEY.certificate], max_bytes=1 << 20,
                               level="signature").attributes["PRO"] == [xsw.EVIL_PROFILE]


def forge_encode(root) -> str:
    from services.conformance.forge import encode

    return encode(root)


# --------------------------------------------------------------------------- key forgeries


def test_the_cloned_certificate_copies_the_names_and_serial_around_the_attacker_key() -> None:
    clone = signatures.clone_certificate(KEY, ATTACKER)
    assert clone.certificate.subject == KEY.certificate.subject
    assert clone.certificate.serial_number == KEY.certificate.serial_number
    assert clone.certificate.public_key().public_numbers() == (
        ATTACKER.certificate.public_key().public_numbers())


@pytest.mark.parametrize("scenario_id", [
    "signature.cloned_certificate.assertion", "signature.rsa_key_value.assertion",
    "signature.structure.two_references", "signature.structure.digest_value_empty",
    "signature.structure.signature_value_empty", "signature.structure.signature_value_removed",
    "signature.structure.empty_signature",
])
def test_each_signature_exclusion_is_refused_by_the_toolkit_verifier(scenario_id: str) -> None:
    with pytest.raises(SamlError):
        verify(_assertion(next(s for s in saml_scenarios() if s.id == scenario_id).recipe),
               [KEY.certificate])


def test_a_key_value_only_signature_verifies_with_the_key_it_carries() -> None:
    recipe = next(s for s in saml_scenarios() if s.id == "signature.rsa_key_value.assertion"
                  ).recipe
    root, _ = forge(recipe, _context())
    assert not list(root.iter(f"{DS}X509Certificate"))
    assert naive.lax_verify(root, [KEY.certificate], trust_keyinfo=True)
    with pytest.raises(SamlError):
        naive.lax_verify(root, [KEY.certificate], trust_keyinfo=False)


def test_two_references_each_hold_so_only_their_number_is_wrong() -> None:
    recipe = next(s for s in saml_scenarios() if s.id == "signature.structure.two_references"
                  ).recipe
    root, _ = forge(recipe, _context())
    assert len(list(root.iter(f"{DS}Reference"))) == 2
    assert naive.lax_verify(root, [KEY.certificate], trust_keyinfo=False)


def test_a_garbled_digest_is_signed_again_so_only_the_digest_is_wrong() -> None:
    recipe = next(s for s in saml_scenarios() if s.id == "signature.structure.digest_value"
                  ).recipe
    root, _ = forge(recipe, _context())
    assert naive.lax_verify(root, [KEY.certificate], trust_keyinfo=False, check_digests=False)
    with pytest.raises(SamlError):
        naive.lax_verify(root, [KEY.certificate], trust_keyinfo=False, check_value=False)
