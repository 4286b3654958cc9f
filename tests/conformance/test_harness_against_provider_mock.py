"""The harness tested both ways, over loopback: the careful provider mock passes every
scenario, the naive one fails the adversarial ones, each failure saying why and how to fix."""

from __future__ import annotations

import asyncio

import pytest

from services.conformance import runner
from services.conformance.runner import Outcome
from services.conformance.scenarios import saml_scenarios
from tests.conformance.conftest import PROVIDER_MOCK_RULE, Live


def _run(live: Live, naive: bool) -> list[Outcome]:
    settings = live.naive if naive else live.careful
    return asyncio.run(runner.run(saml_scenarios(), target=live.target(settings),
                                  sandbox=live.sandbox, rule=PROVIDER_MOCK_RULE))


@pytest.fixture(scope="module")
def careful(live: Live) -> list[Outcome]:
    return _run(live, naive=False)


@pytest.fixture(scope="module")
def naive(live: Live) -> list[Outcome]:
    return _run(live, naive=True)


def _failed(outcomes: list[Outcome]) -> dict[str, Outcome]:
    return {o.id: o for o in outcomes if not o.passed}


def test_the_suite_has_the_breadth_of_the_reference_sp_test_tool() -> None:
    scenarios = saml_scenarios()
    assert len(scenarios) >= 118
    assert {f"wrapping.xsw{n}" for n in range(1, 9)} <= {s.id for s in scenarios}


def test_the_careful_provider_mock_passes_every_scenario(careful: list[Outcome]) -> None:
    assert _failed(careful) == {}
    assert len(careful) == len(saml_scenarios())


def test_the_careful_provider_mock_refuses_every_adversarial_response(
    careful: list[Outcome],
) -> None:
    refusals = [o for o in careful if o.expected == "refusée"]
    assert len(refusals) > 90
    assert all(o.seen.startswith("refusée") for o in refusals)


def test_the_naive_provider_mock_accepts_the_valid_responses(naive: list[Outcome]) -> None:
    valid = [o for o in naive if o.id.startswith("valid.")]
    assert valid and all(o.passed for o in valid)


@pytest.mark.parametrize("scenario", [
    "signature.response_only",
    "wrapping.xsw2", "wrapping.xsw3", "wrapping.xsw4", "wrapping.xsw5", "wrapping.xsw7",
    "wrapping.xsw8", "wrapping.two_signed_assertions",
    "field.audience.wrong.both", "field.audience.second_restriction.assertion",
    "field.recipient.wrong.both", "field.destination.wrong", "field.destination.missing",
    "field.issuer.wrong.assertion",
    "field.conditions.not_on_or_after.expired.both", "field.conditions.not_before.future.both",
    "field.confirmation.not_on_or_after.expired.assertion",
    "field.in_response_to.confirmation_wrong.both", "field.in_response_to.response_wrong",
    "replay.same_browser", "replay.other_browser", "replay.unsolicited",
    "comment.name_id", "comment.ido", "comment.p_mel", "gar.uai_several", "gar.div_code_label",
    "algorithm.transform_xslt",
])
def test_the_naive_provider_mock_fails_the_adversarial_scenario(
    naive: list[Outcome], scenario: str
) -> None:
    outcome = _failed(naive).get(scenario)
    assert outcome is not None, f"{scenario} should catch the naive provider"
    assert outcome.seen.startswith("acceptée")
    assert outcome.fix


def test_each_failure_on_the_naive_provider_says_what_was_expected_seen_and_how_to_fix(
    naive: list[Outcome],
) -> None:
    failures = list(_failed(naive).values())
    assert len(failures) > 70
    for outcome in failures:
        assert outcome.expected in ("refusée", "acceptée",
                                    "refusée, ou acceptée sans la valeur tronquée")
        assert outcome.seen and outcome.fix and outcome.title


def test_wrapped_values_are_caught_on_the_page_of_the_naive_provider(
    naive: list[Outcome],
) -> None:
    assert "la page montre la valeur qu'un lecteur naïf lit" in _failed(naive)["wrapping.xsw3"].seen
