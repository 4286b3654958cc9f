"""The CAS player tested both ways, over loopback: the provider mock's careful CAS publisher
passes every CAS scenario, its naive mode (``GAR_PROVIDER_NAIVE``) fails the adversarial ones."""

from __future__ import annotations

import asyncio

import pytest

from services.conformance import runner
from services.conformance.cas_scenarios import cas_scenarios
from services.conformance.runner import Outcome, Target
from services.settings import Settings
from tests.conformance.conftest import PROVIDER_MOCK_RULE, Live

CAS_RESOURCE = "atlas-histoire"


def cas_target(settings: Settings) -> Target:
    url = f"{settings.provider_base}/cas/{CAS_RESOURCE}"
    return Target(url, url)


def _run(live: Live, naive: bool) -> list[Outcome]:
    settings = live.naive if naive else live.careful
    return asyncio.run(runner.run(cas_scenarios(), target=cas_target(settings),
                                  sandbox=live.sandbox, rule=PROVIDER_MOCK_RULE))


@pytest.fixture(scope="module")
def careful(live: Live) -> list[Outcome]:
    return _run(live, naive=False)


@pytest.fixture(scope="module")
def naive(live: Live) -> list[Outcome]:
    return _run(live, naive=True)


def _failed(outcomes: list[Outcome]) -> dict[str, Outcome]:
    return {o.id: o for o in outcomes if not o.passed}


def test_the_careful_cas_publisher_passes_every_cas_scenario(careful: list[Outcome]) -> None:
    assert _failed(careful) == {}
    assert [o.id for o in careful] == [s.id for s in cas_scenarios()]


def test_the_careful_cas_publisher_validates_each_ticket_once_with_the_sandbox(
    careful: list[Outcome],
) -> None:
    forged = next(o for o in careful if o.id == "cas.ticket.forged")
    assert forged.seen.endswith("validations du ticket reçues par le bac à sable : 1")


def test_the_naive_cas_publisher_accepts_the_valid_tickets(naive: list[Outcome]) -> None:
    valid = [o for o in naive if o.id.startswith("cas.valid.")]
    assert len(valid) == 4 and all(o.passed for o in valid)


@pytest.mark.parametrize("scenario", [
    "cas.ticket.forged", "cas.ticket.reused", "cas.ticket.other_service", "cas.ticket.expired",
    "cas.grain.other_host", "cas.grain.scheme_relative", "cas.grain.javascript",
    "cas.uai_several", "cas.gar.ido.same_person", "cas.gar.ido.other_person",
    "cas.gar.licence.other_resource",
])
def test_the_naive_cas_publisher_fails_the_adversarial_scenario(
    naive: list[Outcome], scenario: str
) -> None:
    outcome = _failed(naive).get(scenario)
    assert outcome is not None, f"{scenario} should catch the naive CAS publisher"
    assert "acceptée" in outcome.seen
    assert outcome.fix


def test_an_offsite_grain_failure_says_where_the_page_sends_the_person(
    naive: list[Outcome],
) -> None:
    assert "javascript:alert(document.domain)" in _failed(naive)["cas.grain.javascript"].seen


def test_several_uai_missing_from_the_naive_page_are_named(naive: list[Outcome]) -> None:
    assert "valeurs absentes de la page" in _failed(naive)["cas.uai_several"].seen


def test_a_publisher_keying_on_cas_user_is_reported_with_both_account_numbers(
    naive: list[Outcome], careful: list[Outcome],
) -> None:
    assert "deux comptes différents" in _failed(naive)["cas.gar.ido.same_person"].seen
    assert "(le même)" in _failed(naive)["cas.gar.ido.other_person"].seen
    assert "(le même)" in next(o for o in careful if o.id == "cas.gar.ido.same_person").seen


def test_a_publisher_keeping_classes_of_a_former_establishment_fails(live: Live) -> None:
    chosen = [s for s in cas_scenarios() if s.id.startswith(("cas.gar.", "cas.valid."))]
    outcomes = asyncio.run(runner.run(chosen, target=cas_target(live.providers["accounts"]),
                                      sandbox=live.sandbox, rule=PROVIDER_MOCK_RULE))
    failed = _failed(outcomes)
    assert set(failed) == {"cas.gar.establishment.switch", "cas.gar.licence.other_resource"}
    assert "la page montre encore" in failed["cas.gar.establishment.switch"].seen
