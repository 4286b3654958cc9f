"""The `gar-testbed` command, run in process with typer's runner on a tmp data dir."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from typer.testing import CliRunner

from services.cli import app

MD = "urn:oasis:names:tc:SAML:2.0:metadata"


@pytest.fixture
def run(tmp_path: Path):
    """Run the command with `--data-dir tmp_path`; returns the result (output split apart)."""
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, ["--data-dir", str(tmp_path), *args], catch_exceptions=False)

    return invoke


def _fingerprints(output: str) -> list[str]:
    return re.findall(r"empreinte SHA-256 : ([0-9A-F:]{95})", output)


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("up", "seed", "keys", "metadata", "trust"):
        assert re.search(rf"\b{command}\b", result.output), command


def test_help_of_a_command_answers_even_with_a_bad_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GAR_IDO_SCOPE", "everyone")
    result = CliRunner().invoke(app, ["up", "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_keys_creates_the_three_key_pairs(run, tmp_path: Path) -> None:
    result = run("keys")
    assert result.exit_code == 0, result.output
    for name in ("broker", "idp", "provider"):
        assert (tmp_path / "keys" / f"{name}.key").is_file()
        assert (tmp_path / "keys" / f"{name}.crt").is_file()
        assert f"{name} (créée)" in result.output
    assert len(_fingerprints(result.output)) == 3
    assert result.output.count("expire le") == 3


def test_keys_private_keys_are_readable_by_their_owner_only(run, tmp_path: Path) -> None:
    run("keys")
    for name in ("broker", "idp", "provider"):
        assert (tmp_path / "keys" / f"{name}.key").stat().st_mode & 0o077 == 0


def test_keys_is_idempotent(run, tmp_path: Path) -> None:
    first = run("keys")
    key_bytes = (tmp_path / "keys" / "broker.key").read_bytes()
    second = run("keys")
    assert second.exit_code == 0, second.output
    assert _fingerprints(second.output) == _fingerprints(first.output)
    assert (tmp_path / "keys" / "broker.key").read_bytes() == key_bytes
    assert "(créée)" not in second.output
    assert second.output.count("(existante)") == 3


def test_keys_fingerprint_is_the_certificate_sha256(run, tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    result = run("keys")
    cert = x509.load_pem_x509_certificate((tmp_path / "keys" / "broker.crt").read_bytes())
    expected = cert.fingerprint(hashes.SHA256()).hex(":").upper()
    assert _fingerprints(result.output)[0] == expected


def test_data_dir_can_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GAR_DATA_DIR", str(tmp_path / "from-env"))
    result = CliRunner().invoke(app, ["keys"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "from-env" / "keys" / "idp.crt").is_file()


def test_a_bad_setting_is_one_line_on_stderr_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GAR_IDO_SCOPE", "everyone")
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "keys"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("erreur : réglage invalide ido_scope")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.output


def test_an_unknown_metadata_service_is_a_usage_error(run) -> None:
    result = run("metadata", "nobody")
    assert result.exit_code == 2


@pytest.mark.parametrize("service", ["idp", "provider", "broker-idp", "broker-sp"])
def test_metadata_prints_parseable_saml_metadata(run, service: str) -> None:
    result = run("metadata", service)
    assert result.exit_code == 0, result.stderr
    root = etree.fromstring(result.stdout_bytes)
    assert root.tag == f"{{{MD}}}EntityDescriptor"
    assert root.get("entityID", "").startswith("http://")


def test_metadata_idp_describes_the_identity_provider_mock(run) -> None:
    result = run("metadata", "idp")
    root = etree.fromstring(result.stdout_bytes)
    assert root.find(f"{{{MD}}}IDPSSODescriptor") is not None
    assert root.get("entityID") == "http://127.0.0.1:8001/saml/metadata"


def test_metadata_carries_the_key_shown_by_keys(run) -> None:
    keys_output = run("keys").output
    metadata_output = run("metadata", "idp").stdout_bytes
    root = etree.fromstring(metadata_output)
    cert_b64 = root.findtext(".//{http://www.w3.org/2000/09/xmldsig#}X509Certificate")
    assert cert_b64 is not None
    import base64
    import hashlib

    digest = hashlib.sha256(base64.b64decode("".join(cert_b64.split()))).hexdigest()
    idp_fingerprint = _fingerprints(keys_output)[1].replace(":", "").lower()
    assert digest == idp_fingerprint


def test_seed_ends_with_a_summary_line(run) -> None:
    result = run("seed")
    assert result.exit_code == 0, result.output
    last = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"Banc d'essai prêt \((\w+ : \d+)(, \w+ : \d+)*\)\.", last), last


def _summary(result) -> dict[str, int]:
    last = result.stdout.strip().splitlines()[-1]
    return {name: int(count) for name, count in re.findall(r"(\w+) : (\d+)", last)}


def test_seed_is_idempotent(run) -> None:
    first = _summary(run("seed"))
    second_run = run("seed")
    assert second_run.exit_code == 0, second_run.output
    second = _summary(second_run)
    assert second.get("created", 0) == 0
    moving = {"created", "updated"}  # what this run wrote; everything else is what exists
    assert {k: v for k, v in second.items() if k not in moving} == {
        k: v for k, v in first.items() if k not in moving
    }
    assert len(run("trust", "list").stdout.strip().splitlines()) == 2


def test_trust_list_shows_the_mocks_after_seed(run) -> None:
    run("seed")
    result = run("trust", "list")
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:8001/saml/metadata" in result.stdout
    assert "http://127.0.0.1:8002/saml/metadata" in result.stdout


def test_trust_add_registers_a_metadata_file(run, tmp_path: Path) -> None:
    from services.keys import generate

    run("seed")
    peer = _sp_metadata_file(tmp_path / "peer.xml", "https://editeur.example/saml", generate("x"))
    result = run("trust", "add", str(peer))
    assert result.exit_code == 0, result.output
    assert "https://editeur.example/saml" in result.stdout
    assert "https://editeur.example/saml" in run("trust", "list").stdout


def test_trust_add_allow_sha1_is_recorded_for_that_peer_only(run, tmp_path: Path) -> None:
    from broker import trust
    from broker.db import make_engine, session_factory
    from services.keys import generate
    from services.settings import Settings

    run("seed")
    peer = _sp_metadata_file(tmp_path / "peer.xml", "https://ent-sha1.example/saml", generate("x"))
    result = run("trust", "add", "--allow-sha1", str(peer))
    assert result.exit_code == 0, result.output
    assert "RSA-SHA1" in result.stdout
    engine = make_engine(Settings(data_dir=tmp_path).sqlalchemy_url)
    with session_factory(engine)() as session:
        assert trust.allows_sha1(session, "https://ent-sha1.example/saml")
        assert not trust.allows_sha1(session, "http://127.0.0.1:8001/saml/metadata")
    engine.dispose()
    run("trust", "add", "--refuse-sha1", str(peer))
    with session_factory(engine)() as session:
        assert not trust.allows_sha1(session, "https://ent-sha1.example/saml")
    engine.dispose()


def test_trust_add_of_a_missing_file_is_one_line_and_exit_1(run, tmp_path: Path) -> None:
    run("seed")
    result = run("trust", "add", str(tmp_path / "absent.xml"))
    assert result.exit_code == 1
    assert result.stderr.startswith("erreur : ")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.output


def test_trust_add_of_garbage_is_one_line_and_exit_1(run, tmp_path: Path) -> None:
    run("seed")
    garbage = tmp_path / "garbage.xml"
    garbage.write_text("<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>")
    result = run("trust", "add", str(garbage))
    assert result.exit_code == 1
    assert result.stderr.startswith("erreur : ")
    assert "Traceback" not in result.output


def test_up_on_a_busy_port_is_one_line_and_exit_1(run) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("--broker-port", str(port), "up")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"erreur : impossible d'écouter sur 127.0.0.1:{port}")
    assert "Traceback" not in result.output


def _sp_metadata_file(path: Path, entity_id: str, keypair) -> Path:
    path.write_text(
        f"""<md:EntityDescriptor xmlns:md="{MD}" xmlns:ds="http://www.w3.org/2000/09/xmldsig#"
    entityID="{entity_id}">
  <md:SPSSODescriptor AuthnRequestsSigned="true" WantAssertionsSigned="true"
      protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data>
      <ds:X509Certificate>{keypair.cert_b64}</ds:X509Certificate>
    </ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:AssertionConsumerService index="0" isDefault="true"
        Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
        Location="https://editeur.example/saml/acs"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>"""
    )
    return path


def test_serve_runs_every_app_and_stopping_one_stops_them_all() -> None:
    import asyncio
    import threading
    import time

    import httpx
    from fastapi import FastAPI

    from services.cli import Service, bind, make_servers, serve

    services = []
    for name in ("broker", "idp", "provider"):
        web = FastAPI()
        web.get("/")(lambda name=name: {"service": name})
        services.append(Service(name, web, bind("127.0.0.1", 0)))
    ports = [service.sock.getsockname()[1] for service in services]
    servers = make_servers(services, access_log=False)
    thread = threading.Thread(target=asyncio.run, args=(serve(services, servers),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not all(server.started for server in servers) and time.monotonic() < deadline:
        time.sleep(0.02)

    answers = [httpx.get(f"http://127.0.0.1:{port}/").json()["service"] for port in ports]
    servers[1].should_exit = True
    thread.join(timeout=10)

    assert answers == ["broker", "idp", "provider"]
    assert not thread.is_alive()
    assert all(server.should_exit for server in servers)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Running:
    process: Any
    banner: str
    out: str = ""
    err: str = ""


@contextlib.contextmanager
def _up(tmp_path: Path, ports: tuple[int, int, int], **env_extra: str):
    """`gar-testbed up` in a subprocess, once its banner is printed.

    Leaving the block sends Ctrl-C and collects the rest of its output in ``out`` and ``err``
    (killed if it does not stop).
    """
    import os
    import signal
    import subprocess
    import sys
    import time

    broker, idp, provider = ports
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAR_")} | {
        "PYTHONUNBUFFERED": "1"
    } | env_extra
    command = [sys.executable, "-m", "services.cli", "--data-dir", str(tmp_path),
               "--broker-port", str(broker), "--idp-port", str(idp),
               "--provider-port", str(provider), "up"]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl-C" in line:
                break
        running = Running(process, "".join(lines))
        yield running
        process.send_signal(signal.SIGINT)
        running.out, running.err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_up_serves_the_testbed_until_ctrl_c(tmp_path: Path) -> None:
    import httpx

    broker, idp, provider = _free_port(), _free_port(), _free_port()
    with _up(tmp_path, (broker, idp, provider)) as up:
        process, banner = up.process, up.banner
        resource_url = f"http://127.0.0.1:{provider}/resource/manuel-maths-4e"
        assert resource_url in banner, banner + process.stderr.read()
        assert f"http://127.0.0.1:{broker}/" in banner
        assert f"http://127.0.0.1:{idp}/" in banner
        first_hop = _get_when_listening(httpx, resource_url)
        assert first_hop.is_redirect
        assert first_hop.headers["location"].startswith(f"http://127.0.0.1:{broker}/")
    out, err = up.out, up.err
    assert process.returncode == 0, err
    assert out.strip().endswith("Arrêté.")
    assert "Traceback" not in err


def test_up_without_the_clients_ca_file_refuses_mutual_tls_in_one_line(
    run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GAR_API_TLS_PORT", "0")
    result = run("--broker-port", "0", "--idp-port", "0", "--provider-port", "0", "up")
    assert result.exit_code == 1
    assert result.stderr.startswith("erreur : GAR_API_TLS_PORT demande "
                                    "GAR_API_TLS_CLIENT_CA_FILE")
    assert "Préparation" not in result.stdout  # refused before anything was prepared


def test_up_serves_the_machine_apis_over_mutual_tls(run, tmp_path: Path) -> None:
    import ssl

    import httpx

    from services.keys import generate

    client = generate("distributeur.example")
    (tmp_path / "client.crt").write_bytes(client.cert_pem)
    (tmp_path / "client.key").write_bytes(client.key_pem)
    added = run("client", "add", "--kind", "distributor", "--ident", "333333333_0000000000000003",
                "--name", "Par TLS", "--cert", str(tmp_path / "client.crt"))
    assert added.exit_code == 0, added.output
    tls_port = _free_port()
    ca = {"GAR_API_TLS_PORT": str(tls_port),
          "GAR_API_TLS_CLIENT_CA_FILE": str(tmp_path / "client.crt")}
    with _up(tmp_path, (_free_port(), _free_port(), _free_port()), **ca) as up:
        base = f"https://127.0.0.1:{tls_port}/abonnements-ws"
        assert base in up.banner, up.banner + up.process.stderr.read()
        with_cert = ssl.create_default_context(cafile=tmp_path / "keys" / "api-tls.crt")
        with_cert.load_cert_chain(tmp_path / "client.crt", tmp_path / "client.key")
        listed = _get_when_listening(httpx, f"{base}/abonnements", verify=with_cert)
        without = ssl.create_default_context(cafile=tmp_path / "keys" / "api-tls.crt")
        with pytest.raises(httpx.TransportError):
            httpx.request("GET", f"{base}/abonnements", verify=without, timeout=10)
    assert listed.status_code == 200
    assert b"abonnements" in listed.content
    assert up.process.returncode == 0, up.err


def _get_when_listening(httpx, url: str, **options):
    import time

    for _ in range(100):
        try:
            return httpx.get(url, follow_redirects=False, timeout=5, **options)
        except httpx.ConnectError:
            time.sleep(0.05)
    raise AssertionError(f"nothing answered on {url}")


def test_resource_set_changes_the_flags_and_the_family_and_prints_them(run) -> None:
    assert run("seed").exit_code == 0
    result = run("resource", "set", "ark:/99999/r10005", "--non-affichable", "--non-diffusable",
                 "--mere", "ark:/99999/r10002")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == ("ark:/99999/r10005 : affichable=non, diffusable=non, "
                                     "famille=ark:/99999/r10002")


def test_resource_set_refuses_a_nested_family_with_one_line_and_exit_1(run) -> None:
    assert run("seed").exit_code == 0
    assert run("resource", "set", "ark:/99999/r10005", "--mere", "ark:/99999/r10002").exit_code == 0
    result = run("resource", "set", "ark:/99999/r10001", "--mere", "ark:/99999/r10005")
    assert result.exit_code == 1
    assert "une famille n'a qu'un niveau" in result.output
