"""The ENT side, live: the harness's service provider against the identity-provider mock as
the ENT's identity provider, over real loopback sockets, and a deliberately broken one."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import lxml.html
import pytest

from services.conformance import ent_sandbox
from services.conformance.ent_sandbox import EntSandbox
from services.conformance.forge import Pending, encode, pending_from_redirect
from services.saml.constants import ALG_RSA_SHA1
from services.saml.metadata import parse_metadata
from services.settings import Settings
from tests.flows import forge
from tests.flows.harness import log_in, walk
from tests.loopback import free_port, serving, wait_until_answering

PERSONA = "eleve.assigne"


@dataclass(frozen=True)
class EntLive:
    box: EntSandbox
    idp: Settings  # the identity-provider mock playing the ENT's identity provider
    cli_base: str  # where the command's own sandbox listens (the mock trusts it too)


@pytest.fixture(scope="module")
def ent_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EntLive]:
    from idp_mock.app import create_app as idp_app
    from idp_mock.app import metadata_xml
    from services.cli import Service, bind

    sockets = [bind("127.0.0.1", 0) for _ in range(2)]
    sandbox_port, idp_port = (s.getsockname()[1] for s in sockets)
    base, cli_base = f"http://127.0.0.1:{sandbox_port}", f"http://127.0.0.1:{free_port()}"
    # The mock trusts its "broker": here, the harness's service provider (and the command's).
    idp = Settings(data_dir=tmp_path_factory.mktemp("ent-idp"), host="127.0.0.1",
                   idp_port=idp_port, broker_url=base,
                   idp_mock_sp_metadata=[f"{cli_base}/saml/sp/metadata"])
    box = EntSandbox(base, ent_sandbox.load_key(tmp_path_factory.mktemp("harness") / "keys"),
                     idp=parse_metadata(metadata_xml(idp)), ent_ids=("ENT-TESTBED",))
    services = [Service("sandbox", ent_sandbox.create_app(box), sockets[0]),
                Service("idp", idp_app(idp), sockets[1])]
    with serving(services, "the ENT-side sandbox"):
        yield EntLive(box, idp, cli_base)


def _rows(page: httpx.Response) -> dict[str, list[str]]:
    """The report page's lines, numbering removed: id -> [level, expected, seen, fix]."""
    document = lxml.html.fromstring(page.text)
    rows = {}
    for row in document.xpath('//table[@id="checks"]//tr[@data-id]'):
        cells = [cell.text_content().strip() for cell in row.xpath("./td")]
        key = re.sub(r"^response\.\d+\.", "", row.get("data-id"))
        rows[key] = [row.get("data-level"), *cells[2:]]
    return rows


def _levels(page: httpx.Response) -> dict[str, str]:
    return {key: cells[0] for key, cells in _rows(page).items()}


async def _login(live: EntLive, shape: str) -> httpx.Response:
    async with httpx.AsyncClient(follow_redirects=False) as browser:
        login_page = await walk(browser, await browser.get(live.box.login_url))
        return await walk(browser, await log_in(browser, login_page, PERSONA, shape=shape))


async def _pending(live: EntLive) -> Pending:
    """Start a login and stop where the ENT's identity provider would answer."""
    async with httpx.AsyncClient(follow_redirects=False) as browser:
        response = await browser.get(live.box.login_url)
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"{live.idp.idp_base}/saml/sso?")
    return pending_from_redirect(response.headers["location"])


async def _post(live: EntLive, message: object, relay_state: str | None) -> httpx.Response:
    fields = {"SAMLResponse": encode(message)}  # type: ignore[arg-type]
    if relay_state is not None:
        fields["RelayState"] = relay_state
    async with httpx.AsyncClient() as client:
        return await client.post(live.box.acs_url, data=fields)


def _broken(live: EntLive, pending: Pending | None, *, audience: str | None = None,
            now: datetime | None = None, signed: bool = True, algorithm: str | None = None
            ) -> object:
    """A Response from the ENT's identity provider (its entityID, its key), broken as asked."""
    from services.saml import signing

    answering = pending or Pending("", None, live.box.acs_url)
    irt = "same" if pending is not None else None
    assertion = forge.assertion(live.idp, answering, forge.ent_attributes("p-eleve"),
                                audience=audience, in_response_to=irt, now=now)
    if signed:
        key = forge.idp_key(live.idp)
        assertion = (signing.sign(assertion, key) if algorithm is None
                     else signing.sign(assertion, key, algorithm=algorithm))
    return forge.response(live.idp, answering, assertion, in_response_to=irt, now=now)


def test_the_metadata_served_is_the_sandbox_service_provider(ent_live: EntLive) -> None:
    served = httpx.get(ent_live.box.entity_id)
    entity = parse_metadata(served.content)
    assert entity.entity_id == ent_live.box.entity_id
    assert entity.acs_url() == ent_live.box.acs_url
    assert entity.sp is not None and entity.sp.signing_certificates == (
        ent_live.box.key.certificate,)


@pytest.mark.parametrize("shape", ["ent", "educonnect"])
def test_a_login_through_the_identity_provider_mock_passes_every_check(
        ent_live: EntLive, shape: str) -> None:
    page = asyncio.run(_login(ent_live, shape))
    levels = _levels(page)
    assert set(levels.values()) == {"ok"}, levels
    assert levels["verdict"] == levels["relay_state"] == levels["in_response_to"] == "ok"
    assert ("attributes.ent" if shape == "ent" else "attributes.educonnect") in levels
    assert 'data-result="ok"' in page.text


