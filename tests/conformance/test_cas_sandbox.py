"""The sandbox's CAS server: the broker's answers, every ticket the harness decides."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from lxml import etree

from services.conformance import sandbox as sandbox_module
from services.conformance.cas_sandbox import LIFETIME_SECONDS
from services.conformance.sandbox import Sandbox
from services.conformance.verdict import VerdictRule, read

CAS = "{http://www.yale.edu/tp/cas}"
SERVICE = "https://editeur.example.org/ressource?sso_id=GAR"
PERSON = {"IDO": ["a" * 128], "UAI": ["0650499P", "0310001H"]}


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    return sandbox_module.load(tmp_path / "keys", "http://127.0.0.1:8010")


@pytest.fixture
def client(box: Sandbox) -> Iterator[TestClient]:
    with TestClient(sandbox_module.create_app(box)) as test_client:
        yield test_client


def _validate(client: TestClient, ticket: str, service: str = SERVICE,
              path: str = "/cas/p3/serviceValidate") -> etree._Element:
    answer = client.get(path, params={"ticket": ticket, "service": service})
    assert answer.status_code == 200
    return etree.fromstring(answer.content)


def test_a_prepared_login_redirects_to_the_service_with_a_ticket(
    box: Sandbox, client: TestClient
) -> None:
    box.cas.prepare(SERVICE, PERSON)
    answer = client.get("/cas/login", params={"service": SERVICE}, follow_redirects=False)
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(SERVICE + "&ticket=ST-")
    ticket = parse_qs(urlsplit(location).query)["ticket"][0]
    success = _validate(client, ticket).find(f"{CAS}authenticationSuccess")
    assert success is not None
    assert [e.text for e in success.iter(f"{CAS}UAI")] == PERSON["UAI"]


def test_a_login_nobody_prepared_logs_nobody_in(client: TestClient) -> None:
    answer = client.get("/cas/login", params={"service": SERVICE}, follow_redirects=False)
    assert answer.status_code == 200
    assert "ne connecte personne" in answer.text


def test_a_ticket_validates_once_even_on_the_cas2_path(box: Sandbox, client: TestClient) -> None:
    ticket = box.cas.issue(SERVICE, PERSON)
    assert _validate(client, ticket, path="/cas/serviceValidate").find(
        f"{CAS}authenticationSuccess") is not None
    failure = _validate(client, ticket).find(f"{CAS}authenticationFailure")
    assert failure is not None and failure.get("code") == "INVALID_TICKET"
    assert box.cas.attempts(ticket) == 2


def test_a_ticket_presented_for_another_service_is_refused_and_consumed(
    box: Sandbox, client: TestClient
) -> None:
    ticket = box.cas.issue(SERVICE, PERSON)
    failure = _validate(client, ticket, "https://autre.example.org/").find(
        f"{CAS}authenticationFailure")
    assert failure is not None and failure.get("code") == "INVALID_SERVICE"
    assert _validate(client, ticket).find(f"{CAS}authenticationFailure") is not None


def test_an_expired_ticket_is_refused(box: Sandbox, client: TestClient) -> None:
    ticket = box.cas.issue(SERVICE, PERSON, age_seconds=LIFETIME_SECONDS + 1)
    failure = _validate(client, ticket).find(f"{CAS}authenticationFailure")
    assert failure is not None and failure.get("code") == "INVALID_TICKET"


@pytest.mark.parametrize("ticket", ["ST-" + "0" * 64, "pas-un-ticket", "ST-<x>"])
def test_a_ticket_never_issued_is_not_recognized(client: TestClient, ticket: str) -> None:
    failure = _validate(client, ticket).find(f"{CAS}authenticationFailure")
    assert failure is not None and failure.get("code") == "INVALID_TICKET"


def test_a_validation_without_service_is_an_invalid_request(
    box: Sandbox, client: TestClient
) -> None:
    ticket = box.cas.issue(SERVICE, PERSON)
    answer = client.get("/cas/p3/serviceValidate", params={"ticket": ticket})
    failure = etree.fromstring(answer.content).find(f"{CAS}authenticationFailure")
    assert failure is not None and failure.get("code") == "INVALID_REQUEST"


def test_the_verdict_reader_records_a_redirect_off_the_site() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/ressource":
            return httpx.Response(303, headers={"location": "/suite"})
        return httpx.Response(302, headers={"location": "//evil.example/x"})

    async def go() -> str | None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as browser:
            first = await browser.get("https://editeur.example.org/ressource")
            return (await read(VerdictRule(), browser, first)).left_to

    assert asyncio.run(go()) == "https://evil.example/x"
