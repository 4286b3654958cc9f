"""How the harness decides that a service provider accepted or refused a Response.

Nothing is guessed: the rule is configured by the person running the suite and printed in
the report. A Response counts as *accepted* when the final answer (after following the
service provider's own redirects, then the optional follow-up URL) has an accepted HTTP
status, contains the success marker if one is set, and does not contain the failure marker
if one is set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx

DEFAULT_STATUSES = frozenset(range(200, 300))


@dataclass(frozen=True)
class VerdictRule:
    statuses: frozenset[int] = DEFAULT_STATUSES
    success_marker: re.Pattern[str] | None = None
    failure_marker: re.Pattern[str] | None = None
    follow_redirects: bool = True
    follow_up_url: str | None = None
    #: The success page shows the values it received (enables the "shown" checks).
    echoes_values: bool = False
    #: Where the page names the account the service provider opened: the first group of
    #: this expression (or the whole match), compared between two logins.
    account_marker: re.Pattern[str] | None = None
    max_redirects: int = field(default=5)

    def describe(self) -> str:
        """The rule in French, printed at the top of every report."""
        parts = [f"statut HTTP parmi {_ranges(self.statuses)}"]
        if self.success_marker is not None:
            parts.append(f"la page contient /{self.success_marker.pattern}/")
        if self.failure_marker is not None:
            parts.append(f"la page ne contient pas /{self.failure_marker.pattern}/")
        if self.follow_redirects:
            parts.append("après les redirections vers le même site")
        if self.follow_up_url:
            parts.append(f"page lue ensuite : {self.follow_up_url}")
        if self.account_marker is not None:
            parts.append(f"compte ouvert lu par /{self.account_marker.pattern}/")
        return "Réponse acceptée si : " + " ; ".join(parts) + "."


def parse_statuses(text: str) -> frozenset[int]:
    """``"200-299,302"`` → the set of statuses; ValueError when malformed."""
    found: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        low, _, high = part.partition("-")
        start, end = int(low), int(high or low)
        if not 100 <= start <= end <= 599:
            raise ValueError(f"plage de statuts HTTP invalide : {part}")
        found.update(range(start, end + 1))
    if not found:
        raise ValueError("aucun statut HTTP accepté")
    return frozenset(found)


def _ranges(statuses: frozenset[int]) -> str:
    ordered = sorted(statuses)
    runs: list[str] = []
    start = previous = ordered[0]
    for value in [*ordered[1:], None]:
        if value is not None and value == previous + 1:
            previous = value
            continue
        runs.append(str(start) if start == previous else f"{start}-{previous}")
        if value is not None:
            start = previous = value
    return ", ".join(runs)


@dataclass(frozen=True)
class Seen:
    accepted: bool
    status: int
    url: str
    body: str
    summary: str  # French, one line
    #: Where the service provider sent the browser off its own site, if it did (not followed).
    left_to: str | None = None
    #: The account the page names (with an account marker), when accepted.
    account: str | None = None


async def read(rule: VerdictRule, browser: httpx.AsyncClient, first: httpx.Response) -> Seen:
    """Apply ``rule`` to the service provider's answer to the POST (and what follows)."""
    response = first
    origin = _origin(str(first.request.url))
    hops = 0
    while (rule.follow_redirects and response.is_redirect and hops < rule.max_redirects
           and "location" in response.headers):
        target = urljoin(str(response.url), response.headers["location"])
        if _origin(target) != origin:
            break  # leaving the site (back to an IdP, an error portal): judge this answer
        response = await browser.get(target)
        hops += 1
    left_to = None
    if response.is_redirect and "location" in response.headers:
        away = urljoin(str(response.url), response.headers["location"])
        left_to = away if _origin(away) != origin else None
    if rule.follow_up_url:
        response = await browser.get(rule.follow_up_url)
    body = response.text if _is_text(response) else ""
    status_ok = response.status_code in rule.statuses
    marker_ok = rule.success_marker is None or rule.success_marker.search(body) is not None
    failure = rule.failure_marker is not None and rule.failure_marker.search(body) is not None
    accepted = status_ok and marker_ok and not failure
    bits = [f"HTTP {response.status_code}"]
    if rule.success_marker is not None:
        bits.append("marqueur de succès trouvé" if marker_ok else "marqueur de succès absent")
    if failure:
        bits.append("marqueur d'échec trouvé")
    code = re.search(r'id="error-code"[^>]*>([^<]{1,80})<', body)
    if code is not None:
        bits.append(f"code {code.group(1).strip()}")
    account = None
    if accepted and rule.account_marker is not None:
        found = rule.account_marker.search(body)
        if found is not None:
            account = (found.group(1) if found.re.groups else found.group(0))[:200]
    verdict = "acceptée" if accepted else "refusée"
    return Seen(accepted, response.status_code, str(response.url), body,
                f"{verdict} ({', '.join(bits)})", left_to, account)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _is_text(response: httpx.Response) -> bool:
    kind = response.headers.get("content-type", "")
    return not kind or kind.startswith(("text/", "application/xhtml", "application/json"))
