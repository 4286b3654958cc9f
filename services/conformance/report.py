"""The run's report, three ways: HTML for the person, JSON and JUnit XML for their CI."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import jinja2
from lxml import etree

from services.conformance.checks import Check
from services.conformance.runner import Outcome


@dataclass(frozen=True)
class Report:
    kind: str  # "provider", "idp" or "mediacentre"
    subject: str  # entity id or source checked
    rule: str  # the verdict rule, in French
    checks: Sequence[Check] = ()
    outcomes: Sequence[Outcome] = ()
    started: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def failures(self) -> int:
        return (sum(1 for c in self.checks if not c.passed)
                + sum(1 for o in self.outcomes if not o.passed))

    @property
    def total(self) -> int:
        return len(self.checks) + len(self.outcomes)

    @property
    def passed(self) -> bool:
        return self.failures == 0

    def summary(self) -> str:
        return (f"{self.total - self.failures}/{self.total} contrôles réussis, "
                f"{self.failures} échec(s)")


def to_json(report: Report) -> str:
    return json.dumps({
        "kind": report.kind, "subject": report.subject, "rule": report.rule,
        "started": report.started.isoformat(), "passed": report.passed,
        "total": report.total, "failures": report.failures,
        "checks": [c.as_dict() for c in report.checks],
        "scenarios": [o.as_dict() for o in report.outcomes],
    }, ensure_ascii=False, indent=2)


def to_junit(report: Report) -> bytes:
    """JUnit XML as Jenkins, GitLab and GitHub read it: one testsuite per family, the
    attributes their schema requires (errors, failure type), no test ever "errors": a
    scenario that could not be played is a failure with its reason."""
    suites = etree.Element("testsuites", name=f"gar-conformance-{report.kind}",
                           tests=str(report.total), failures=str(report.failures), errors="0")
    groups: dict[str, list[tuple[str, str, str, str, str]]] = {}
    for check in report.checks:  # a warning passes, but CI shows it (system-out)
        seen = (f"attendu : {check.expected} ; " if check.expected else "") + f"vu : {check.seen}"
        groups.setdefault(check.group or "métadonnées", []).append(
            (check.id, check.title, check.level, seen, check.fix))
    for outcome in report.outcomes:
        groups.setdefault(outcome.family, []).append(
            (outcome.id, outcome.title, "ok" if outcome.passed else "error",
             f"attendu : {outcome.expected} ; vu : {outcome.seen}", outcome.fix))
    for family, cases in groups.items():
        suite = etree.SubElement(
            suites, "testsuite", name=family, tests=str(len(cases)),
            failures=str(sum(1 for case in cases if case[2] == "error")), errors="0", skipped="0",
            timestamp=report.started.strftime("%Y-%m-%dT%H:%M:%S"))
        for case_id, title, level, seen, fix in cases:
            case = etree.SubElement(suite, "testcase", classname=f"{report.kind}.{family}",
                                    name=f"{case_id} — {title}")
            if level == "error":
                failure = etree.SubElement(case, "failure", message=seen[:500],
                                           type="gar-conformance")
                failure.text = f"{seen}\nCorrection : {fix}"
            elif level == "warning":  # system-out, not properties: xunit2 has none per case
                out = etree.SubElement(case, "system-out")
                out.text = f"Avertissement : {seen}\nCorrection : {fix}"
    return etree.tostring(suites, encoding="UTF-8", xml_declaration=True, pretty_print=True)


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("services.conformance", "templates"),
    autoescape=True, undefined=jinja2.StrictUndefined,
)


def to_html(report: Report, *, back_url: str | None = None) -> str:
    return _ENV.get_template("report.html").render(report=report, back_url=back_url)


def write(report: Report, *, html: Path | None, json_path: Path | None, junit: Path | None
          ) -> None:
    if html is not None:
        html.write_text(to_html(report), encoding="utf-8")
    if json_path is not None:
        json_path.write_text(to_json(report), encoding="utf-8")
    if junit is not None:
        junit.write_bytes(to_junit(report))
