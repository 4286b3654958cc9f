"""Adding query parameters to a registered URI without disturbing the query it already has."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode, urlsplit


def with_query(url: str, params: Mapping[str, str | None]) -> str:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{url}{'&' if urlsplit(url).query else '?'}{query}"
