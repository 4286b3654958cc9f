"""Fixtures for the mocks: settings on tmp_path, a stand-in broker, in-process clients.

The tests act as the broker themselves: they generate its key pair where the broker would
(``load_or_create(keys_dir, "broker")``) and serve its metadata through an httpx
MockTransport handed to the app under test as ``http``. ``settings`` and ``anyio_backend``
come from tests/conftest.py.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import httpx
import pytest

from services.keys import KeyPair, load_or_create
from services.saml import metadata
from services.settings import Settings


@dataclass
class FakeBroker:
    """What the mocks see of the broker: its key pair, entity ids, endpoints and metadata."""

    settings: Settings
    keypair: KeyPair
    served: dict[str, bytes] = field(default_factory=dict)
    fetches: list[str] = field(default_factory=list)

    @property
    def sp_entity_id(self) -> str:
        return f"{self.settings.broker_base}/saml/sp/metadata"

    @property
    def sp_acs(self) -> str:
        return f"{self.settings.broker_base}/saml/sp/acs"

    @property
    def idp_entity_id(self) -> str:
        return f"{self.settings.broker_base}/saml/idp/metadata"

    @property
    def idp_sso(self) -> str:
        return f"{self.settings.broker_base}/saml/idp/sso"

    def handler(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.fetches.append(url)
        if url in self.served:
            return httpx.Response(200, content=self.served[url],
                                  headers={"content-type": "application/samlmetadata+xml"})
        return httpx.Response(404, text="not found")


@pytest.fixture
def broker(settings: Settings) -> FakeBroker:
    fake = FakeBroker(settings, load_or_create(settings.keys_dir, "broker"))
    fake.served[fake.sp_entity_id] = metadata.sp_metadata(
        entity_id=fake.sp_entity_id, acs_url=fake.sp_acs, keypairs=[fake.keypair]
    )
    fake.served[fake.idp_entity_id] = metadata.idp_metadata(
        entity_id=fake.idp_entity_id, sso_url=fake.idp_sso, keypairs=[fake.keypair]
    )
    return fake


@pytest.fixture
async def peer_http(broker: FakeBroker) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(broker.handler)) as client:
        yield client


AppClient = Callable[..., httpx.AsyncClient]


def asgi_client(app, base_url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


_INPUT = re.compile(r"<input\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r'(\w+)="([^"]*)"')


def hidden_fields(page: str) -> dict[str, str]:
    """name -> value of the page's <input> elements (enough for auto-submitting forms)."""
    fields: dict[str, str] = {}
    for tag in _INPUT.findall(page):
        attrs = {k.lower(): html.unescape(v) for k, v in _ATTR.findall(tag)}
        if "name" in attrs:
            fields[attrs["name"]] = attrs.get("value", "")
    return fields


def form_action(page: str) -> str:
    found = re.search(r'<form\b[^>]*action="([^"]*)"', page, re.IGNORECASE)
    assert found is not None, "no form in page"
    return html.unescape(found.group(1))


def error_code(page: str) -> str | None:
    found = re.search(r'id="error-code" data-code="([^"]*)"', page)
    return html.unescape(found.group(1)) if found else None


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
