"""The data-flow report flags every release outside a declaration or across a red line.

There must be none; these tests force one, the way a broken deployment would make one: a
declaration edited after a release, a release policy that ignores declarations, a policy
table edited to let a student's subjects through. The report, its JSON, its HTML file and
the command line each say so.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from broker import audit_report, release
from broker.api_auth import create_client
from broker.audit_report import NEVER, NEVER_RELEASED, NOT_ALLOWED, NOT_DECLARED, Outside
from broker.audit_scope import EVERYTHING, Period
from broker.models import ResourceAttribute
from services.attributes import ALLOWED, CATALOGUE, KNOWN_PROFILES
from services.cli import app
from services.dataset import Dataset
from tests.audit.conftest import ARK, COLLEGE_UAI, NOW, Audit, access, make_history, serve

PERIOD = Period.of(None, None, today=NOW.date())


def _outside(session: Session, resource: str) -> list[Outside]:
    flows = audit_report.data_flows(session, EVERYTHING, PERIOD)
    return next(f for f in flows.resources if f.resource_id == ARK[resource]).outside


@pytest.fixture
def undeclared(session: Session, academy: Dataset) -> Session:
    """The atlas released IDO, UAI and PRO; then its declaration lost PRO."""
    make_history(session, academy)
    session.execute(delete(ResourceAttribute).where(ResourceAttribute.resource_id == ARK["atlas"],
                                                    ResourceAttribute.code == "PRO"))
    session.commit()
    return session


@pytest.fixture
def served(undeclared: Session, engine: Engine, tmp_path: Path) -> Iterator[Audit]:
    token = create_client(undeclared, kind="auditor", ident="dpo", name="DPO")[1]
    undeclared.commit()
    url = engine.url.render_as_string(hide_password=False)
    with serve(url, tmp_path / "data", {"auditor": token}) as audit:
        audit.client.headers.update(audit.bearer("auditor"))
        yield audit


def test_a_release_outside_an_edited_declaration_is_flagged(undeclared: Session) -> None:
    assert _outside(undeclared, "atlas") == [Outside("National_elv", "PRO", 1, NOT_DECLARED)]
    assert _outside(undeclared, "maths") == []


def test_the_flows_json_and_report_file_flag_it(served: Audit) -> None:
    body = served.client.get("/audit/api/flows").json()
    atlas = next(r for r in body["resources"] if r["resource_id"] == ARK["atlas"])
    assert body["flagged"] == 1
    assert atlas["outside"] == [{"profile": "National_elv", "code": "PRO", "count": 1,
                                 "reason": NOT_DECLARED}]
    report = served.client.get("/audit/api/flows.html").text
    assert 'data-flagged="1"' in report and 'data-reason="not_declared"' in report


def test_the_flows_page_flags_it(served: Audit) -> None:
    served.client.post("/audit/connexion", data={"token": served.tokens["auditor"]})
    page = served.client.get("/audit/flux").text
    assert 'data-flagged="1"' in page
    assert f'data-resource="{ARK["atlas"]}" data-outside="1"' in page


def test_the_report_command_names_the_flagged_release_and_exits_1(
        undeclared: Session, engine: Engine, tmp_path: Path) -> None:
    url = engine.url.render_as_string(hide_password=False)
    result: Result = CliRunner().invoke(
        app, ["--data-dir", str(tmp_path / "data"), "audit", "report", "-o",
              str(tmp_path / "r.html")], env={"DATABASE_URL": url})
    assert result.exit_code == 1, result.output  # a finding stops an automated review
    assert "1 diffusion(s) hors déclaration" in result.output
    assert f"{ARK['atlas']} : PRO diffusé à National_elv (1 accès) — not_declared" in result.output
    assert 'data-reason="not_declared"' in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_a_release_policy_that_ignores_declarations_is_caught(
    session: Session, academy: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    def everything(_session: Session, _resource: str) -> list[str]:
        return list(CATALOGUE)

    monkeypatch.setattr(release, "declared_attributes", everything)
    access(session, academy, "eleve.assigne", "dictionnaire", COLLEGE_UAI)
    session.commit()
    flagged = {(o.code, o.reason) for o in _outside(session, "dictionnaire")}
    assert {("NOM", NOT_DECLARED), ("PRE", NOT_DECLARED), ("DIV", NOT_DECLARED)} <= flagged
    assert ("IDO", NOT_DECLARED) not in flagged


def test_an_edited_policy_table_does_not_hide_a_release_across_a_red_line(
    session: Session, academy: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ALLOWED edited to give students their subjects: the release and the ALLOWED check
    follow it, the red lines still flag it."""
    edited = {**ALLOWED, "National_elv": ALLOWED["National_elv"] | {"P_MAT"}}
    monkeypatch.setattr(release, "ALLOWED", edited)
    monkeypatch.setattr(audit_report, "ALLOWED", edited)
    session.add(ResourceAttribute(resource_id=ARK["maths"], code="P_MAT", purpose="test"))
    session.commit()
    access(session, academy, "eleve.assigne", "maths", COLLEGE_UAI)
    session.commit()
    flagged = {(o.code, o.reason) for o in _outside(session, "maths")}
    assert flagged == {("P_MAT", NEVER_RELEASED)}
    assert ("P_MAT", NOT_ALLOWED) not in flagged  # the edited table alone would have hidden it


def test_the_red_lines_agree_with_todays_policy_and_cover_every_profile() -> None:
    assert set(NEVER) == set(KNOWN_PROFILES)
    for profile in KNOWN_PROFILES:
        assert not NEVER[profile] & ALLOWED[profile], profile
    assert audit_report.crosses_red_line("National_ens", "INE")  # outside the catalogue
    assert audit_report.crosses_red_line("National_elv", "P_MEL")
    assert not audit_report.crosses_red_line("National_elv", "DIV")
