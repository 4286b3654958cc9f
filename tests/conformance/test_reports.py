"""The three reports: HTML a person reads (one row per scenario: result, expected, seen, how
to fix), JSON and JUnit XML a CI reads (the JUnit shape CI servers parse)."""

from __future__ import annotations

import json

from lxml import etree

from services.conformance.checks import Check
from services.conformance.report import Report, to_html, to_json, to_junit
from services.conformance.runner import Outcome

PASSED = Outcome("valid.student", "valides", "Réponse valide, profil élève", "acceptée",
                 "acceptée (HTTP 200, marqueur de succès trouvé)", True, "Acceptez-la.")
FAILED = Outcome("field.audience.wrong.both", "audience", "Audience d'un autre fournisseur",
                 "refusée", "acceptée (HTTP 200, marqueur de succès trouvé)", False,
                 "Exigez votre entityID parmi les Audience.")
WARNING = Check("metadata.acs.1.https", "ACS n°1 en HTTPS", "warning", "http://127.0.0.1/acs",
                "Publiez une URL https://.")
REPORT = Report("provider", "https://sp.example.org/sp", "Réponse acceptée si : …",
                (WARNING,), (PASSED, FAILED))

#: The JUnit XML shape Jenkins, GitLab and GitHub parse (after the Ant/Jenkins junit XSD):
#: required attributes only, and the element nesting.
JUNIT_XSD = b"""<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:element name="testsuites">
    <xs:complexType>
      <xs:sequence><xs:element ref="testsuite" maxOccurs="unbounded"/></xs:sequence>
      <xs:attribute name="name" type="xs:string"/>
      <xs:attribute name="tests" type="xs:nonNegativeInteger" use="required"/>
      <xs:attribute name="failures" type="xs:nonNegativeInteger" use="required"/>
      <xs:attribute name="errors" type="xs:nonNegativeInteger"/>
      <xs:attribute name="time" type="xs:decimal"/>
    </xs:complexType>
  </xs:element>
  <xs:element name="testsuite">
    <xs:complexType>
      <xs:sequence><xs:element ref="testcase" maxOccurs="unbounded"/></xs:sequence>
      <xs:attribute name="name" type="xs:string" use="required"/>
      <xs:attribute name="tests" type="xs:nonNegativeInteger" use="required"/>
      <xs:attribute name="failures" type="xs:nonNegativeInteger" use="required"/>
      <xs:attribute name="errors" type="xs:nonNegativeInteger" use="required"/>
      <xs:attribute name="skipped" type="xs:nonNegativeInteger"/>
      <xs:attribute name="time" type="xs:decimal"/>
      <xs:attribute name="timestamp" type="xs:dateTime" use="required"/>
    </xs:complexType>
  </xs:element>
  <xs:element name="testcase">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="failure" minOccurs="0">
          <xs:complexType>
            <xs:simpleContent>
              <xs:extension base="xs:string">
                <xs:attribute name="message" type="xs:string" use="required"/>
                <xs:attribute name="type" type="xs:string" use="required"/>
              </xs:extension>
            </xs:simpleContent>
          </xs:complexType>
        </xs:element>
        <xs:element name="system-out" type="xs:string" minOccurs="0"/>
      </xs:sequence>
      <xs:attribute name="name" type="xs:string" use="required"/>
      <xs:attribute name="classname" type="xs:string" use="required"/>
      <xs:attribute name="time" type="xs:decimal"/>
    </xs:complexType>
  </xs:element>
</xs:schema>"""


def _row(html: str, scenario_id: str) -> list[str]:
    document = etree.fromstring(html.encode(), etree.HTMLParser())
    row = document.find(f".//table[@id='scenarios']//tr[@data-id='{scenario_id}']")
    assert row is not None
    return ["".join(cell.itertext()).strip() for cell in row.findall("td")]


def test_the_html_report_row_of_a_failure_says_expected_seen_and_fix() -> None:
    cells = _row(to_html(REPORT), FAILED.id)
    assert cells[1:] == ["échec", "refusée", "acceptée (HTTP 200, marqueur de succès trouvé)",
                         "Exigez votre entityID parmi les Audience."]


def test_the_html_report_row_of_a_pass_has_no_fix() -> None:
    cells = _row(to_html(REPORT), PASSED.id)
    assert cells[1:] == ["réussi", "acceptée", "acceptée (HTTP 200, marqueur de succès trouvé)",
                         ""]


def test_the_junit_report_has_the_shape_ci_servers_parse() -> None:
    junit = etree.fromstring(to_junit(REPORT))
    schema = etree.XMLSchema(etree.fromstring(JUNIT_XSD))
    assert schema.validate(junit), schema.error_log
    assert (junit.get("tests"), junit.get("failures")) == ("3", "1")
    failure = junit.find(".//testcase/failure")
    assert failure is not None and "refusée" in (failure.get("message") or "")
    assert "Exigez votre entityID" in (failure.text or "")


def test_the_json_report_carries_every_line_with_its_verdict() -> None:
    data = json.loads(to_json(REPORT))
    assert (data["passed"], data["total"], data["failures"]) == (False, 3, 1)
    assert [s["id"] for s in data["scenarios"]] == [PASSED.id, FAILED.id]
    assert data["scenarios"][1]["fix"] and not data["scenarios"][0]["fix"]
    assert data["checks"][0]["level"] == "warning"
