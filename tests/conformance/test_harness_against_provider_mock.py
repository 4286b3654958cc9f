"""The harness tested both ways, over loopback: the careful provider mock passes every
scenario, and every scenario that names a mistake fails against the naive level that makes
that mistake (provider_mock/naive.py), each failure saying why and how to fix."""

from __future__ import annotations

import asyncio

import pytest

from services.conformance import runner
from services.conformance.runner import Outcome
from services.conformance.scenarios import Options, Scenario, saml_scenarios
from tests.conformance.conftest import NAIVE_LEVELS, PROVIDER_MOCK_RULE, RESOURCE_ID, Live


def _scenarios(live: Live, name: str) -> list[Scenario]:
    target = live.target(live.providers[name])
    return saml_scenarios(Options(accepts_unsolicited=name != "strict",
                                  requested=target.requested, resource_id=RESOURCE_ID))


def _run(live: Live, name: str) -> dict[str, Outcome]:
    outcomes = asyncio.run(runner.run(_scenarios(live, name),
                                      target=live.target(live.providers[name]),
                                      sandbox=live.sandbox, rule=PROVIDER_MOCK_RULE))
    return {o.id: o for o in outcomes}


@pytest.fixture(scope="module")
def played(live: Live) -> dict[str, dict[str, Outcome]]:
    """Every provider mock, the whole suite: {mock name: {scenario id: outcome}}."""
    return {name: _run(live, name) for name in live.providers}


#: Which naive level makes the mistake each scenario is there to catch (first matching
#: prefix); the reader, which checks nothing after "a signature verifies", catches the rest.
CAUGHT_BY: tuple[tuple[str, str], ...] = (
    ("signature.none", "signature"),
    ("signature.foreign.", "signature"),
    ("signature.foreign_trusted_cert.", "digest"),
    ("signature.foreign_no_keyinfo.", "digest"),
    ("signature.cloned_certificate.", "signature"),
    ("signature.rsa_key_value.", "signature"),
    ("signature.foreign_response_trusted_assertion", "signature"),
    ("signature.trusted_response_foreign_assertion", "signature"),
    ("signature.modified.", "signed-info"),
    ("signature.structure.signature_value", "digest"),
    ("signature.structure.signed_info_removed", "digest"),
    ("signature.structure.empty_signature", "digest"),
    ("signature.structure.digest_value", "signed-info"),
    ("signature.structure.empty_reference", "signed-info"),
    ("signature.structure.reference_elsewhere", "signed-info"),
    ("signature.structure.two_references", "signature"),
    ("algorithm.", "signature"),
    ("wrapping.xsw1", "signature"),
    ("wrapping.xsw6", "signature"),
    ("gar.establishment.", "accounts"),
)
#: Scenarios a conforming SP accepts, but whose checks (values shown, accounts compared)
#: catch a naive reader.
ACCEPTED_BUT_CHECKED = ("gar.uai_several", "gar.div_code_label", "gar.ido.same_person",
                        "gar.ido.other_person", "gar.establishment.switch")


def caught_by(scenario_id: str) -> str:
    return next((level for prefix, level in CAUGHT_BY if scenario_id.startswith(prefix)),
                "reader")


ADVERSARIAL = [s.id for s in saml_scenarios(Options(resource_id=RESOURCE_ID))
               if s.expect != "accept" or s.id in ACCEPTED_BUT_CHECKED]


def test_the_suite_has_the_breadth_of_the_reference_sp_test_tool() -> None:
    scenarios = saml_scenarios()
    assert len(scenarios) >= 118
    assert {f"wrapping.xsw{n}" for n in range(1, 9)} <= {s.id for s in scenarios}


def test_the_careful_provider_mock_passes_every_scenario(
    played: dict[str, dict[str, Outcome]],
) -> None:
    careful = played["careful"]
    assert {i: o.seen for i, o in careful.items() if not o.passed} == {}
    assert set(careful) >= set(ADVERSARIAL)


def test_the_strict_provider_mock_passes_every_scenario_with_its_options(
    played: dict[str, dict[str, Outcome]],
) -> None:
    strict = played["strict"]
    assert {i: o.seen for i, o in strict.items() if not o.passed} == {}
    assert strict["valid.unsolicited.student"].expected == "refusée"


