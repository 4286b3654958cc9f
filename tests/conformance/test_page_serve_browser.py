"""The page as an editor gets it: ``gar-testbed conformance serve`` started as a command on
loopback, driven in headless Chromium, against provider mocks that trust that sandbox."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from services.settings import Settings
from tests.browser.conftest import chromium, page  # noqa: F401  (shared browser fixtures)
from tests.conformance.conftest import RESOURCE
from tests.loopback import serving

pytestmark = pytest.mark.browser
CLI = Path(sys.executable).with_name("gar-testbed")


@dataclass(frozen=True)
class Served:
    url: str
    providers: dict[str, Settings]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from provider_mock.app import create_app as provider_app
    from services.cli import Service, bind

    url = f"http://127.0.0.1:{_free_port()}"
    command = subprocess.Popen(
        [str(CLI), "--data-dir", str(tmp_path_factory.mktemp("serve")), "conformance", "serve",
         "--sandbox-url", url],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    variants = {"careful": {}, "naive": {"provider_naive": "reader"},
                "strict": {"provider_unsolicited": False, "provider_acs_redirect": True}}
    sockets = [bind("127.0.0.1", 0) for _ in variants]
    providers = {
        name: Settings(data_dir=tmp_path_factory.mktemp(name), host="127.0.0.1",
                       provider_port=sock.getsockname()[1], broker_url=url,
                       **options)  # type: ignore[arg-type]
        for (name, options), sock in zip(variants.items(), sockets, strict=True)}
    services = [Service(name, provider_app(settings), sock)
                for (name, settings), sock in zip(providers.items(), sockets, strict=True)]
    try:
        with serving(services, "the provider mocks"):
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if command.poll() is not None or time.monotonic() > deadline:
                    output = command.stdout.read().decode() if command.stdout else ""
                    pytest.fail(f"gar-testbed conformance serve did not start: {output[-2000:]}")
                time.sleep(0.2)
            yield Served(url, providers)
    finally:
        command.terminate()
        command.wait(timeout=15)


def _saml(page: Page, served: Served, mock: str, only: str) -> None:  # noqa: F811
    base = served.providers[mock].provider_base
    page.goto(f"{served.url}/")
    page.get_by_label("URL des métadonnées SAML").fill(f"{base}/saml/metadata")
    page.get_by_label("URL qui déclenche la connexion").fill(f"{base}/resource/{RESOURCE}")
    page.get_by_label("RelayState des réponses non sollicitées").fill(
        f"{base}/resource/{RESOURCE}")
    page.get_by_label("Ne jouer que les scénarios").fill(only)


def _launch(page: Page) -> None:  # noqa: F811
    page.get_by_role("button", name="Lancer les scénarios").click()


def test_a_service_refusing_unsolicited_responses_says_so_and_passes(
    served: Served, page: Page  # noqa: F811
) -> None:
    _saml(page, served, "strict", "valid.unsolicited.student field.in_response_to.both_missing")
    page.get_by_label("Marqueur de succès").fill('data-result="ok"')
    page.get_by_label("Mon service accepte les réponses non sollicitées").uncheck()
    _launch(page)
    expect(page.locator("#verdict")).to_contain_text("Compatible GAR")
    row = page.locator('#scenarios tr[data-id="valid.unsolicited.student"] td')
    expect(row.nth(2)).to_have_text("refusée")
    expect(row.nth(3)).to_contain_text("refusée (HTTP 400")


def test_the_redirect_options_judge_the_answer_to_the_post_itself(
    served: Served, page: Page  # noqa: F811
) -> None:
    _saml(page, served, "strict", "valid.student")
    page.get_by_label("Statuts HTTP d'une réponse acceptée").fill("303")
    page.get_by_label("Suivre les redirections").uncheck()
    _launch(page)
    expect(page.locator('#scenarios tr[data-id="valid.student"] td').nth(3)).to_have_text(
        "acceptée (HTTP 303)")


def test_a_follow_up_url_and_a_failure_marker_are_read(
    served: Served, page: Page  # noqa: F811
) -> None:
    base = served.providers["careful"].provider_base
    _saml(page, served, "careful", "valid.student field.audience.wrong.both")
    page.get_by_label("Page lue ensuite").fill(f"{base}/saml/session")
    page.get_by_label("Statuts HTTP d'une réponse acceptée").fill("200-499")
    page.get_by_label("Marqueur d'échec").fill("provider.session.none")
    _launch(page)
    expect(page.locator('#scenarios tr[data-id="field.audience.wrong.both"] td').nth(3)
           ).to_contain_text("refusée (HTTP 401, marqueur d'échec trouvé")
    expect(page.locator('#scenarios tr[data-id="valid.student"] td').nth(3)).to_have_text(
        "acceptée (HTTP 200)")


def test_accounts_are_compared_with_the_account_marker(
    served: Served, page: Page  # noqa: F811
) -> None:
    _saml(page, served, "naive", "gar.ido.")
    page.get_by_label("Marqueur de succès").fill('data-result="ok"')
    page.get_by_label("Compte ouvert dans la page").fill('data-account="([^"]+)"')
    _launch(page)
    expect(page.locator("#verdict")).to_contain_text("Non conforme")
    expect(page.locator('#scenarios tr[data-id="gar.ido.same_person"] td').nth(3)
           ).to_contain_text("deux comptes différents")


def test_a_cas_publisher_is_checked_from_the_page(served: Served, page: Page) -> None:  # noqa: F811
    page.goto(f"{served.url}/")
    page.get_by_label("URL d'accès CAS").fill(
        f"{served.providers['naive'].provider_base}/cas/atlas-histoire")
    page.get_by_label("Marqueur de succès").fill('data-result="ok"')
    page.get_by_label("Ne jouer que les scénarios").fill("cas.valid.student cas.ticket.forged")
    _launch(page)
    expect(page.locator("#verdict")).to_contain_text("Non conforme")
    expect(page.locator('#scenarios tr[data-id="cas.valid.student"]')).to_have_attribute(
        "data-passed", "true")
    expect(page.locator('#scenarios tr[data-id="cas.ticket.forged"]')).to_have_attribute(
        "data-passed", "false")


def test_both_targets_or_none_end_on_a_french_error_page(
    served: Served, page: Page  # noqa: F811
) -> None:
    page.goto(f"{served.url}/")
    _launch(page)
    expect(page.locator("#error-code")).to_have_text("conformance.target.missing")
