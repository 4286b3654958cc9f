"""The provider's only state: requests it sent, assertions it already accepted, the
accounts it opened and its browsers' sessions.

The mock has no database, so both live in process memory, bounded in size and purged on
expiry: enough for one instance, which is all a mock needs (the broker, which must scale,
keeps the equivalent in its store).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SentRequest:
    request_id: str
    relay_state: str
    expires_at: float


class PendingRequests:
    """AuthnRequests sent and not yet answered, so a Response's InResponseTo can be checked."""

    def __init__(
        self, *, lifetime_seconds: float, capacity: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._lifetime = lifetime_seconds
        self._capacity = capacity
        self._clock = clock
        self._items: OrderedDict[str, SentRequest] = OrderedDict()

    def remember(self, request_id: str, relay_state: str) -> None:
        self._purge()
        while len(self._items) >= self._capacity:
            self._items.popitem(last=False)
        self._items[request_id] = SentRequest(
            request_id, relay_state, self._clock() + self._lifetime
        )

    def peek(self, request_id: str) -> SentRequest | None:
        self._purge()
        return self._items.get(request_id)

    def consume(self, request_id: str) -> None:
        self._items.pop(request_id, None)

    def _purge(self) -> None:
        now = self._clock()
        for key in [k for k, item in self._items.items() if item.expires_at <= now]:
            del self._items[key]


class ReplayCache:
    """Assertion ids already accepted, each kept until its NotOnOrAfter has passed."""

    def __init__(self, *, capacity: int = 100_000, clock: Callable[[], float] = time.time) -> None:
        self._capacity = capacity
        self._clock = clock
        self._seen: dict[str, float] = {}

    def first_use(self, assertion_id: str, not_on_or_after: float) -> bool:
        """Record ``assertion_id``; False when it was already used (a replay)."""
        now = self._clock()
        if len(self._seen) >= self._capacity // 2:
            self._seen = {k: exp for k, exp in self._seen.items() if exp > now}
        expires = self._seen.get(assertion_id)
        if expires is not None and expires > now:
            return False
        if len(self._seen) >= self._capacity:
            # Full of live entries: refusing is safer than forgetting one.
            return False
        self._seen[assertion_id] = not_on_or_after
        return True


def account_id(key: str) -> str:
    """The provider's own account number for the person keyed by ``key`` (what its pages
    show, so the harness can tell whether two logins opened one account or two)."""
    return "compte-" + hashlib.sha256(key.encode()).hexdigest()[:16]


class Accounts:
    """Accounts keyed on what the provider chose (IDO when careful). With ``merge`` (the
    ``accounts`` naive level) an account keeps every value earlier logins brought, as a
    provider that stores the profile once and only ever adds to it."""

    def __init__(self, *, merge: bool, capacity: int = 10_000) -> None:
        self._merge = merge
        self._capacity = capacity
        self._known: OrderedDict[str, dict[str, list[str]]] = OrderedDict()

    def sign_in(self, key: str, attributes: Mapping[str, Sequence[str]]
                ) -> tuple[str, dict[str, list[str]]]:
        """The account number, and the attributes the provider now shows for it."""
        received = {code: list(values) for code, values in attributes.items()}
        if not self._merge:
            return account_id(key), received
        known = self._known.pop(key, {})
        for code, values in received.items():
            kept = known.setdefault(code, [])
            kept.extend(v for v in values if v not in kept)
        self._known[key] = known
        while len(self._known) > self._capacity:
            self._known.popitem(last=False)
        return account_id(key), {code: list(values) for code, values in known.items()}


class Sessions:
    """What each browser's session shows (the page the ACS rendered), by cookie value."""

    def __init__(self, *, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._items: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def open(self, shown: dict[str, Any]) -> str:
        token = secrets.token_urlsafe(24)
        self._items[token] = shown
        while len(self._items) > self._capacity:
            self._items.popitem(last=False)
        return token

    def get(self, token: str | None) -> dict[str, Any] | None:
        return self._items.get(token) if token else None
