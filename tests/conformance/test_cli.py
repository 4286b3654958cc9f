"""``gar-testbed conformance``: reports on disk, exit code for CI, the sandbox's metadata."""

from __future__ import annotations

import json
from pathlib import Path

from lxml import etree
from typer.testing import CliRunner

from services.cli import app
from services.saml.metadata import parse_metadata
from tests.conformance.conftest import RESOURCE, Live

MARKER = 'data-result="ok"'


def _provider(live: Live, naive: bool, tmp_path: Path, *extra: str) -> tuple[int, str]:
    settings = live.naive if naive else live.careful
    result = CliRunner().invoke(app, [
        "--data-dir", str(live.sandbox_dir), "conformance", "provider",
        "--metadata", f"{settings.provider_base}/saml/metadata",
        "--login-url", f"{settings.provider_base}/resource/{RESOURCE}",
        "--relay-state", f"{settings.provider_base}/resource/{RESOURCE}",
        "--sandbox-url", live.sandbox.base_url, "--success-marker", MARKER,
        "--html", str(tmp_path / "rapport.html"), "--json", str(tmp_path / "rapport.json"),
        "--junit", str(tmp_path / "junit.xml"), *extra,
    ], catch_exceptions=False)
    return result.exit_code, result.output


def test_a_conforming_provider_exits_zero_and_says_so(live: Live, tmp_path: Path) -> None:
    code, output = _provider(live, False, tmp_path, "--only", "valid.", "--only", "wrapping.")
    assert code == 0, output
    assert "Compatible GAR" in output
    report = json.loads((tmp_path / "rapport.json").read_text())
    assert report["passed"] is True and report["failures"] == 0


def test_a_naive_provider_exits_one_with_the_failures_in_every_report(
    live: Live, tmp_path: Path
) -> None:
    code, output = _provider(live, True, tmp_path, "--only", "field.audience.wrong",
                             "--only", "valid.student")
    assert code == 1
    assert "Non conforme" in output
    report = json.loads((tmp_path / "rapport.json").read_text())
    failed = [s for s in report["scenarios"] if not s["passed"]]
    assert {s["id"] for s in failed} == {"field.audience.wrong.both",
                                         "field.audience.wrong.assertion"}
    assert all(s["fix"] and s["expected"] == "refusée" for s in failed)
    junit = etree.parse(str(tmp_path / "junit.xml")).getroot()
    assert junit.get("failures") == "2"
    assert len(junit.findall(".//testcase/failure")) == 2
    html = (tmp_path / "rapport.html").read_text()
    assert 'data-result="failed"' in html
    assert 'data-id="field.audience.wrong.both" data-passed="false"' in html


def test_http_on_loopback_is_a_warning_not_a_failure(live: Live, tmp_path: Path) -> None:
    code, output = _provider(live, False, tmp_path, "--only", "valid.student")
    assert code == 0
    assert "avertissement metadata.acs.1.https" in output


def test_a_bad_success_marker_is_one_line_and_exit_one(live: Live, tmp_path: Path) -> None:
    code, output = _provider(live, False, tmp_path, "--success-marker", "(")
    assert code == 1
    assert "--success-marker" in output and "Traceback" not in output


def test_without_a_login_url_only_unsolicited_scenarios_are_played(live: Live) -> None:
    settings = live.careful
    result = CliRunner().invoke(app, [
        "--data-dir", str(live.sandbox_dir), "conformance", "provider",
        "--metadata", f"{settings.provider_base}/saml/metadata",
        "--relay-state", f"{settings.provider_base}/resource/{RESOURCE}",
        "--sandbox-url", live.sandbox.base_url, "--success-marker", MARKER,
        "--only", "valid.",
    ], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "seuls les scénarios non sollicités" in result.output
    assert "3 scénarios" in result.output


def test_unreadable_metadata_fails_the_run(tmp_path: Path) -> None:
    bad = tmp_path / "sp.xml"
    bad.write_text("<pas-des-metadonnees/>")
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "conformance", "provider",
                                      "--metadata", str(bad)], catch_exceptions=False)
    assert result.exit_code == 1
    assert "ÉCHEC metadata.readable" in result.output


def test_the_sandbox_metadata_names_its_entity_and_key(tmp_path: Path) -> None:
    out = tmp_path / "idp.xml"
    result = CliRunner().invoke(app, [
        "--data-dir", str(tmp_path), "conformance", "sandbox-metadata",
        "--sandbox-url", "https://bac-a-sable.example.org", "--output", str(out)])
    assert result.exit_code == 0, result.output
    entity = parse_metadata(out.read_bytes())
    assert entity.entity_id == "https://bac-a-sable.example.org/saml/idp/metadata"
    assert entity.idp is not None and len(entity.idp.signing_certificates) == 1
