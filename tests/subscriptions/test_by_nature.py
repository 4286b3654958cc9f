"""``codeNatureUAI`` subscriptions through the web service: one subscription for the
distributor, one share per establishment of that kind inside the broker."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from broker.models import Subscription
from tests.subscriptions import wire
from tests.subscriptions.conftest import COLLEGE, Live

COLLEGES = "340"


def _create_by_nature(api: httpx.Client, subscription_id: str, **overrides: wire.Value
                      ) -> httpx.Response:
    body = wire.abonnement(subscription_id, uaiEtab=None, codeNatureUAI=COLLEGES, **overrides)
    return api.put(f"/{subscription_id}", content=body, headers=wire.XML_HEADERS)


def _shares(live: Live, parent_id: str) -> list[Subscription]:
    with live.sessions() as session:
        return list(session.scalars(select(Subscription).where(
            Subscription.parent_id == parent_id).order_by(Subscription.id)))


def test_put_by_nature_answers_201_with_code_nature_and_no_establishment(
    api: httpx.Client, new_id: str
) -> None:
    response = _create_by_nature(api, new_id)
    assert response.status_code == 201, response.text
    root = wire.read(response.content)
    assert wire.value(root, "codeNatureUAI") == [COLLEGES]
    assert wire.value(root, "uaiEtab") == []


def test_put_by_nature_gives_every_college_a_share_with_the_same_terms(
    api: httpx.Client, live: Live, new_id: str
) -> None:
    assert _create_by_nature(api, new_id).status_code == 201
    shares = _shares(live, new_id)
    assert [s.uai for s in shares] == [COLLEGE]
    assert (shares[0].licences_student, shares[0].resource_id, shares[0].deleted) == (
        25, wire.MATHS, False)


def test_post_may_not_carry_code_nature(api: httpx.Client, live: Live, new_id: str) -> None:
    assert _create_by_nature(api, new_id).status_code == 201
    body = wire.abonnement(new_id, uaiEtab=None, codeNatureUAI="300")
    response = api.post(f"/{new_id}", content=body, headers=wire.XML_HEADERS)
    assert response.status_code == 400
    assert response.json()["code"] == "subscription.uai_immutable"
    assert _shares(live, new_id)[0].nature_uai == COLLEGES


def test_put_with_both_establishment_and_nature_is_refused(
    api: httpx.Client, live: Live, new_id: str
) -> None:
    body = wire.abonnement(new_id, codeNatureUAI=COLLEGES)
    response = api.put(f"/{new_id}", content=body, headers=wire.XML_HEADERS)
    assert response.status_code == 400 and response.json()["code"] == "subscription.uai_both"
    assert _shares(live, new_id) == []


def test_post_updates_every_share(api: httpx.Client, live: Live, new_id: str) -> None:
    assert _create_by_nature(api, new_id).status_code == 201
    body = wire.abonnement(new_id, uaiEtab=None, nbLicenceEleve="60")
    response = api.post(f"/{new_id}", content=body, headers=wire.XML_HEADERS)
    assert response.status_code == 200, response.text
    assert wire.value(wire.read(response.content), "codeNatureUAI") == [COLLEGES]
    assert [s.licences_student for s in _shares(live, new_id)] == [60]


def test_a_share_is_not_addressable_by_the_distributor(
    api: httpx.Client, live: Live, new_id: str
) -> None:
    assert _create_by_nature(api, new_id).status_code == 201
    share = _shares(live, new_id)[0].id
    assert api.delete(f"/{share}").status_code == 404
    assert not _shares(live, new_id)[0].deleted


def test_the_listing_shows_the_subscription_by_nature_and_not_its_shares(
    api: httpx.Client, new_id: str
) -> None:
    assert _create_by_nature(api, new_id).status_code == 201
    body = wire.filtres(("idAbonnement", new_id))
    listed = api.request("GET", "/abonnements", content=body, headers=wire.XML_HEADERS)
    assert wire.ids(listed.content) == [new_id]
    share_filter = wire.filtres(("idAbonnement", f"{new_id}@{COLLEGE}"))
    shares = api.request("GET", "/abonnements", content=share_filter, headers=wire.XML_HEADERS)
    assert wire.ids(shares.content) == []


def test_the_assignment_count_has_one_line_per_establishment_of_the_nature(
    api: httpx.Client, new_id: str
) -> None:
    assert _create_by_nature(api, new_id).status_code == 201
    response = api.get("/decompteaffectations", params={"idAbonnement": new_id})
    assert response.status_code == 200
    lines = response.text.strip().splitlines()[1:]
    assert lines == [f"{COLLEGE};{new_id};PRJ-TEST;{wire.MATHS};0;0;0;0"]


def test_delete_by_nature_retires_the_subscription_and_its_shares(
    api: httpx.Client, live: Live, new_id: str
) -> None:
    assert _create_by_nature(api, new_id).status_code == 201
    assert api.delete(f"/{new_id}").status_code == 204
    assert _shares(live, new_id)[0].deleted
    assert _shares(live, new_id)[0].id.startswith("_")
    with live.sessions() as session:
        assert session.get(Subscription, f"_{new_id}") is not None


def test_the_establishments_list_gives_the_nature_codes_a_distributor_uses(
    api: httpx.Client,
) -> None:
    response = api.get("/etablissements/etablissements.xml")
    natures = {e.text for e in wire.read(response.content).iter(
        "{http://www.atosworldline.com/listEtablissement/v1.0/}nature_uai")}
    assert COLLEGES in natures
