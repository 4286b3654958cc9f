"""The ENT side, live: the harness's list API answers a mediacentre as the broker does and
reports each call, for a client behaving well and one behaving badly."""

from __future__ import annotations

import asyncio
import gzip
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import lxml.html
import pytest
from cryptography.hazmat.primitives import serialization
from lxml import etree

from broker.api_auth import certificate_fingerprint
from services.conformance import ent_sandbox, mediacentre_checks
from services.conformance.ent_sandbox import EntSandbox
from services.keys import generate
from tests.loopback import free_port, wait_until_answering

ENT, UAI, USER = "ENT-TEST", "0650499P", "p123"
CERT, OTHER_CERT = generate("ent-client"), generate("autre-client")
BASE = "http://127.0.0.1:18011"


def _pem(key) -> str:
    return quote(key.certificate.public_bytes(serialization.Encoding.PEM).decode())


def _box(tmp_path: Path, **options) -> EntSandbox:
    options = {"ent_ids": (ENT,), "client_cert_sha256": certificate_fingerprint(
        CERT.certificate.public_bytes(serialization.Encoding.PEM)), **options}
    return EntSandbox(BASE, ent_sandbox.load_key(tmp_path / "keys"), mediacentre=True,
                      **options)


def _good_headers() -> dict[str, str]:
    return {"Accept": "application/json", "Accept-Encoding": "gzip, deflate",
            "Date": format_datetime(datetime.now(UTC), usegmt=True),
            "X-SSL-Client-Cert": _pem(CERT)}


def _call(box: EntSandbox, path: str, headers: dict[str, str], method: str = "GET"
          ) -> httpx.Response:
    transport = httpx.ASGITransport(app=ent_sandbox.create_app(box))

    async def send() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            return await client.request(method, path, headers=headers)

    return asyncio.run(send())


def _last_call(box: EntSandbox) -> dict[str, str]:
    number = box.log.count(ent_sandbox.CALL)
    prefix = f"mediacentre.call.{number}."
    return {c.id.removeprefix(prefix): c.level for c in box.log.lines()
            if c.id.startswith(prefix)}


def test_a_well_behaved_mediacentre_gets_the_list_in_the_gars_wire_format(
        tmp_path: Path) -> None:
    box = _box(tmp_path)
    response = _call(box, f"/ressources/{ENT}/{UAI}/{USER}", _good_headers())
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert set(_last_call(box).values()) == {"ok"}
    answer = mediacentre_checks.answer(gzip.compress(response.content))
    assert [c.level for c in answer] == ["ok"] * (1 + len(ent_sandbox.SYNTHETIC))
    assert response.json()["listeRessources"]["ressource"][0]["urlAccesRessource"].startswith(
        f"{BASE}/domaineGar?")


def test_the_lists_thumbnails_are_served(tmp_path: Path) -> None:
    box = _box(tmp_path)
    listed = _call(box, f"/ressources/{ENT}/{UAI}/{USER}", _good_headers()).json()
    thumbnail = listed["listeRessources"]["ressource"][0]["urlVignette"]
    response = _call(box, thumbnail.removeprefix(BASE), {})
    assert response.status_code == 200 and response.headers["content-type"] == "image/svg+xml"


def test_a_careless_mediacentre_is_answered_but_warned(tmp_path: Path) -> None:
    box = _box(tmp_path)
    headers = {"X-SSL-Client-Cert": _pem(CERT),
               "Date": format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)}
    response = _call(box, f"/resources/{ENT}/0650499A/{USER}",
                     {**headers, "Accept": "text/html", "Accept-Encoding": "identity"})
    assert response.status_code == 200 and "content-encoding" not in response.headers
    levels = _last_call(box)
    assert {k for k, v in levels.items() if v == "warning"} == {
        "spelling", "uai", "accept", "gzip", "date"}
    assert "error" not in levels.values()


def test_an_unknown_ent_gets_the_gars_erreur_body_and_a_failed_line(tmp_path: Path) -> None:
    box = _box(tmp_path)
    response = _call(box, f"/ressources/ENT-AUTRE/{UAI}/{USER}", _good_headers())
    assert response.status_code == 403
    assert response.json()["Erreur"]["Code"] == "Forbidden"
    assert _last_call(box)["ent"] == "error"


