"""``gar-testbed conformance idp``: an ENT's metadata and a Response it sent."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from services.cli import app
from services.conformance import idp_checks
from services.keys import generate
from services.saml import build, metadata, signing
from services.saml.constants import ALG_RSA_SHA1, NAMEID_TRANSIENT
from services.saml.xml import to_bytes

KEY, OTHER = generate("ent"), generate("autre")
ENT = "https://ent.example.org/idp"
ACS = "http://127.0.0.1:8000/saml/sp/acs"


def _response(attributes: dict[str, list[str]], *, key=KEY, algorithm=None,
              now: datetime | None = None) -> bytes:
    now = now or datetime.now(UTC)
    assertion = build.assertion(issuer=ENT, name_id="_session", name_id_format=NAMEID_TRANSIENT,
                                audience="http://127.0.0.1:8000/saml/sp/metadata", recipient=ACS,
                                in_response_to=None, attributes=attributes, now=now)
    signed = (signing.sign(assertion, key) if algorithm is None
              else signing.sign(assertion, key, algorithm=algorithm))
    return to_bytes(build.response(issuer=ENT, destination=ACS, in_response_to=None,
                                   assertion=signed, now=now))


def _levels(raw: bytes) -> dict[str, str]:
    return {c.id: c.level for c in idp_checks.response(raw, (KEY.certificate,), acs_url=ACS)}


ENT_SHAPE = {"idEnt": ["ENT-TEST"], "GARPersonIdentifiant": ["p123"]}


def test_a_sound_ent_response_passes_every_check() -> None:
    assert set(_levels(_response(ENT_SHAPE)).values()) == {"ok"}


def test_a_base64_capture_is_read_like_xml() -> None:
    raw = base64.b64encode(_response(ENT_SHAPE))
    assert set(_levels(raw).values()) == {"ok"}


def test_rsa_sha1_is_flagged_not_refused() -> None:
    levels = _levels(_response(ENT_SHAPE, algorithm=ALG_RSA_SHA1))
    assert levels["response.algorithm.assertion"] == "warning"
    assert levels["response.signature.assertion"] == "ok"


def test_a_signature_by_a_key_outside_the_metadata_is_an_error() -> None:
    assert _levels(_response(ENT_SHAPE, key=OTHER))["response.signature.assertion"] == "error"


def test_missing_identity_attributes_are_an_error() -> None:
    assert _levels(_response({"mail": ["x@y"]}))["response.attributes.required"] == "error"


def test_a_wrong_profile_code_is_an_error_and_a_wrong_uai_letter_a_warning() -> None:
    levels = _levels(_response({**ENT_SHAPE, "PRO": ["Eleve"], "UAI": ["0650499A"]}))
    assert levels["response.profile.PRO"] == "error"
    assert levels["response.uai.0650499A"] == "warning"


def test_a_clock_ahead_beyond_the_skew_is_an_error() -> None:
    ahead = _response(ENT_SHAPE, now=datetime.now(UTC) + timedelta(minutes=10))
    assert _levels(ahead)["response.clock"] == "error"


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
