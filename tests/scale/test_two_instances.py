"""Two real broker processes on one PostgreSQL: nothing a flow needs lives in one of them.

Both instances share the public URL (as behind a load balancer), the key files (a mounted
volume) and the database; the test plays the provider and the identity provider with their
keys and sends each request to the instance it chooses.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from broker.bootstrap import prepare
from provider_mock.app import acs_url as provider_acs_url
from provider_mock.app import entity_id as provider_entity_id
from services import dataset
from services.keys import load_or_create
from services.saml import bindings, build
from services.settings import Settings
from tests.backends import POSTGRES_URL, postgres_schema
from tests.flows import forge

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="TEST_POSTGRES_URL is not set"),
]

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_URL = "http://gar.load-balancer.test"


@dataclass(frozen=True)
class Cluster:
    settings: Settings
    instances: dict[str, str]  # name -> the instance's own address


def _free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(settings: Settings, database_url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "GAR_DATA_DIR": str(settings.data_dir), "GAR_BROKER_URL": PUBLIC_URL,
           "DATABASE_URL": database_url}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "broker.app:create_app", "--host",
         "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"],
        cwd=ROOT, env=env)
    return process, f"http://127.0.0.1:{port}"


def _wait(address: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "a broker instance exited at start-up"
        try:
            if httpx.get(f"{address}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"{address} did not start")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with postgres_schema("scale") as database_url:
        settings = Settings(data_dir=tmp_path_factory.mktemp("scale"), DATABASE_URL=database_url,
                            broker_url=PUBLIC_URL)
        prepare(settings)
        started = [_start(settings, database_url) for _ in range(2)]
        try:
            for process, address in started:
                _wait(address, process)
            yield Cluster(settings, {"A": started[0][1], "B": started[1][1]})
        finally:
            for process, _ in started:
                process.terminate()
                process.wait(timeout=30)


def _on(cluster: Cluster, instance: str, public_url: str) -> str:
    """The public URL sent to one instance, as the load balancer would."""
    parts = urlsplit(public_url)
    return f"{cluster.instances[instance]}{parts.path}" + (f"?{parts.query}" if parts.query
                                                          else "")


def _start_flow(cluster: Cluster, instance: str) -> forge.Pending:
    """The provider's signed AuthnRequest to ``instance``; where the broker sends the person."""
    settings = cluster.settings
    data = dataset.build(provider_base=settings.provider_base)
    sso = f"{settings.broker_base}/saml/idp/sso"
    request = build.authn_request(issuer=provider_entity_id(settings), destination=sso,
                                  acs_url=provider_acs_url(settings))
    url = bindings.encode_redirect(sso, request, kind="SAMLRequest",
                                   relay_state=data.resource("manuel-maths-4e").access_url,
                                   keypair=load_or_create(settings.keys_dir, "provider"))
    answer = httpx.get(_on(cluster, instance, url))
    assert answer.status_code == 303, answer.text
    return forge.pending_from_redirect(answer.headers["location"])


def _identity_provider_form(cluster: Cluster, pending: forge.Pending,
                            assertion_id: str | None = None) -> dict[str, str]:
    settings = cluster.settings
    person = dataset.build(provider_base=settings.provider_base).person("eleve.assigne")
    assertion = forge.assertion(settings, pending, forge.ent_attributes(person.person_id))
    if assertion_id is not None:
        assertion.set("ID", assertion_id)
    signed = forge.sign(assertion, forge.idp_key(settings))
    return {"SAMLResponse": forge.encode(forge.response(settings, pending, signed)),
            "RelayState": pending.relay_state}


def _finish(cluster: Cluster, instance: str, pending: forge.Pending,
            form: dict[str, str]) -> httpx.Response:
    return httpx.post(_on(cluster, instance, pending.acs_url), data=form)


def test_a_flow_started_on_one_instance_finishes_on_the_other(cluster: Cluster) -> None:
    pending = _start_flow(cluster, "A")
    answer = _finish(cluster, "B", pending, _identity_provider_form(cluster, pending))
    assert answer.status_code == 200, answer.text
    assert 'name="SAMLResponse"' in answer.text
    assert provider_acs_url(cluster.settings) in answer.text


def test_the_same_response_posted_again_to_the_other_instance_is_refused(
    cluster: Cluster,
) -> None:
    pending = _start_flow(cluster, "A")
    form = _identity_provider_form(cluster, pending)
    assert _finish(cluster, "A", pending, form).status_code == 200
    replayed = _finish(cluster, "B", pending, form)
    assert replayed.status_code == 400
    assert 'name="SAMLResponse"' not in replayed.text


def test_an_assertion_consumed_on_one_instance_is_a_replay_on_the_other(
    cluster: Cluster,
) -> None:
    first, second = _start_flow(cluster, "A"), _start_flow(cluster, "B")
    assertion_id = build.new_id()
    accepted = _finish(cluster, "B", first, _identity_provider_form(cluster, first, assertion_id))
    assert accepted.status_code == 200, accepted.text
    # Another pending login, the same assertion id: only the shared replay cache can tell.
    replayed = _finish(cluster, "A", second,
                       _identity_provider_form(cluster, second, assertion_id))
    assert replayed.status_code == 400
    assert "saml.replay" in replayed.text
    assert 'name="SAMLResponse"' not in replayed.text
