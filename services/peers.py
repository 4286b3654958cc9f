"""Fetching and caching a peer's SAML metadata (a file path or an http(s) URL).

Metadata is how the three services (and any real peer that replaces one of them) learn each
other's endpoints and certificates. It is fetched with a size limit and timeouts, parsed
once, and kept for a TTL: requests never parse metadata, and a slow or hostile peer cannot
exhaust memory or hang a request for long.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

from services.saml.errors import SamlError
from services.saml.metadata import EntityMetadata, parse_metadata

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
DEFAULT_TTL_SECONDS = 300.0


class PeerError(Exception):
    """A peer's metadata could not be obtained or used; ``code`` is stable."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


def _is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


async def fetch_metadata(
    source: str,
    http: httpx.AsyncClient | None,
    *,
    max_bytes: int,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
) -> bytes:
    """Return the raw metadata at ``source``, refusing anything larger than ``max_bytes``."""
    if _is_url(source):
        if http is not None:
            return await _fetch_url(source, http, max_bytes=max_bytes, timeout=timeout)
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
            return await _fetch_url(source, client, max_bytes=max_bytes, timeout=timeout)
    return _read_file(source.removeprefix("file://"), max_bytes=max_bytes)


async def _fetch_url(
    url: str, http: httpx.AsyncClient, *, max_bytes: int, timeout: httpx.Timeout
) -> bytes:
    try:
        async with http.stream(
            "GET", url, timeout=timeout, follow_redirects=False,
            headers={"Accept": "application/samlmetadata+xml, application/xml, text/xml"},
        ) as response:
            if response.status_code != 200:
                raise PeerError(
                    "peer.http_status", f"{url} answered HTTP {response.status_code}"
                )
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                raise PeerError("peer.too_large", f"{url} declares {declared} bytes")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise PeerError("peer.too_large", f"{url} sent more than {max_bytes} bytes")
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.TimeoutException as exc:
        raise PeerError("peer.timeout", f"{url} did not answer in time") from exc
    except httpx.HTTPError as exc:
        raise PeerError("peer.unreachable", f"{url}: {type(exc).__name__}") from exc


def read_metadata(source: str, *, max_bytes: int) -> bytes:
    """Blocking form, for the command line and start-up; safe inside a running event loop."""
    if not _is_url(source):
        return _read_file(source.removeprefix("file://"), max_bytes=max_bytes)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, fetch_metadata(source, None, max_bytes=max_bytes)).result()


def _read_file(path_text: str, *, max_bytes: int) -> bytes:
    path = Path(path_text)
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except FileNotFoundError as exc:
        raise PeerError("peer.not_found", f"{path} does not exist") from exc
    except OSError as exc:
        raise PeerError("peer.unreadable", f"{path}: {exc.strerror}") from exc
    if len(data) > max_bytes:
        raise PeerError("peer.too_large", f"{path} is larger than {max_bytes} bytes")
    return data


@dataclass(frozen=True)
class _Entry:
    metadata: EntityMetadata
    fetched_at: float


class MetadataCache:
    """Per-application cache of parsed peer metadata, refetched after ``ttl_seconds``.

    Concurrent requests for the same stale source wait on one fetch instead of each
    hammering the peer.
    """

    def __init__(
        self,
        http: httpx.AsyncClient | None,
        *,
        max_bytes: int,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._max_bytes = max_bytes
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, source: str) -> EntityMetadata:
        """Parsed metadata of ``source``; raises :class:`PeerError` when unusable."""
        entry = self._fresh(source)
        if entry is not None:
            return entry.metadata
        lock = self._locks.setdefault(source, asyncio.Lock())
        async with lock:
            entry = self._fresh(source)
            if entry is not None:
                return entry.metadata
            metadata = await self._load(source)
            self._entries[source] = _Entry(metadata, self._clock())
            return metadata

    def fetched_at(self, source: str) -> float | None:
        entry = self._entries.get(source)
        return entry.fetched_at if entry is not None else None

    def invalidate(self, source: str | None = None) -> None:
        """Forget one source (or all), e.g. after a peer rolled its certificate."""
        if source is None:
            self._entries.clear()
        else:
            self._entries.pop(source, None)

    def _fresh(self, source: str) -> _Entry | None:
        entry = self._entries.get(source)
        if entry is None or self._clock() - entry.fetched_at >= self._ttl:
            return None
        if _expired(entry.metadata):
            return None
        return entry

    async def _load(self, source: str) -> EntityMetadata:
        data = await fetch_metadata(source, self._http, max_bytes=self._max_bytes)
        try:
            metadata = parse_metadata(data, max_bytes=self._max_bytes)
        except SamlError as exc:
            raise PeerError("peer.metadata_invalid", f"{source}: {exc.code}") from exc
        if _expired(metadata):
            raise PeerError("peer.metadata_expired", f"{source}: validUntil is in the past")
        return metadata


def _expired(metadata: EntityMetadata) -> bool:
    valid_until = metadata.valid_until
    return valid_until is not None and valid_until <= dt.datetime.now(dt.UTC)
