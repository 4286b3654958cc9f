"""The provider's only state: requests it sent and assertions it already accepted.

The mock has no database, so both live in process memory, bounded in size and purged on
expiry: enough for one instance, which is all a mock needs (the broker, which must scale,
keeps the equivalent in its store).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


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
