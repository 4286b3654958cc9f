"""Targets for the harness on real loopback sockets: the sandbox identity provider, and the
provider mock twice, careful and naive, both trusting the sandbox in the broker's place."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.conformance import sandbox as sandbox_module
from services.conformance.runner import Target
from services.conformance.sandbox import Sandbox
from services.conformance.verdict import VerdictRule
from services.settings import Settings

RESOURCE = "manuel-maths-4e"
#: How the provider mock says yes: its result page (documented in the README).
PROVIDER_MOCK_RULE = VerdictRule(success_marker=re.compile(r'data-result="ok"'),
                                 echoes_values=True)


@dataclass(frozen=True)
class Live:
    sandbox: Sandbox
    sandbox_dir: Path
    careful: Settings
    naive: Settings

    def target(self, settings: Settings) -> Target:
        from provider_mock.app import acs_url, entity_id

        resource = f"{settings.provider_base}/resource/{RESOURCE}"
        return Target(entity_id(settings), acs_url(settings), (), resource, resource)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    from provider_mock.app import create_app as provider_app
    from services.cli import Service, bind, make_servers, serve

    sockets = [bind("127.0.0.1", 0) for _ in range(3)]
    sandbox_port, careful_port, naive_port = (s.getsockname()[1] for s in sockets)
    sandbox_dir = tmp_path_factory.mktemp("sandbox")
    box = sandbox_module.load(sandbox_dir / "keys", f"http://127.0.0.1:{sandbox_port}")

    def provider(port: int, naive: bool) -> Settings:
        return Settings(data_dir=tmp_path_factory.mktemp("provider"), host="127.0.0.1",
                        provider_port=port, broker_url=box.base_url, provider_naive=naive)

    careful, naive = provider(careful_port, False), provider(naive_port, True)
    services = [
        Service("sandbox", sandbox_module.create_app(box), sockets[0]),
        Service("careful", provider_app(careful), sockets[1]),
        Service("naive", provider_app(naive), sockets[2]),
    ]
    servers = make_servers(services, access_log=False)
    thread = threading.Thread(target=lambda: asyncio.run(serve(services, servers)),
                              name="conformance-targets", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not all(s.started for s in servers):
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the conformance targets did not start")
        time.sleep(0.05)
    try:
        yield Live(box, sandbox_dir, careful, naive)
    finally:
        for server in servers:
            server.should_exit = True
        thread.join(timeout=15)
        for sock in sockets:
            sock.close()
