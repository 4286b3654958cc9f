"""Targets for the harness on real loopback sockets: the sandbox identity provider, and the
provider mock twice, careful and naive, both trusting the sandbox in the broker's place."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.conformance import sandbox as sandbox_module
from services.conformance.runner import Target
from services.conformance.sandbox import Sandbox
from services.conformance.verdict import VerdictRule
from services.settings import Settings
from tests.loopback import serving

RESOURCE = "manuel-maths-4e"
RESOURCE_ID = "ark:/99999/r10001"
#: How the provider mock says yes, and which account it opened: its result page (README).
PROVIDER_MOCK_RULE = VerdictRule(success_marker=re.compile(r'data-result="ok"'),
                                 echoes_values=True,
                                 account_marker=re.compile(r'data-account="([^"]+)"'))
NAIVE_LEVELS = ("reader", "signature", "digest", "signed-info", "accounts")


@dataclass(frozen=True)
class Live:
    """The sandbox and the provider mocks: "careful", "strict" (careful, refuses unsolicited
    Responses and answers its ACS with a redirect to its session page) and one per naive
    level."""

    sandbox: Sandbox
    sandbox_dir: Path
    providers: dict[str, Settings]

    @property
    def careful(self) -> Settings:
        return self.providers["careful"]

    @property
    def naive(self) -> Settings:
        return self.providers["reader"]

    def target(self, settings: Settings) -> Target:
        from provider_mock.app import acs_url, entity_id, metadata_xml
        from services.saml.metadata import parse_metadata

        sp = parse_metadata(metadata_xml(settings)).sp
        assert sp is not None
        resource = f"{settings.provider_base}/resource/{RESOURCE}"
        return Target(entity_id(settings), acs_url(settings), sp.requested_attributes,
                      resource, resource)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    from provider_mock.app import create_app as provider_app
    from services.cli import Service, bind

    variants: dict[str, dict[str, object]] = {
        "careful": {}, "strict": {"provider_unsolicited": False, "provider_acs_redirect": True},
        **{level: {"provider_naive": level} for level in NAIVE_LEVELS},
    }
    sockets = [bind("127.0.0.1", 0) for _ in range(len(variants) + 1)]
    sandbox_dir = tmp_path_factory.mktemp("sandbox")
    box = sandbox_module.load(sandbox_dir / "keys",
                              f"http://127.0.0.1:{sockets[0].getsockname()[1]}")
    providers = {
        name: Settings(data_dir=tmp_path_factory.mktemp("provider"), host="127.0.0.1",
                       provider_port=sock.getsockname()[1], broker_url=box.base_url,
                       **options)  # type: ignore[arg-type]
        for (name, options), sock in zip(variants.items(), sockets[1:], strict=True)
    }
    services = [Service("sandbox", sandbox_module.create_app(box), sockets[0])] + [
        Service(name, provider_app(settings), sock)
        for (name, settings), sock in zip(providers.items(), sockets[1:], strict=True)]
    with serving(services, "the conformance targets"):
        yield Live(box, sandbox_dir, providers)
