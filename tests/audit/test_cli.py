"""``gar-testbed audit verify`` and ``purge`` on a real data dir: exit codes and messages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from broker.audit import GENESIS
from broker.models import AuditHead, AuditRecord, AuditSeal
from services.cli import app
from services.dataset import Dataset
from tests.audit.conftest import NOW, make_history
from tests.audit.tamper import triggers_off

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
    with triggers_off(session):
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


def test_verify_seals_what_it_verified(cli: Cli, session: Session) -> None:
    result = cli("audit", "verify")
    assert result.exit_code == 0 and "Chaîne scellée (sceau n° 1)" in result.output
    seal = session.scalars(select(AuditSeal)).one()
    assert (seal.reason, seal.last_id, seal.records) == ("verify", 12, 12)
    assert cli("audit", "verify", "--no-seal").exit_code == 0
    assert session.scalar(select(func.count()).select_from(AuditSeal)) == 1


def test_a_seal_kept_in_a_file_catches_a_wiped_database(cli: Cli, session: Session,
                                                        tmp_path: Path) -> None:
    kept = tmp_path / "sceau.json"
    sealed = cli("audit", "seal", "--output", str(kept))
    assert sealed.exit_code == 0 and "jusqu'au n° 12" in sealed.output
    with triggers_off(session):  # everything the database held about the trail, gone
        session.execute(delete(AuditRecord))
        session.execute(delete(AuditSeal))
    session.execute(update(AuditHead).values(last_id=None, last_hash=GENESIS))
    session.commit()
    assert cli("audit", "verify", "--no-seal").exit_code == 0
    result = cli("audit", "verify", "--seal", str(kept))
    assert result.exit_code == 1 and "audit.seal_missing" in result.output
    assert "n° 12" in result.output and "sceau.json" in result.output


def test_verify_refuses_an_unreadable_seal_file(cli: Cli, tmp_path: Path) -> None:
    bogus = tmp_path / "sceau.json"
    bogus.write_bytes(b"\xff\xfe not json")
    result = cli("audit", "verify", "--seal", str(bogus))
    assert result.exit_code == 1 and "n'est pas un sceau" in result.output


def test_seal_and_purge_refuse_a_tampered_chain(cli: Cli, session: Session) -> None:
    with triggers_off(session):
        session.execute(delete(AuditRecord).where(AuditRecord.id == 2))
    session.commit()
    for command in (("audit", "seal"), ("audit", "purge")):
        result = cli(*command)
        assert result.exit_code == 1 and "audit.link_broken" in result.output, command
    assert session.scalar(select(func.count()).select_from(AuditRecord)) == 11
    assert session.scalar(select(func.count()).select_from(AuditSeal)) == 0


def test_checkpoints_and_seals_still_verify_after_key_rollovers(cli: Cli) -> None:
    assert cli("audit", "purge").exit_code == 0  # signed by the first key
    for _ in range(2):  # the second rollover retires the first key: only its certificate stays
        assert cli("keys", "next").exit_code == 0
        assert cli("keys", "rollover", "--overlap-hours", "0").exit_code == 0
        result = cli("audit", "verify")
        assert result.exit_code == 0, result.output
    listed = cli("keys")
    assert "clé retirée" in listed.output
