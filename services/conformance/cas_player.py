"""Play one CAS scenario against a publisher's access URL, like a browser from the mediacentre.

The browser opens ``access?sso_id=GAR`` (plus ``grain``), follows the publisher to the
sandbox's ``/cas/login`` and reads the exact ``service`` it asks a ticket for. Then, as the
scenario says, the sandbox logs the prepared person in (a real ticket, through its own login
redirect), or the harness hands the publisher a ticket never issued, one issued for another
service, or one already expired. The answer is read with the configured verdict rule.
"""

from __future__ import annotations

import html
import re
import secrets
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx

from broker.cas_services import with_ticket
from broker.cas_tickets import PREFIX
from services.conformance.cas_sandbox import LIFETIME_SECONDS
from services.conformance.cas_scenarios import OTHER_SERVICE
from services.conformance.forge import Persona, Recipe, released
from services.conformance.runner import (
    Browser,
    HarnessError,
    Outcome,
    Target,
    judge,
    judge_second_login,
    outcome_of,
)
from services.conformance.sandbox import Sandbox
from services.conformance.scenarios import CasCase, Scenario
from services.conformance.verdict import Seen, VerdictRule, read

MAX_HOPS = 8


async def play(scenario: Scenario, target: Target, sandbox: Sandbox, rule: VerdictRule,
               browser: Browser) -> Outcome:
    case = scenario.cas or CasCase()
    async with browser() as client:
        login = await _login(client, scenario, scenario.recipe, target, sandbox, rule)
        if isinstance(login, Outcome):
            return login
        seen, who, ticket_url = login
        if case.grain is not None:
            return _judge_grain(scenario, seen, case.grain, target)
        if scenario.then is not None:
            if not seen.accepted:
                return outcome_of(scenario, False, "première connexion, valide, refusée : "
                                  f"{seen.summary}")
            async with browser() as other:
                second = await _login(other, scenario, scenario.then, target, sandbox, rule)
            if isinstance(second, Outcome):
                return second
            return judge_second_login(scenario, seen, second[0], second[1], rule)
        if scenario.replay is not None:
            if not seen.accepted:
                return outcome_of(scenario, False, "rejeu non vérifiable : le ticket d'origine, "
                                  f"valide, n'a pas été accepté ({seen.summary})")
            async with browser() as other:
                seen = await read(rule, other, await other.get(ticket_url))
    outcome = judge(scenario, seen, who, rule)
    ticket = parse_qs(urlsplit(ticket_url).query).get("ticket", [""])[-1]
    return outcome_of(scenario, outcome.passed,
                      f"{outcome.seen} ; validations du ticket reçues par le bac à sable : "
                      f"{sandbox.cas.attempts(ticket)}")


async def _login(client: httpx.AsyncClient, scenario: Scenario, recipe: Recipe,
                 target: Target, sandbox: Sandbox, rule: VerdictRule
                 ) -> tuple[Seen, Persona, str] | Outcome:
    """Open the access URL, get to the CAS login, hand over the scenario's ticket: what the
    publisher answered, who it was for, and the URL that carried the ticket (or the outcome
    already, when the publisher refused a deep link before any login)."""
    case = scenario.cas or CasCase()
    grain = urlsplit(target.acs_url).path if case.grain_own_path else case.grain
    query = {"sso_id": "GAR", **({"grain": grain} if grain is not None else {})}
    separator = "&" if "?" in target.acs_url else "?"
    first = await client.get(f"{target.acs_url}{separator}{urlencode(query)}")
    login = await _login_location(client, first, sandbox)
    if login is None:
        if case.grain is None:
            raise HarnessError(f"{target.acs_url}?sso_id=GAR n'a pas redirigé vers "
                               f"{sandbox.cas_login_url} (HTTP {first.status_code})")
        # The publisher stopped before logging in: it refused the deep link itself.
        return _judge_grain(scenario, await read(rule, client, first), case.grain, target)
    service = _service_of(login)
    who = released(recipe, target.requested)
    ticket_url = await _ticket_url(client, case, service, login, who, sandbox, recipe.name_id)
    return await read(rule, client, await client.get(ticket_url)), who, ticket_url


async def _login_location(client: httpx.AsyncClient, response: httpx.Response,
                          sandbox: Sandbox) -> str | None:
    """Follow the publisher's redirects until one goes to the sandbox's CAS login."""
    for _ in range(MAX_HOPS):
        if not response.is_redirect or "location" not in response.headers:
            return None
        location = urljoin(str(response.url), response.headers["location"])
        if location.startswith(f"{sandbox.cas_login_url}?"):
            return location
        if urlsplit(location).scheme not in ("http", "https"):
            return None
        response = await client.get(location)
    return None


def _service_of(login: str) -> str:
    services = parse_qs(urlsplit(login).query).get("service", [])
    if len(services) != 1 or not services[0]:
        raise HarnessError(f"la redirection vers le login CAS ne porte pas un « service » "
                           f"unique : {login[:200]}")
    return services[0]


async def _ticket_url(client: httpx.AsyncClient, case: CasCase, service: str, login: str,
                      who: Persona, sandbox: Sandbox, user: str | None) -> str:
    """The URL, on the publisher, that carries the scenario's ticket."""
    if case.ticket == "forged":
        return with_ticket(service, PREFIX + secrets.token_hex(32))
    if case.ticket == "other-service":
        return with_ticket(service, sandbox.cas.issue(OTHER_SERVICE, who.attributes))
    if case.ticket == "expired":
        return with_ticket(service, sandbox.cas.issue(service, who.attributes,
                                                      age_seconds=LIFETIME_SECONDS + 300))
    sandbox.cas.prepare(service, who.attributes, user=user)
    answer = await client.get(login)
    if not answer.is_redirect or "location" not in answer.headers:
        raise HarnessError(f"le login CAS du bac à sable n'a pas redirigé (HTTP "
                           f"{answer.status_code}) : est-il servi par cette exécution ?")
    return answer.headers["location"]


def _judge_grain(scenario: Scenario, seen: Seen, grain: str, target: Target) -> Outcome:
    """Refused or ignored is fine; sending the person to ``grain`` (a redirect, a link, a
    refresh) is not."""
    own = urlsplit(target.acs_url)
    away = None
    if seen.left_to is not None:
        parts = urlsplit(seen.left_to)
        if (parts.scheme, parts.netloc.lower()) != (own.scheme, own.netloc.lower()):
            away = f"redirigé hors du site vers {seen.left_to[:160]}"
    if away is None and _links_to(seen.body, grain):
        away = f"la page envoie vers « {grain} » (lien, formulaire ou rafraîchissement)"
    summary = seen.summary + (f" ; {away}" if away else " ; le lien profond n'a pas été suivi")
    return outcome_of(scenario, away is None, summary)


def _links_to(body: str, grain: str) -> bool:
    for form in {grain, html.escape(grain)}:
        pattern = (r"(?:href|src|action|formaction)\s*=\s*[\"']?\s*" + re.escape(form)
                   + r"|url\s*=\s*[\"']?\s*" + re.escape(form))
        if re.search(pattern, body, re.IGNORECASE):
            return True
    return False
