"""Run the provider-side scenarios against a service provider's ACS, one browser each.

Each scenario gets its own cookie jar, as a separate person's browser would; a solicited
scenario first asks the service provider to log in (its login URL) and answers the real
AuthnRequest it receives, so InResponseTo and RelayState are the ones it expects.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from urllib.parse import urljoin

import certifi
import httpx
from lxml import etree

from services.conformance.forge import (
    Context,
    Pending,
    Persona,
    Recipe,
    encode,
    forge,
    pending_from_post,
    pending_from_redirect,
)
from services.conformance.sandbox import Sandbox
from services.conformance.scenarios import Scenario
from services.conformance.verdict import Seen, VerdictRule, read
from services.keys import KeyPair, generate
from services.saml.metadata import EntityMetadata

EXPECTED = {
    "accept": "acceptée",
    "reject": "refusée",
    "safe": "refusée, ou acceptée sans la valeur tronquée",
}


@dataclass(frozen=True)
class Target:
    """The service provider under test, from its metadata and the command's options."""

    entity_id: str
    acs_url: str
    requested: tuple[str, ...] = ()
    login_url: str | None = None
    relay_state: str | None = None


@dataclass(frozen=True)
class Outcome:
    id: str
    family: str
    title: str
    expected: str
    seen: str
    passed: bool
    fix: str

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "family": self.family, "title": self.title,
                "expected": self.expected, "seen": self.seen, "passed": self.passed,
                "fix": "" if self.passed else self.fix}


class HarnessError(Exception):
    """The scenario could not be played (not a verdict on the service provider)."""


Browser = Callable[[], httpx.AsyncClient]


@cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every browser: building one per client costs tenths of a second."""
    return ssl.create_default_context(cafile=certifi.where())


def default_browser() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=httpx.Timeout(15.0, connect=5.0), follow_redirects=False,
                             verify=_tls(), headers={"User-Agent": "gar-testbed-conformance"})


async def run(
    scenarios: Sequence[Scenario], *, target: Target, sandbox: Sandbox, rule: VerdictRule,
    browser: Browser = default_browser, progress: Callable[[int, int, Outcome], None] | None = None,
) -> list[Outcome]:
    """Play every scenario in order; one failing to play is reported, never raised."""
    attacker = generate("attaquant")
    outcomes: list[Outcome] = []
    for index, scenario in enumerate(scenarios, start=1):
        player = _PLAYERS.get(scenario.protocol)
        try:
            if player is None:
                raise HarnessError(f"le protocole {scenario.protocol} n'est pas encore joué")
            outcome = await player(scenario, target, sandbox, attacker, rule, browser)
        except (HarnessError, httpx.HTTPError) as exc:
            outcome = outcome_of(scenario, False, f"non joué : {_describe(exc)}")
        outcomes.append(outcome)
        if progress is not None:
            progress(index, len(scenarios), outcome)
    return outcomes


def _describe(exc: Exception) -> str:
    if isinstance(exc, httpx.HTTPError):
        return f"{type(exc).__name__} ({exc})"[:200]
    return str(exc)[:300]


async def _post(client: httpx.AsyncClient, scenario: Scenario, recipe: Recipe,
                target: Target, sandbox: Sandbox, attacker: KeyPair, rule: VerdictRule
                ) -> tuple[Seen, Persona, dict[str, str]]:
    """One login in ``client``: answer the SP's AuthnRequest (or none) with ``recipe``."""
    pending = await authn_request(client, target, sandbox) if scenario.solicited else None
    ctx = Context(
        idp_entity_id=sandbox.entity_id, key=sandbox.key, attacker=attacker,
        sp_entity_id=target.entity_id, acs_url=target.acs_url, requested=target.requested,
        now=datetime.now(UTC), pending=pending,
    )
    root, who = forge(recipe, ctx)
    relay = pending.relay_state if pending is not None else target.relay_state
    form = {"SAMLResponse": encode(root)}
    if relay is not None:
        form["RelayState"] = relay
    return await read(rule, client, await client.post(target.acs_url, data=form)), who, form


async def _play(scenario: Scenario, target: Target, sandbox: Sandbox, attacker: KeyPair,
                rule: VerdictRule, browser: Browser) -> Outcome:
    async with browser() as client:
        seen, who, form = await _post(client, scenario, scenario.recipe, target, sandbox,
                                      attacker, rule)
        if scenario.then is not None:
            if not seen.accepted:
                return outcome_of(scenario, False, "première connexion, valide, refusée : "
                                  f"{seen.summary}")
            async with browser() as other:
                second, who, _ = await _post(other, scenario, scenario.then, target, sandbox,
                                             attacker, rule)
            return judge_second_login(scenario, seen, second, who, rule)
        if scenario.replay is None:
            return judge(scenario, seen, who, rule)
        if not seen.accepted:
            return outcome_of(scenario, False, "rejeu non vérifiable : la réponse d'origine, "
                            f"valide, n'a pas été acceptée ({seen.summary})")
        if scenario.replay == "same-browser":
            seen = await read(rule, client, await client.post(target.acs_url, data=form))
        else:
            async with browser() as other:
                seen = await read(rule, other, await other.post(target.acs_url, data=form))
        return judge(scenario, seen, who, rule)


