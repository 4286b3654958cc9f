"""Fetching and caching peer metadata: size limits, timeouts, clear error codes, one parse."""

from __future__ import annotations

import httpx
import pytest

from services.keys import generate
from services.peers import MetadataCache, PeerError, fetch_metadata
from services.saml import metadata

pytestmark = pytest.mark.anyio

URL = "http://peer.example/metadata"


@pytest.fixture
def idp_xml() -> bytes:
    return metadata.idp_metadata(entity_id=URL, sso_url="http://peer.example/sso",
                                 keypairs=[generate("peer")])


def serving(body: bytes, status: int = 200, calls: list[str] | None = None):
    def handler(request: httpx.Request) -> httpx.Response:
        if calls is not None:
            calls.append(str(request.url))
        return httpx.Response(status, content=body)
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def test_metadata_is_read_from_a_file(tmp_path, idp_xml):
    path = tmp_path / "idp.xml"
    path.write_bytes(idp_xml)
    assert await fetch_metadata(str(path), None, max_bytes=10**6) == idp_xml


async def test_oversized_file_is_refused(tmp_path):
    path = tmp_path / "big.xml"
    path.write_bytes(b"x" * 5000)
    with pytest.raises(PeerError) as caught:
        await fetch_metadata(str(path), None, max_bytes=4096)
    assert caught.value.code == "peer.too_large"


async def test_missing_file_is_reported(tmp_path):
    with pytest.raises(PeerError) as caught:
        await fetch_metadata(str(tmp_path / "absent.xml"), None, max_bytes=4096)
    assert caught.value.code == "peer.not_found"


async def test_metadata_is_fetched_by_url(idp_xml):
    async with serving(idp_xml) as http:
        assert await fetch_metadata(URL, http, max_bytes=10**6) == idp_xml


async def test_http_error_status_is_reported():
    async with serving(b"nope", status=500) as http:
        with pytest.raises(PeerError) as caught:
            await fetch_metadata(URL, http, max_bytes=4096)
    assert caught.value.code == "peer.http_status"


async def test_oversized_download_is_refused():
    async with serving(b"x" * 10_000) as http:
        with pytest.raises(PeerError) as caught:
            await fetch_metadata(URL, http, max_bytes=4096)
    assert caught.value.code == "peer.too_large"


async def test_oversized_stream_without_length_is_cut():
    async def endless():
        for _ in range(1000):
            yield b"x" * 1024

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless())

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        with pytest.raises(PeerError) as caught:
            await fetch_metadata(URL, http, max_bytes=4096)
    assert caught.value.code == "peer.too_large"


async def test_timeout_is_reported():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        with pytest.raises(PeerError) as caught:
            await fetch_metadata(URL, http, max_bytes=4096)
    assert caught.value.code == "peer.timeout"


async def test_unreachable_peer_is_reported():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        with pytest.raises(PeerError) as caught:
            await fetch_metadata(URL, http, max_bytes=4096)
    assert caught.value.code == "peer.unreachable"


async def test_cache_parses_once_within_the_ttl(idp_xml):
    calls: list[str] = []
    async with serving(idp_xml, calls=calls) as http:
        cache = MetadataCache(http, max_bytes=10**6, ttl_seconds=60)
        first = await cache.get(URL)
        second = await cache.get(URL)
    assert first is second
    assert first.entity_id == URL
    assert len(calls) == 1


async def test_cache_refetches_after_the_ttl(idp_xml):
    calls: list[str] = []
    clock = [1000.0]
    async with serving(idp_xml, calls=calls) as http:
        cache = MetadataCache(http, max_bytes=10**6, ttl_seconds=60, clock=lambda: clock[0])
        await cache.get(URL)
        clock[0] += 61
        await cache.get(URL)
    assert len(calls) == 2


async def test_invalid_metadata_is_reported():
    async with serving(b"<pas-des-metadonnees/>") as http:
        cache = MetadataCache(http, max_bytes=10**6)
        with pytest.raises(PeerError) as caught:
            await cache.get(URL)
    assert caught.value.code == "peer.metadata_invalid"