def test_an_unsolicited_response_is_checked_and_reported_as_unsolicited(
        ent_live: EntLive) -> None:
    page = asyncio.run(_post(ent_live, _broken(ent_live, None), None))
    levels = _levels(page)
    assert levels["solicited"] == "warning"
    assert levels["verdict"] == levels["signature.assertion"] == "ok"


@pytest.mark.parametrize(("breakage", "line", "level", "code"), [
    ({"signed": False}, "signature", "error", "saml.signature.missing"),
    ({"algorithm": ALG_RSA_SHA1}, "algorithm.assertion", "warning", None),
    ({"audience": "https://un-autre-gar.example.org"}, "audience", "error",
     "saml.audience.mismatch"),
    ({"now": datetime.now(UTC) - timedelta(hours=2)}, "time.conditions", "error",
     "saml.time.expired"),
])
def test_a_broken_response_is_reported_on_its_line_and_in_the_brokers_verdict(
        ent_live: EntLive, breakage: dict, line: str, level: str, code: str | None) -> None:
    async def play() -> httpx.Response:
        pending = await _pending(ent_live)
        return await _post(ent_live, _broken(ent_live, pending, **breakage),
                           pending.relay_state)

    rows = _rows(asyncio.run(play()))
    assert rows[line][0] == level
    if code is None:
        assert rows["verdict"][0] == "ok"
    else:
        assert rows["verdict"][0] == "error" and rows["verdict"][2].startswith(code)


def test_the_report_page_says_what_was_expected_seen_and_how_to_fix(ent_live: EntLive) -> None:
    async def play() -> httpx.Response:
        pending = await _pending(ent_live)
        broken = _broken(ent_live, pending, audience="https://un-autre-gar.example.org")
        return await _post(ent_live, broken, pending.relay_state)

    level, expected, seen, fix = _rows(asyncio.run(play()))["audience"]
    assert level == "error"
    assert expected == ent_live.box.entity_id
    assert seen == "https://un-autre-gar.example.org"
    assert "Restreignez l'assertion" in fix and ent_live.box.entity_id in fix


def test_a_relay_state_not_returned_as_sent_is_an_error(ent_live: EntLive) -> None:
    async def play() -> httpx.Response:
        pending = await _pending(ent_live)
        return await _post(ent_live, _broken(ent_live, pending), "autre-chose")

    assert _rows(asyncio.run(play()))["relay_state"][0] == "error"


def test_a_second_response_to_the_same_request_is_an_unknown_request(
        ent_live: EntLive) -> None:
    async def play() -> tuple[httpx.Response, httpx.Response]:
        pending = await _pending(ent_live)
        first = await _post(ent_live, _broken(ent_live, pending), pending.relay_state)
        again = await _post(ent_live, _broken(ent_live, pending), pending.relay_state)
        return first, again

    first, again = asyncio.run(play())
    assert _levels(first)["in_response_to"] == "ok"
    assert _levels(again)["in_response_to"] == "error"


def test_a_post_without_a_response_is_recorded_as_unreadable(ent_live: EntLive) -> None:
    before = ent_live.box.log.count(ent_sandbox.RESPONSE)
    page = httpx.post(ent_live.box.acs_url, data={"RelayState": "x"})
    assert _levels(page) == {"readable": "error"}
    assert ent_live.box.log.count(ent_sandbox.RESPONSE) == before + 1


# --------------------------------------------------------------------------- the command


def _command(live: EntLive, tmp_path: Path, *options: str) -> subprocess.Popen[str]:
    """``gar-testbed conformance idp --listen`` as a CI job runs it, in its own process."""
    executable = Path(sys.executable).with_name("gar-testbed")
    return subprocess.Popen(
        [str(executable), "--data-dir", str(tmp_path), "conformance", "idp",
         "--metadata", f"{live.idp.idp_base}/saml/metadata", "--listen",
         "--sandbox-url", live.cli_base, "--ent-id", "ENT-TESTBED",
         "--json", str(tmp_path / "r.json"), "--junit", str(tmp_path / "junit.xml"),
         *options], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_the_command_waits_for_the_responses_then_passes(ent_live: EntLive,
                                                         tmp_path: Path) -> None:
    process = _command(ent_live, tmp_path, "--responses", "2", "--timeout", "120")
    try:
        wait_until_answering(process, f"{ent_live.cli_base}/")
        cli = replace(ent_live, box=replace(ent_live.box, base_url=ent_live.cli_base))
        for shape in ("ent", "educonnect"):
            assert 'data-result="ok"' in asyncio.run(_login(cli, shape)).text
        output, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, output
    assert "Réponse n°2 (sollicitée)" in output
    report = json.loads((tmp_path / "r.json").read_text())
    ids = {c["id"] for c in report["checks"]}
    assert {"response.1.verdict", "response.2.verdict", "listen.response"} <= ids
    assert report["passed"] is True


def test_the_command_fails_when_nothing_came_before_its_timeout(ent_live: EntLive,
                                                               tmp_path: Path) -> None:
    process = _command(ent_live, tmp_path, "--timeout", "1")
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 1, output
    report = json.loads((tmp_path / "r.json").read_text())
    assert [c["id"] for c in report["checks"] if not c["passed"]] == ["listen.response"]
    assert '<failure message="attendu : 1 réponse(s) ; vu : 0' in (
        tmp_path / "junit.xml").read_text()