def judge_second_login(scenario: Scenario, first: Seen, second: Seen, who: Persona,
                       rule: VerdictRule) -> Outcome:
    """Two accepted logins: the same account or two (``same_account``), and the second
    page's values (``shown`` / ``forbidden``, when the page echoes them)."""
    outcome = judge(scenario, second, who, rule)
    passed, summary = outcome.passed, f"seconde connexion {outcome.seen}"
    if passed and scenario.forbidden is not None and rule.echoes_values:
        shown = [p for p in scenario.forbidden(who) if re.search(p, second.body)]
        if shown:
            passed = False
            summary += " ; la page montre encore : " + ", ".join(shown)[:200]
    if passed and scenario.same_account is not None:
        if first.account is None or second.account is None:
            passed = False
            summary += " ; compte ouvert non trouvé dans la page (--account-marker)"
        else:
            same = first.account == second.account
            passed = same == scenario.same_account
            summary += (f" ; comptes : {first.account[:40]} puis {second.account[:40]} ("
                        + ("le même" if same else "deux comptes différents") + ")")
    return outcome_of(scenario, passed, summary)


async def _play_cas(scenario: Scenario, target: Target, sandbox: Sandbox, attacker: KeyPair,
                    rule: VerdictRule, browser: Browser) -> Outcome:
    from services.conformance import cas_player  # it builds on this module's outcomes

    return await cas_player.play(scenario, target, sandbox, rule, browser)


#: One player per protocol: a CAS publisher's scenarios (forged or reused ticket, ticket for
#: another service, ``grain`` outside the site, several ``UAI``) get their own, beside SAML's.
_PLAYERS: dict[str, Callable[[Scenario, Target, Sandbox, KeyPair, VerdictRule, Browser],
                             Awaitable[Outcome]]] = {"saml": _play, "cas": _play_cas}


async def authn_request(client: httpx.AsyncClient, target: Target, sandbox: Sandbox) -> Pending:
    """Open the login URL and follow the service provider until it sends us an AuthnRequest."""
    if target.login_url is None:
        raise HarnessError("aucune URL de connexion (--login-url) : scénario sollicité "
                           "impossible")
    response = await client.get(target.login_url)
    for _ in range(8):
        if response.is_redirect and "location" in response.headers:
            location = urljoin(str(response.url), response.headers["location"])
            if location.startswith(sandbox.sso_url):
                return pending_from_redirect(location)
            response = await client.get(location)
            continue
        posted = _post_binding(response, sandbox.sso_url)
        if posted is not None:
            return posted
        break
    raise HarnessError(f"{target.login_url} n'a pas envoyé d'AuthnRequest vers "
                       f"{sandbox.sso_url} (dernière réponse HTTP {response.status_code})")


def _post_binding(response: httpx.Response, sso_url: str) -> Pending | None:
    if "html" not in response.headers.get("content-type", "") or not response.text.strip():
        return None
    document = etree.fromstring(response.text.encode(), etree.HTMLParser())
    if document is None:
        return None
    for form in document.iter("form"):
        action = urljoin(str(response.url), form.get("action") or "")
        fields = {i.get("name") or "": i.get("value") or "" for i in form.iter("input")}
        if action.startswith(sso_url) and fields.get("SAMLRequest"):
            return pending_from_post(fields["SAMLRequest"], fields.get("RelayState"))
    return None


def judge(scenario: Scenario, seen: Seen, who: Persona, rule: VerdictRule) -> Outcome:
    """Compare what was seen with what the scenario expects (shared by every player)."""
    summary = seen.summary
    if scenario.expect == "accept":
        passed = seen.accepted
        if passed and rule.echoes_values and scenario.shown is not None:
            missing = [v for v in scenario.shown(who) if v not in seen.body]
            if missing:
                passed = False
                summary += f" ; valeurs absentes de la page : {', '.join(missing)[:200]}"
        return outcome_of(scenario, passed, summary)
    leaked = []
    if seen.accepted and scenario.forbidden is not None:
        leaked = [p for p in scenario.forbidden(who) if re.search(p, seen.body)]
    if leaked:
        summary += " ; la page montre la valeur qu'un lecteur naïf lit"
    if scenario.expect == "reject":
        return outcome_of(scenario, not seen.accepted, summary)
    return outcome_of(scenario, not seen.accepted or not leaked, summary)


def outcome_of(scenario: Scenario, passed: bool, seen: str) -> Outcome:
    return Outcome(scenario.id, scenario.family, scenario.title, EXPECTED[scenario.expect],
                   seen, passed, scenario.fix)


def saml_plan(entity: EntityMetadata, rule: VerdictRule, *, login_url: str | None,
              relay_state: str | None, resource_id: str | None, unsolicited: bool,
              only: Sequence[str]) -> tuple[list[Scenario], list[str], Target]:
    """What a run against this service provider plays (the CLI's and the page's), with a
    French line for each kind of scenario left out, and the target."""
    from services.conformance import scenarios

    sp = entity.sp
    assert sp is not None
    options = scenarios.Options(accepts_unsolicited=unsolicited,
                                want_assertions_signed=sp.want_assertions_signed,
                                requested=sp.requested_attributes, resource_id=resource_id)
    chosen, left_out = scenarios.playable(
        scenarios.select(scenarios.saml_scenarios(options), only),
        login=login_url is not None, account=rule.account_marker is not None,
        echo=rule.echoes_values)
    target = Target(entity.entity_id, entity.acs_url() or "", sp.requested_attributes,
                    login_url, relay_state)
    return chosen, left_out, target


def cas_plan(rule: VerdictRule, only: Sequence[str]) -> tuple[list[Scenario], list[str]]:
    """The CAS scenarios a run against a publisher plays, with the lines for those left out."""
    from services.conformance import scenarios
    from services.conformance.cas_scenarios import cas_scenarios

    return scenarios.playable(scenarios.select(cas_scenarios(), only), login=True,
                              account=rule.account_marker is not None, echo=rule.echoes_values)
