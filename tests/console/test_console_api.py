"""The console's JSON API: the pages' actions for scripts, with the same rights and refusals.

A session cookie from signing in, the CSRF token from ``GET /console/api/session`` in the
``X-CSRF-Token`` header of every change, and ``application/problem+json`` errors.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from services.settings import Settings

pytestmark = pytest.mark.anyio

COLLEGE, LYCEE = "0359901X", "0359902Y"
MATHS = f"ABO-MANUEL-MATHS-4E-{COLLEGE}"
LYCEE_DICTIONARY = f"ABO-DICTIONNAIRE-{LYCEE}"
PROBLEM = "application/problem+json"


def _api(settings: Settings, path: str) -> str:
    return f"{settings.broker_base}/console/api/{path}"


async def _csrf(browser: httpx.AsyncClient, settings: Settings) -> str:
    answer = await browser.get(_api(settings, "session"))
    assert answer.status_code == 200, answer.text
    return str(answer.json()["csrf_token"])


async def _post(browser: httpx.AsyncClient, settings: Settings, path: str, body: Any,
                csrf: str | None) -> httpx.Response:
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    return await browser.post(_api(settings, path), json=body, headers=headers)


def _pupils(subscriptions: list[dict[str, Any]], subscription_id: str) -> dict[str, Any]:
    found = next(s for s in subscriptions if s["id"] == subscription_id)
    return dict(next(c for c in found["counters"] if c["audience"] == "ELEVE"))


def _problem(answer: httpx.Response, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    assert answer.json()["code"] == code and answer.json()["status"] == status


async def test_without_a_session_the_api_answers_401_problem_json(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    _problem(await browser.get(_api(testbed_settings, "session")), 401, "console.not_logged_in")


async def test_the_session_names_the_officer_and_their_establishments(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    answer = (await browser.get(_api(testbed_settings, "session"))).json()
    assert answer["establishments"] == [
        {"uai": COLLEGE, "name": "Collège Anne de Bretagne", "role": "RA"}]
    assert len(answer["csrf_token"]) >= 32


async def test_assign_list_and_withdraw_through_the_api(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    csrf = await _csrf(browser, testbed_settings)
    listing = f"etablissements/{COLLEGE}/abonnements"
    before = _pupils((await browser.get(_api(testbed_settings, listing))).json(), MATHS)
    made = await _post(browser, testbed_settings, f"etablissements/{COLLEGE}/affectations",
                       {"subscription_id": MATHS, "target_kind": "division",
                        "target_value": "4B"}, csrf)
    assert made.status_code == 201, made.text
    assert made.json()["target_value"] == "4B"
    during = _pupils((await browser.get(_api(testbed_settings, listing))).json(), MATHS)
    assert during["used"] > before["used"]
    assert during["used"] - before["used"] == before["left"] - during["left"]
    assigned = await browser.get(_api(testbed_settings, f"etablissements/{COLLEGE}/affectations"),
                                 params={"abonnement": MATHS})
    assert ("division", "4B") in {(a["target_kind"], a["target_value"]) for a in assigned.json()}

    gone = await browser.delete(
        _api(testbed_settings, f"etablissements/{COLLEGE}/affectations/{made.json()['id']}"),
        headers={"X-CSRF-Token": csrf})
    assert gone.status_code == 204
    after = _pupils((await browser.get(_api(testbed_settings, listing))).json(), MATHS)
    assert after == before


async def test_a_group_is_assigned_through_the_api(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    csrf = await _csrf(browser, testbed_settings)
    made = await _post(browser, testbed_settings, f"etablissements/{COLLEGE}/affectations",
                       {"subscription_id": MATHS, "target_kind": "group",
                        "target_value": "LATIN4"}, csrf)
    assert made.status_code == 201, made.text
    assert (made.json()["target_kind"], made.json()["target_value"]) == ("group", "LATIN4")
    assigned = await browser.get(_api(testbed_settings, f"etablissements/{COLLEGE}/affectations"),
                                 params={"abonnement": MATHS})
    assert ("group", "LATIN4") in {(a["target_kind"], a["target_value"]) for a in assigned.json()}
    unknown = await _post(browser, testbed_settings, f"etablissements/{COLLEGE}/affectations",
                          {"subscription_id": MATHS, "target_kind": "group",
                           "target_value": "4A"}, csrf)  # a class, not a group
    _problem(unknown, 404, "licence.unknown_target")


async def test_a_change_without_the_csrf_header_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    answer = await _post(browser, testbed_settings, f"etablissements/{COLLEGE}/affectations",
                         {"subscription_id": MATHS, "target_kind": "division",
                          "target_value": "4B"}, None)
    _problem(answer, 403, "console.csrf")


async def test_a_withdrawal_without_the_csrf_header_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    answer = await browser.delete(
        _api(testbed_settings, f"etablissements/{COLLEGE}/affectations/1"))
    _problem(answer, 403, "console.csrf")


async def test_an_officer_assigning_in_another_establishment_through_the_api_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    csrf = await _csrf(browser, testbed_settings)
    body = {"subscription_id": LYCEE_DICTIONARY, "target_kind": "division",
            "target_value": "2NDE04"}
    _problem(await _post(browser, testbed_settings, f"etablissements/{LYCEE}/affectations",
                         body, csrf), 403, "console.establishment_forbidden")
    _problem(await _post(browser, testbed_settings, f"etablissements/{COLLEGE}/affectations",
                         body, csrf), 403, "console.establishment_forbidden")
    _problem(await browser.get(_api(testbed_settings, f"etablissements/{LYCEE}/abonnements")),
             403, "console.establishment_forbidden")


async def test_exhausted_licences_are_a_409_problem(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    csrf = await _csrf(browser, testbed_settings)
    answer = await _post(browser, testbed_settings, f"etablissements/{COLLEGE}/affectations",
                         {"subscription_id": MATHS, "target_kind": "profile",
                          "target_value": "National_ens"}, csrf)
    _problem(answer, 409, "licence.exhausted")


async def test_an_unknown_subscription_is_a_404_problem(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    csrf = await _csrf(browser, testbed_settings)
    answer = await _post(browser, testbed_settings, f"etablissements/{COLLEGE}/affectations",
                         {"subscription_id": "NOPE", "target_kind": "division",
                          "target_value": "4B"}, csrf)
    _problem(answer, 404, "console.subscription_unknown")


@pytest.mark.parametrize(("content", "content_type", "status"), [
    (b"{not json", "application/json", 400),
    (b"[1, 2]", "application/json", 400),
    (b'{"subscription_id": 5, "target_kind": "division", "target_value": "4B"}',
     "application/json", 400),
    (b"subscription_id=x", "application/x-www-form-urlencoded", 415),
    (b'{"x": "' + b"a" * 20_000 + b'"}', "application/json", 413),
])
async def test_a_malformed_body_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response,
    content: bytes, content_type: str, status: int
) -> None:
    csrf = await _csrf(browser, testbed_settings)
    answer = await browser.post(
        _api(testbed_settings, f"etablissements/{COLLEGE}/affectations"), content=content,
        headers={"Content-Type": content_type, "X-CSRF-Token": csrf})
    _problem(answer, status, "console.bad_request")


async def test_delegation_through_the_api(
    browser: httpx.AsyncClient, testbed_settings: Settings, head: httpx.Response
) -> None:
    csrf = await _csrf(browser, testbed_settings)
    teacher = "ens-000004"  # enseignant: Claire Dubois, the fourth person of the academy
    done = await _post(browser, testbed_settings, f"etablissements/{COLLEGE}/delegations",
                       {"person_id": teacher}, csrf)
    assert done.status_code == 204, done.text
    again = await _post(browser, testbed_settings, f"etablissements/{COLLEGE}/delegations",
                        {"person_id": teacher}, csrf)
    _problem(again, 409, "licence.already_officer")
