"""``gar-testbed conformance idp``: an ENT's metadata and a Response it sent."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lxml import etree
from typer.testing import CliRunner

from services.cli import app
from services.conformance import idp_checks, signatures
from services.keys import generate
from services.saml import build, metadata, signing
from services.saml.constants import ALG_RSA_SHA1, NAMEID_TRANSIENT, NAMEID_UNSPECIFIED, NS
from services.saml.xml import to_bytes

KEY, OTHER = generate("ent"), generate("autre")
ENT = "https://ent.example.org/idp"
ACS = "http://127.0.0.1:8000/saml/sp/acs"
SP = "http://127.0.0.1:8000/saml/sp/metadata"
REQUEST = "_request-of-the-gar"
EXPECTED = idp_checks.Expected(issuer=ENT, sp_entity_id=SP, acs_url=ACS, request_id=REQUEST)
SAML = NS["saml"]


def _response(attributes: dict[str, list[str]], *, key=KEY, algorithm=None,
              now: datetime | None = None, lifetime: int = 300, audience: str = SP,
              recipient: str = ACS, destination: str = ACS, in_response_to: str | None = REQUEST,
              name_id_format: str = NAMEID_TRANSIENT, sign_assertion: bool = True,
              sign_response: bool = False, after_signing=None) -> bytes:
    now = now or datetime.now(UTC)
    assertion = build.assertion(issuer=ENT, name_id="_session", name_id_format=name_id_format,
                                audience=audience, recipient=recipient,
                                in_response_to=in_response_to, attributes=attributes, now=now,
                                lifetime_seconds=lifetime)
    if sign_assertion:
        assertion = (signing.sign(assertion, key) if algorithm is None
                     else signing.sign(assertion, key, algorithm=algorithm))
        if after_signing is not None:
            after_signing(assertion)
    response = build.response(issuer=ENT, destination=destination,
                              in_response_to=in_response_to, assertion=assertion, now=now)
    if sign_response:
        response = signing.sign(response, key)
    return to_bytes(response)


def _checks(raw: bytes, **changes) -> dict[str, idp_checks.Check]:
    found = idp_checks.response(raw, (KEY.certificate,), replace(EXPECTED, **changes))
    return {c.id: c for c in found}


def _levels(raw: bytes, **changes) -> dict[str, str]:
    return {key: check.level for key, check in _checks(raw, **changes).items()}


ENT_SHAPE = {"idEnt": ["ENT-TEST"], "GARPersonIdentifiant": ["p123"]}
EDUCONNECT_SHAPE = {"FrEduCtRefId": ["{ECT}ABCDEF", "{AAF}rennes:1234567"],
                    "FrEduCtId": ["ABCDEF"]}


def test_a_sound_ent_response_passes_every_check() -> None:
    assert set(_levels(_response(ENT_SHAPE)).values()) == {"ok"}


def test_a_sound_educonnect_response_passes_every_check() -> None:
    levels = _levels(_response(EDUCONNECT_SHAPE, sign_response=True))
    assert set(levels.values()) == {"ok"}
    assert levels["response.attributes.educonnect"] == "ok"


def test_an_educonnect_ref_id_without_a_join_key_is_an_error() -> None:
    levels = _levels(_response({"FrEduCtRefId": ["{AAF}rennes"]}))
    assert levels["response.attributes.educonnect"] == "error"


def test_a_base64_capture_is_read_like_xml() -> None:
    raw = base64.b64encode(_response(ENT_SHAPE))
    assert set(_levels(raw).values()) == {"ok"}


def test_rsa_sha1_is_flagged_not_refused() -> None:
    levels = _levels(_response(ENT_SHAPE, algorithm=ALG_RSA_SHA1))
    assert levels["response.algorithm.assertion"] == "warning"
    assert levels["response.signature.assertion"] == "ok"
    assert levels["response.verdict"] == "ok"


def test_a_sha1_digest_is_flagged_like_a_sha1_signature() -> None:
    raw = _response(ENT_SHAPE, after_signing=lambda el: signatures.sha1_digest(el, KEY))
    check = _checks(raw)["response.algorithm.assertion"]
    assert check.level == "warning"
    assert "xmldsig#sha1" in check.seen and "Empreinte SHA-1" in check.fix


def test_sha1_is_an_error_in_strict_mode_and_the_broker_refuses_it() -> None:
    levels = _levels(_response(ENT_SHAPE, algorithm=ALG_RSA_SHA1), strict=True)
    assert levels["response.algorithm.assertion"] == "error"
    assert levels["response.verdict"] == "error"


def test_a_signature_by_a_key_outside_the_metadata_is_an_error() -> None:
    assert _levels(_response(ENT_SHAPE, key=OTHER))["response.signature.assertion"] == "error"


def test_an_unsigned_response_is_an_error_and_the_broker_refuses_it() -> None:
    found = _checks(_response(ENT_SHAPE, sign_assertion=False))
    assert found["response.signature"].level == "error"
    assert found["response.verdict"].seen.startswith("saml.signature.missing")


def test_a_value_changed_after_signing_is_a_signature_error() -> None:
    def tamper(assertion: etree._Element) -> None:
        value = assertion.find(f".//{{{SAML}}}AttributeValue")
        value.text = "someone-else"

    found = _checks(_response(ENT_SHAPE, after_signing=tamper))
    assert found["response.signature.assertion"].level == "error"
    assert found["response.verdict"].level == "error"


def test_missing_identity_attributes_are_an_error() -> None:
    assert _levels(_response({"mail": ["x@y"]}))["response.attributes.required"] == "error"


def test_an_unknown_ent_id_is_an_error_when_the_gar_knows_the_ents_ids() -> None:
    assert _levels(_response(ENT_SHAPE), ent_ids=("ENT-TEST",))[
        "response.attributes.id_ent"] == "ok"
    check = _checks(_response(ENT_SHAPE), ent_ids=("ENT-AUTRE",))["response.attributes.id_ent"]
    assert check.level == "error" and check.expected == "une valeur parmi ENT-AUTRE"


def test_a_person_id_with_spaces_around_is_an_error() -> None:
    raw = _response({"idEnt": ["ENT-TEST"], "GARPersonIdentifiant": [" p123"]})
    assert _levels(raw)["response.attributes.ent"] == "error"


def test_a_wrong_profile_code_is_an_error_and_a_wrong_uai_letter_a_warning() -> None:
    levels = _levels(_response({**ENT_SHAPE, "PRO": ["Eleve"], "UAI": ["0650499A"]}))
    assert levels["response.profile.PRO"] == "error"
    assert levels["response.uai.0650499A"] == "warning"


def test_a_wrong_uai_letter_is_an_error_in_strict_mode() -> None:
    check = _checks(_response({**ENT_SHAPE, "UAI": ["0650499A"]}), strict=True)[
        "response.uai.0650499A"]
    assert check.level == "error" and "0650499P" in check.fix


def test_a_profile_in_upper_case_is_accepted_with_a_warning() -> None:
    check = _checks(_response({**ENT_SHAPE, "PRO": ["National_ENS"]}))["response.profile.PRO"]
    assert check.level == "warning" and "National_ens" in check.fix


def test_a_clock_ahead_beyond_the_skew_is_an_error() -> None:
    ahead = _response(ENT_SHAPE, now=datetime.now(UTC) + timedelta(minutes=10))
    levels = _levels(ahead)
    assert levels["response.clock"] == "error"
    assert levels["response.time.conditions"] == "error"  # NotBefore in the future


def test_a_clock_behind_beyond_the_skew_is_a_warning_while_the_assertion_is_valid() -> None:
    behind = _response(ENT_SHAPE, now=datetime.now(UTC) - timedelta(minutes=5), lifetime=900)
    levels = _levels(behind, live=True)
    assert levels["response.clock"] == "warning"
    assert levels["response.time.conditions"] == "ok"
    assert levels["response.verdict"] == "ok"


def test_a_stale_response_received_live_is_an_error() -> None:
    stale = _response(ENT_SHAPE, now=datetime.now(UTC) - timedelta(hours=1))
    found = _checks(stale, live=True)
    assert found["response.time.conditions"].level == "error"
    assert found["response.time.confirmation"].level == "error"
    assert found["response.verdict"].seen.startswith("saml.time.expired")


def test_a_stale_capture_is_a_warning_judged_at_its_issue_instant() -> None:
    levels = _levels(_response(ENT_SHAPE, now=datetime.now(UTC) - timedelta(days=3)))
    assert levels["response.time.conditions"] == "warning"
    assert levels["response.verdict"] == "ok"


def test_a_wrong_audience_is_an_error_and_the_broker_refuses_it() -> None:
    found = _checks(_response(ENT_SHAPE, audience="https://autre-sp.example.org"))
    assert found["response.audience"].level == "error"
    assert found["response.audience"].expected == SP
    assert found["response.verdict"].seen.startswith("saml.audience.mismatch")


def test_a_recipient_other_than_the_acs_is_an_error() -> None:
    found = _checks(_response(ENT_SHAPE, recipient="https://ent.example.org/autre"))
    assert found["response.recipient"].level == "error"
    assert found["response.recipient"].seen == "https://ent.example.org/autre"


def test_a_destination_other_than_the_acs_is_an_error() -> None:
    found = _checks(_response(ENT_SHAPE, destination="https://ailleurs.example.org/acs"))
    assert found["response.destination"].level == "error"
    assert found["response.verdict"].seen.startswith("saml.destination.mismatch")


def test_answering_another_request_is_an_error() -> None:
    found = _checks(_response(ENT_SHAPE, in_response_to="_another"))
    assert found["response.in_response_to"].level == "error"
    assert found["response.verdict"].seen.startswith("saml.in_response_to.mismatch")


def test_an_unsolicited_response_is_reported_as_such() -> None:
    found = _checks(_response(ENT_SHAPE, in_response_to=None), request_id=None, live=True)
    assert found["response.solicited"].level == "warning"
    assert found["response.verdict"].level == "ok"


def test_a_name_id_format_other_than_transient_is_a_warning() -> None:
    check = _checks(_response(ENT_SHAPE, name_id_format=NAMEID_UNSPECIFIED))[
        "response.name_id.format"]
    assert check.level == "warning" and check.seen == NAMEID_UNSPECIFIED


def test_the_command_writes_the_report_and_exits_one_on_an_error(tmp_path: Path) -> None:
    meta = tmp_path / "idp.xml"
    meta.write_bytes(metadata.idp_metadata(entity_id=ENT, sso_url="https://ent.example.org/sso",
                                           keypairs=[KEY]))
    captured = tmp_path / "reponse.xml"
    captured.write_bytes(_response({"mail": ["x@y"]}))
    result = CliRunner().invoke(app, [
        "--data-dir", str(tmp_path), "conformance", "idp", "--metadata", str(meta),
        "--response", str(captured), "--acs-url", ACS, "--json", str(tmp_path / "r.json")])
    assert result.exit_code == 1
    report = json.loads((tmp_path / "r.json").read_text())
    assert [c["id"] for c in report["checks"] if not c["passed"]] == [
        "response.attributes.required"]
