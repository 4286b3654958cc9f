"""The harness's own forgeries are what they claim: only the flaw they name is wrong."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

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


@pytest.mark.parametrize("name", [f"xsw{n}" for n in range(3, 9)])
def test_each_assertion_wrapping_puts_the_evil_values_first(name: str) -> None:
    scenario = next(s for s in saml_scenarios() if s.id == f"wrapping.{name}")
    root, _ = forge(scenario.recipe, _context())
    assert xsw.EVIL_PROFILE in xsw.read_values(root)


def test_personas_carry_gar_shapes() -> None:
    teacher = persona("teacher", uai=["0650499P", "0310001H"])
    assert len(teacher.attributes["IDO"][0]) == 128
    assert all(is_valid_uai(u) for u in teacher.attributes["UAI"])
    assert all("##" in d for d in teacher.attributes["DIV"])
    assert teacher.attributes["PRO"] == ["National_ens"]
