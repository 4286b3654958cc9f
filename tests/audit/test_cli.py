"""``gar-testbed audit verify`` and ``purge`` on a real data dir: exit codes and messages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from broker.models import AuditRecord
from services.cli import app
from services.dataset import Dataset
from tests.audit.conftest import NOW, make_history

Cli = Callable[..., Result]


@pytest.fixture
def cli(session: Session, academy: Dataset, engine: Engine, tmp_path: Path) -> Cli:
    """The command on the seeded database, holding decisions from 40 days ago and today."""
    make_history(session, academy, at=NOW - timedelta(days=40))
    make_history(session, academy)
    url = engine.url.render_as_string(hide_password=False)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(app, ["--data-dir", str(tmp_path / "data"), *args],
                                  env={"DATABASE_URL": url, "GAR_AUDIT_RETENTION_DAYS": "30"})

    return invoke


def test_verify_says_the_trail_is_intact(cli: Cli) -> None:
    result = cli("audit", "verify")
    assert result.exit_code == 0 and "12 enregistrement(s)" in result.output


def test_verify_exits_non_zero_and_names_an_edited_record(cli: Cli, session: Session) -> None:
    session.execute(update(AuditRecord).where(AuditRecord.id == 3).values(decision="refused"))
    session.commit()
    result = cli("audit", "verify")
    assert result.exit_code == 1
    assert "n° 3" in result.output and "audit.record_altered" in result.output


def test_purge_uses_the_retention_setting_and_verify_stays_green(cli: Cli) -> None:
    purged = cli("audit", "purge")
    assert purged.exit_code == 0 and "6 enregistrement(s)" in purged.output
    assert "point de contrôle" in purged.output
    verified = cli("audit", "verify")
    assert verified.exit_code == 0 and "1 point(s) de contrôle" in verified.output


def test_purge_before_a_date_removes_what_is_older(cli: Cli) -> None:
    result = cli("audit", "purge", "--before", (NOW - timedelta(days=60)).date().isoformat())
    assert result.exit_code == 0 and "0 enregistrement(s)" in result.output


def test_purge_refuses_a_malformed_date(cli: Cli) -> None:
    result = cli("audit", "purge", "--before", "hier")
    assert result.exit_code == 1 and "AAAA-MM-JJ" in result.output


def test_report_writes_a_self_contained_html_file(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "rapport.html"
    result = cli("audit", "report", "--output", str(target))
    assert result.exit_code == 0 and "0 diffusion(s) hors déclaration" in result.output
    assert "ark:/99999/r10001" in target.read_text(encoding="utf-8")