def test_the_careful_provider_mock_refuses_every_adversarial_response(
    played: dict[str, dict[str, Outcome]],
) -> None:
    refusals = [o for o in played["careful"].values() if o.expected == "refusée"]
    assert len(refusals) > 100
    assert all(o.seen.startswith("refusée") for o in refusals)


@pytest.mark.parametrize("level", NAIVE_LEVELS)
def test_every_naive_level_accepts_the_valid_responses(
    played: dict[str, dict[str, Outcome]], level: str,
) -> None:
    valid = {i: o for i, o in played[level].items() if i.startswith("valid.")}
    assert len(valid) >= 10
    assert {i: o.seen for i, o in valid.items() if not o.passed} == {}


@pytest.mark.parametrize("scenario", ADVERSARIAL)
def test_the_naive_level_that_makes_the_mistake_fails_the_scenario(
    played: dict[str, dict[str, Outcome]], scenario: str,
) -> None:
    level = caught_by(scenario)
    outcome = played[level][scenario]
    assert not outcome.passed, f"{scenario} should catch the naive level {level}"
    assert outcome.seen and outcome.fix and outcome.title
    assert outcome.expected in ("refusée", "acceptée",
                                "refusée, ou acceptée sans la valeur tronquée")


def test_a_refused_scenario_fails_on_the_naive_level_because_it_was_accepted(
    played: dict[str, dict[str, Outcome]],
) -> None:
    for scenario in ("signature.foreign.assertion", "wrapping.xsw1", "wrapping.xsw6",
                     "signature.modified.attribute.both", "gar.licence.other_resource"):
        assert played[caught_by(scenario)][scenario].seen.startswith("acceptée")


def test_wrapped_values_are_caught_on_the_page_of_the_naive_provider(
    played: dict[str, dict[str, Outcome]],
) -> None:
    assert "la page montre la valeur qu'un lecteur naïf lit" in played["reader"][
        "wrapping.xsw3"].seen


def test_accounts_keyed_on_the_name_id_are_reported_with_both_account_numbers(
    played: dict[str, dict[str, Outcome]],
) -> None:
    same = played["reader"]["gar.ido.same_person"]
    assert "deux comptes différents" in same.seen
    other = played["reader"]["gar.ido.other_person"]
    assert "(le même)" in other.seen
    assert "(le même)" in played["careful"]["gar.ido.same_person"].seen


def test_classes_of_a_former_establishment_are_reported(
    played: dict[str, dict[str, Outcome]],
) -> None:
    assert "la page montre encore" in played["accounts"]["gar.establishment.switch"].seen


def test_the_careful_provider_refuses_an_unsolicited_replay_with_its_replay_cache(
    played: dict[str, dict[str, Outcome]],
) -> None:
    """The solicited replays are refused once the request id is consumed; the unsolicited
    one has no request id, so only the replay cache can refuse it."""
    assert "code provider.assertion.replayed" in played["careful"]["replay.unsolicited"].seen


def test_a_service_refusing_unsolicited_responses_passes_the_no_unsolicited_expectations(
    played: dict[str, dict[str, Outcome]],
) -> None:
    strict = played["strict"]
    for scenario in ("valid.unsolicited.student", "valid.unsolicited.teacher",
                     "valid.unsolicited.librarian", "field.in_response_to.both_missing"):
        assert strict[scenario].expected == "refusée"
        assert "code provider.unsolicited.refused" in strict[scenario].seen, scenario
    assert "replay.unsolicited" not in strict


def test_the_no_unsolicited_expectations_fail_a_service_that_accepts_them(
    live: Live,
) -> None:
    options = Options(accepts_unsolicited=False, resource_id=RESOURCE_ID)
    chosen = [s for s in saml_scenarios(options)
              if s.id in ("valid.unsolicited.student", "field.in_response_to.both_missing")]
    outcomes = asyncio.run(runner.run(chosen, target=live.target(live.careful),
                                      sandbox=live.sandbox, rule=PROVIDER_MOCK_RULE))
    assert [(o.passed, o.seen.split(" ")[0]) for o in outcomes] == [(False, "acceptée")] * 2
