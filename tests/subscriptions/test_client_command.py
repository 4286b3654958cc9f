"""``gar-testbed client add|list``: register API clients, token printed once."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import select
from typer.testing import CliRunner

from broker.db import make_engine, session_factory
from broker.models import ApiClientRecord
from services.cli import app
from services.keys import generate
from tests.subscriptions.conftest import OWN


@pytest.fixture
def run(tmp_path: Path):
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, ["--data-dir", str(tmp_path), *args], catch_exceptions=False)

    return invoke


def _records(tmp_path: Path) -> list[ApiClientRecord]:
    engine = make_engine(f"sqlite:///{tmp_path / 'broker.sqlite3'}")
    try:
        with session_factory(engine)() as session:
            return list(session.scalars(select(ApiClientRecord)))
    finally:
        engine.dispose()


def test_client_add_prints_the_token_once_and_stores_its_digest(run, tmp_path: Path) -> None:
    result = run("client", "add", "--kind", "distributor", "--ident", OWN, "--name", "Éditeur")
    assert result.exit_code == 0, result.output
    token = re.search(r"Jeton \(affiché une seule fois\) : (\S+)", result.output)
    assert token is not None
    (record,) = _records(tmp_path)
    assert record.token_sha256 == hashlib.sha256(token[1].encode()).hexdigest()
    assert (record.kind, record.ident, record.cert_sha256) == ("distributor", OWN, None)


def test_client_add_with_a_certificate_stores_its_fingerprint(run, tmp_path: Path) -> None:
    pair = generate("client.example")
    cert = tmp_path / "client.pem"
    cert.write_bytes(pair.cert_pem)
    result = run("client", "add", "--kind", "ent", "--ident", "ENT-1", "--name", "ENT",
                 "--cert", str(cert))
    assert result.exit_code == 0, result.output
    (record,) = _records(tmp_path)
    der = pair.certificate.public_bytes(Encoding.DER)
    assert record.cert_sha256 == hashlib.sha256(der).hexdigest()


def test_client_add_refuses_a_bad_distributor_id_in_one_line(run, tmp_path: Path) -> None:
    result = run("client", "add", "--kind", "distributor", "--ident", "123", "--name", "X")
    assert result.exit_code == 1
    assert "identifiant de distributeur invalide" in result.output
    assert "Traceback" not in result.output
    assert _records(tmp_path) == []


def test_client_list_shows_each_client_without_its_token(run) -> None:
    assert "Aucun client" in run("client", "list").output
    added = run("client", "add", "--kind", "distributor", "--ident", OWN, "--name", "Éditeur")
    token = added.output.split("une seule fois) : ", 1)[1].split()[0]
    listing = run("client", "list").output
    assert OWN in listing and "Éditeur" in listing and "jeton seul" in listing
    assert token not in listing
