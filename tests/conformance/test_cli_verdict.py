"""How the verdict is read, option by option, against the provider mock: each line's "seen"
says what the rule found (status, markers, which page)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from services.cli import app
from tests.conformance.conftest import RESOURCE, Live

VALID, WRONG_AUDIENCE = "valid.student", "field.audience.wrong.both"


def _seen(live: Live, mock: str, tmp_path: Path, *options: str) -> dict[str, str]:
    settings = live.providers[mock]
    resource = f"{settings.provider_base}/resource/{RESOURCE}"
    result = CliRunner().invoke(app, [
        "--data-dir", str(live.sandbox_dir), "conformance", "provider",
        "--metadata", f"{settings.provider_base}/saml/metadata", "--login-url", resource,
        "--relay-state", resource, "--sandbox-url", live.sandbox.base_url,
        "--only", VALID, "--only", WRONG_AUDIENCE, "--json", str(tmp_path / "r.json"),
        *options,
    ], catch_exceptions=False)
    report = json.loads((tmp_path / "r.json").read_text())
    seen = {s["id"]: s["seen"] for s in report["scenarios"]}
    seen["exit"] = str(result.exit_code)
    return seen


def test_a_redirect_status_counts_as_accepted_when_redirects_are_not_followed(
    live: Live, tmp_path: Path,
) -> None:
    seen = _seen(live, "strict", tmp_path, "--success-status", "303",
                 "--no-follow-redirects")
    assert seen[VALID] == "acceptée (HTTP 303)"
    assert seen[WRONG_AUDIENCE].startswith("refusée (HTTP 400")
    assert seen["exit"] == "0"


def test_without_following_redirects_the_post_answer_itself_is_judged(
    live: Live, tmp_path: Path,
) -> None:
    seen = _seen(live, "strict", tmp_path, "--no-follow-redirects")
    assert seen[VALID] == "refusée (HTTP 303)"
    assert seen["exit"] == "1"


def test_redirects_within_the_site_are_followed_by_default(live: Live, tmp_path: Path) -> None:
    seen = _seen(live, "strict", tmp_path, "--success-marker", 'data-result="ok"')
    assert seen[VALID] == "acceptée (HTTP 200, marqueur de succès trouvé)"


def test_a_failure_marker_refuses_a_page_whatever_its_status(live: Live, tmp_path: Path) -> None:
    seen = _seen(live, "careful", tmp_path, "--success-status", "200-499",
                 "--failure-marker", 'id="error-code"')
    assert seen[WRONG_AUDIENCE].startswith("refusée (HTTP 400, marqueur d'échec trouvé")
    assert seen[VALID] == "acceptée (HTTP 200)"


def test_a_follow_up_url_is_read_with_the_same_cookies(live: Live, tmp_path: Path) -> None:
    session = f"{live.careful.provider_base}/saml/session"
    seen = _seen(live, "careful", tmp_path, "--follow-up-url", session,
                 "--success-marker", 'data-result="ok"')
    assert seen[VALID] == "acceptée (HTTP 200, marqueur de succès trouvé)"
    assert seen[WRONG_AUDIENCE] == ("refusée (HTTP 401, marqueur de succès absent, "
                                    "code provider.session.none)")


def test_account_cases_are_left_out_without_an_account_marker(live: Live) -> None:
    settings = live.careful
    resource = f"{settings.provider_base}/resource/{RESOURCE}"
    common = ["--data-dir", str(live.sandbox_dir), "conformance", "provider",
              "--metadata", f"{settings.provider_base}/saml/metadata", "--login-url", resource,
              "--relay-state", resource, "--sandbox-url", live.sandbox.base_url,
              "--success-marker", 'data-result="ok"', "--only", "gar.ido."]
    without = CliRunner().invoke(app, common, catch_exceptions=False)
    assert "Sans --account-marker" in without.output
    assert "0 scénarios" in without.output
    marker = CliRunner().invoke(app, [*common, "--account-marker", 'data-account="([^"]+)"'],
                                catch_exceptions=False)
    assert marker.exit_code == 0, marker.output
    assert "2 scénarios" in marker.output