def test_a_wrong_uai_letter_is_refused_in_strict_mode(tmp_path: Path) -> None:
    box = _box(tmp_path, strict=True)
    response = _call(box, f"/ressources/{ENT}/0650499A/{USER}", _good_headers())
    assert response.status_code == 400
    assert response.json()["Erreur"]["Message"] == "Établissement non trouvé"
    assert _last_call(box)["uai"] == "error"


def test_a_misspelt_path_is_recorded_not_lost_in_a_404(tmp_path: Path) -> None:
    box = _box(tmp_path)
    response = _call(box, f"/ressource/{ENT}/{UAI}/{USER}", _good_headers())
    assert response.status_code == 400
    assert response.json()["Erreur"]["Resource"] == f"ressource/{ENT}/{UAI}/{USER}"
    assert _last_call(box)["path"] == "error"


def test_a_post_is_a_failed_call(tmp_path: Path) -> None:
    box = _box(tmp_path)
    response = _call(box, f"/ressources/{ENT}/{UAI}/{USER}", _good_headers(), method="POST")
    assert response.status_code == 400
    assert _last_call(box)["method"] == "error"


@pytest.mark.parametrize("certificate", [None, OTHER_CERT])
def test_a_missing_or_foreign_client_certificate_is_refused(tmp_path: Path,
                                                           certificate) -> None:
    box = _box(tmp_path)
    headers = _good_headers()
    del headers["X-SSL-Client-Cert"]
    if certificate is not None:
        headers["X-SSL-Client-Cert"] = _pem(certificate)
    response = _call(box, f"/ressources/{ENT}/{UAI}/{USER}", headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert _last_call(box)["certificate"] == "error"


def test_without_a_registered_certificate_none_is_required(tmp_path: Path) -> None:
    box = _box(tmp_path, client_cert_sha256=None)
    headers = _good_headers()
    del headers["X-SSL-Client-Cert"]
    assert _call(box, f"/ressources/{ENT}/{UAI}/{USER}", headers).status_code == 200
    assert "certificate" not in _last_call(box)


def test_the_sp_role_is_not_served_by_a_mediacentre_run(tmp_path: Path) -> None:
    box = _box(tmp_path)
    response = _call(box, "/saml/sp/metadata", _good_headers())
    assert response.status_code == 400  # a (misdirected) list call, recorded as such
    assert _last_call(box)["path"] == "error"


# --------------------------------------------------------------------------- the command


def test_the_command_reports_each_call_and_fails_on_a_bad_one(tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{free_port()}"
    executable = Path(sys.executable).with_name("gar-testbed")
    process = subprocess.Popen(
        [str(executable), "--data-dir", str(tmp_path), "conformance", "mediacentre",
         "--listen", "--sandbox-url", base, "--calls", "2", "--timeout", "120",
         "--ent-id", ENT, "--html", str(tmp_path / "r.html"),
         "--junit", str(tmp_path / "junit.xml")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until_answering(process, f"{base}/")
        headers = _good_headers()
        del headers["X-SSL-Client-Cert"]
        assert httpx.get(f"{base}/ressources/{ENT}/{UAI}/{USER}", headers=headers
                         ).status_code == 200
        assert httpx.get(f"{base}/ressources/ENT-AUTRE/{UAI}/{USER}", headers=headers
                         ).status_code == 403
        output, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 1, output
    suites = etree.parse(str(tmp_path / "junit.xml")).getroot()
    failed = suites.xpath("//testcase[failure]/@name")
    assert failed == ["mediacentre.call.2.ent — Identifiant de l'ENT (idENT)"]
    assert suites.xpath("//testsuite/@name") == ["Appel de la liste n°1",
                                                 "Appel de la liste n°2", "Écoute du banc"]
    page = lxml.html.fromstring((tmp_path / "r.html").read_text())
    cells = [td.text_content().strip() for td in
             page.xpath('//tr[@data-id="mediacentre.call.2.ent"]/td')]
    assert cells[1:] == ["échec", f"un idENT parmi {ENT}", "ENT-AUTRE",
                         "Cet idENT n'est pas celui que le GAR connaît pour votre ENT "
                         "(--ent-id) : le GAR répond 403."]
