"""``gar-testbed oidc client add|list`` and ``trust add-oidc``: registering OIDC peers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli import app


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("oidc-cli")
    result = CliRunner().invoke(app, ["--data-dir", str(folder), "seed"])
    assert result.exit_code == 0, result.output
    return folder


def _run(data_dir: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--data-dir", str(data_dir), *args])
    return result.exit_code, result.output


def _document(tmp_path: Path, **fields: object) -> str:
    path = tmp_path / "client.json"
    path.write_text(json.dumps({"client_id": "https://editeur.test/oidc",
                                "redirect_uris": ["https://editeur.test/cb"], **fields}))
    return str(path)


def test_a_client_is_registered_from_its_document_and_its_secret_shown_once(
    data_dir: Path, tmp_path: Path
) -> None:
    code, output = _run(data_dir, "oidc", "client", "add", _document(tmp_path),
                        "--provider", "editions-exemple")
    assert code == 0 and "Secret (affiché une seule fois) : " in output
    secret = output.split("Secret (affiché une seule fois) : ")[1].split()[0]
    code, listing = _run(data_dir, "oidc", "client", "list")
    assert "https://editeur.test/oidc  editions-exemple  client_secret_basic" in listing
    assert secret not in listing


def test_the_seed_registers_the_provider_mocks_client(data_dir: Path) -> None:
    code, listing = _run(data_dir, "oidc", "client", "list")
    assert code == 0 and "/oidc/callback" in listing and "provider-mock" in listing


@pytest.mark.parametrize(("fields", "provider"), [
    ({"redirect_uris": ["https://editeur.test/cb#frag"]}, "editions-exemple"),
    ({"redirect_uris": []}, "editions-exemple"),
    ({"token_endpoint_auth_method": "client_secret_jwt"}, "editions-exemple"),
    ({}, "no-such-provider"),
])
def test_a_bad_registration_is_refused_in_one_line(
    data_dir: Path, tmp_path: Path, fields: dict[str, object], provider: str
) -> None:
    code, output = _run(data_dir, "oidc", "client", "add", _document(tmp_path, **fields),
                        "--provider", provider)
    assert code == 1 and output.strip().startswith("erreur : oidc.registration.invalid")
    assert len(output.strip().splitlines()) == 1


def test_an_upstream_provider_needs_a_discovery_url(data_dir: Path) -> None:
    code, output = _run(data_dir, "trust", "add-oidc", "https://ent.test/oidc",
                        "--client-id", "gar")
    assert code == 1 and "oidc.discovery.invalid" in output
