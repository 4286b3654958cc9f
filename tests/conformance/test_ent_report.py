"""The ENT side's reports: a person reads the HTML, the ENT's CI reads the JUnit XML."""

from __future__ import annotations

from pathlib import Path

import lxml.html
from lxml import etree
from typer.testing import CliRunner

from services.cli import app
from services.saml import metadata
from services.saml.constants import ALG_RSA_SHA1
from tests.conformance.test_idp_side import ACS, ENT, KEY, _response


def _run(tmp_path: Path, attributes: dict[str, list[str]]) -> tuple[int, Path]:
    meta = tmp_path / "idp.xml"  # plain HTTP on loopback: a metadata warning
    meta.write_bytes(metadata.idp_metadata(entity_id=ENT, sso_url="http://127.0.0.1:9/sso",
                                           keypairs=[KEY]))
    captured = tmp_path / "reponse.xml"
    captured.write_bytes(_response(attributes, algorithm=ALG_RSA_SHA1))
    result = CliRunner().invoke(app, [
        "--data-dir", str(tmp_path), "conformance", "idp", "--metadata", str(meta),
        "--response", str(captured), "--acs-url", ACS, "--html", str(tmp_path / "r.html"),
        "--junit", str(tmp_path / "junit.xml")])
    return result.exit_code, tmp_path


def _case(suites: etree._Element, check_id: str) -> etree._Element:
    found = suites.xpath(f'//testcase[starts-with(@name, "{check_id} ")]')
    assert len(found) == 1, check_id
    return found[0]


def test_junit_shows_warnings_as_output_and_failures_as_failures(
        tmp_path: Path) -> None:
    code, folder = _run(tmp_path, {"mail": ["x@y"]})
    assert code == 1
    suites = etree.parse(str(folder / "junit.xml")).getroot()
    for warned in ("metadata.sso.https", "response.algorithm.assertion"):
        case = _case(suites, warned)
        assert case.find("failure") is None
        assert case.findtext("system-out").startswith("Avertissement : attendu : ")
    failed = _case(suites, "response.attributes.required")
    assert failed.find("failure").get("message").startswith(
        "attendu : idEnt + GARPersonIdentifiant, ou FrEduCtRefId {AAF} ; vu : mail")
    assert suites.get("failures") == "1"
    assert suites.xpath("//testsuite/@name") == ["métadonnées", "Réponse capturée"]


def test_a_run_with_only_warnings_passes_for_ci(tmp_path: Path) -> None:
    code, folder = _run(tmp_path, {"idEnt": ["ENT-TEST"], "GARPersonIdentifiant": ["p1"]})
    assert code == 0
    assert etree.parse(str(folder / "junit.xml")).getroot().get("failures") == "0"


def test_the_html_report_gives_expected_seen_and_fix_for_each_line(tmp_path: Path) -> None:
    _, folder = _run(tmp_path, {"mail": ["x@y"]})
    page = lxml.html.fromstring((folder / "r.html").read_text())
    headers = [th.text_content() for th in page.xpath('//table[@id="checks"]//th')]
    assert headers == ["Contrôle", "Résultat", "Attendu", "Constaté", "Comment corriger"]
    row = page.xpath('//tr[@data-id="response.attributes.required"]')[0]
    cells = [td.text_content().strip() for td in row.xpath("td")]
    assert cells[1:] == ["échec", "idEnt + GARPersonIdentifiant, ou FrEduCtRefId {AAF}", "mail",
                         "Envoyez idEnt et GARPersonIdentifiant (forme ENT), ou FrEduCtRefId "
                         "avec une valeur {AAF} (forme ÉduConnect)."]
    assert "Réponse capturée" in cells[0]
    warned = page.xpath('//tr[@data-id="response.algorithm.assertion"]')[0]
    assert warned.get("data-level") == "warning" and warned.get("class") == "warning"
    assert "RSA-SHA1" in warned.xpath("td")[4].text_content()
