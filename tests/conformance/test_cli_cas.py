"""``gar-testbed conformance provider --cas-url``: the CAS suite from the command line, the
sandbox's CAS server served by the run itself (its tickets live there)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli import app
from services.settings import Settings
from tests.loopback import serving

MARKER = 'data-result="ok"'


@pytest.fixture(scope="module")
def publishers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Settings,
                                                                            Settings]]:
    """A careful and a naive CAS publisher trusting a sandbox URL the CLI itself serves."""
    from provider_mock.app import create_app as provider_app
    from services.cli import Service, bind

    free = bind("127.0.0.1", 0)
    sandbox_url = f"http://127.0.0.1:{free.getsockname()[1]}"
    free.close()  # the CLI binds it during its run
    sockets = [bind("127.0.0.1", 0) for _ in range(2)]

    def provider(index: int, naive: bool) -> Settings:
        return Settings(data_dir=tmp_path_factory.mktemp("provider"), host="127.0.0.1",
                        provider_port=sockets[index].getsockname()[1], broker_url=sandbox_url,
                        provider_naive=naive)

    careful, naive = provider(0, False), provider(1, True)
    services = [Service("careful", provider_app(careful), sockets[0]),
                Service("naive", provider_app(naive), sockets[1])]
    with serving(services, "the CAS publishers"):
        yield sandbox_url, careful, naive


def _run(sandbox_url: str, settings: Settings, tmp_path: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, [
        "--data-dir", str(tmp_path), "conformance", "provider",
        "--cas-url", f"{settings.provider_base}/cas/atlas-histoire",
        "--sandbox-url", sandbox_url, "--success-marker", MARKER, "--echo-values",
        "--json", str(tmp_path / "rapport.json"), *extra,
    ], catch_exceptions=False)
    return result.exit_code, result.output


def test_a_careful_cas_publisher_exits_zero(
    publishers: tuple[str, Settings, Settings], tmp_path: Path
) -> None:
    sandbox_url, careful, _ = publishers
    code, output = _run(sandbox_url, careful, tmp_path)
    assert code == 0, output
    assert "Compatible GAR" in output
    report = json.loads((tmp_path / "rapport.json").read_text())
    assert len(report["scenarios"]) == 14 and report["failures"] == 0
    assert "Sans --account-marker" in output  # the two gar.ido cases need it


def test_a_naive_cas_publisher_exits_one_with_the_failed_cases(
    publishers: tuple[str, Settings, Settings], tmp_path: Path
) -> None:
    sandbox_url, _, naive = publishers
    code, output = _run(sandbox_url, naive, tmp_path, "--only", "cas.ticket.",
                        "--only", "cas.valid.student")
    assert code == 1, output
    report = json.loads((tmp_path / "rapport.json").read_text())
    failed = {s["id"] for s in report["scenarios"] if not s["passed"]}
    assert failed == {"cas.ticket.forged", "cas.ticket.reused", "cas.ticket.other_service",
                      "cas.ticket.expired"}


@pytest.mark.parametrize("options", [
    [],
    ["--metadata", "x.xml", "--cas-url", "https://editeur.example.org/r"],
    ["--cas-url", "javascript:alert(1)"],
])
def test_cas_url_and_metadata_are_exclusive_and_checked(tmp_path: Path,
                                                        options: list[str]) -> None:
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "conformance", "provider",
                                      *options], catch_exceptions=False)
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "--cas-url" in result.output
