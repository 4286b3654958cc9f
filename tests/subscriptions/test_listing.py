"""``GET /abonnements``: a GET with a ``filtres`` body, paging by ``debut`` / ``fin``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.subscriptions import wire
from tests.subscriptions.conftest import ECOLE, LYCEE, SEEDED_ATLAS, SEEDED_MATHS, Client


def _list(api: httpx.Client, body: bytes = b"", query: str = "debut=0&fin=100") -> httpx.Response:
    return api.request("GET", f"/abonnements?{query}", content=body, headers=wire.XML_HEADERS)


@pytest.fixture
def project(api: httpx.Client) -> Iterator[tuple[str, list[str]]]:
    """Three subscriptions of this test only, sharing one project code: A (lycée), B, C."""
    code = f"PRJ-{uuid.uuid4().hex[:10]}"
    ids = [f"ABO-L-{code[4:]}-{suffix}" for suffix in "ABC"]
    year = wire.school_year()
    overrides: list[dict[str, wire.Value]] = [
        {"uaiEtab": LYCEE, "typeAffectation": "ETABL", "nbLicenceEleve": None,
         "nbLicenceEnseignant": None, "nbLicenceGlobale": "100",
         "finValidite": f"{year + 3}-08-31T23:59:59"},
        {"publicCible": ["ENSEIGNANT"], "nbLicenceEleve": None,
         "finValidite": f"{year + 2}-08-31T23:59:59"},
        {"categorieAffectation": "non transferable"},
    ]
    for subscription_id, extra in zip(ids, overrides, strict=True):
        body = wire.abonnement(subscription_id, codeProjetRessource=code, **extra)
        response = api.put(f"/{subscription_id}", content=body, headers=wire.XML_HEADERS)
        assert response.status_code == 201, response.text
    yield code, ids


def test_an_empty_body_lists_every_live_subscription_of_the_caller(api: httpx.Client) -> None:
    response = _list(api)
    assert response.status_code == 200
    listed = wire.ids(response.content)
    assert SEEDED_MATHS in listed
    assert SEEDED_ATLAS not in listed  # the other distributor's
    assert not any(i.startswith("_") for i in listed)


def test_filters_on_different_fields_all_apply(
    api: httpx.Client, project: tuple[str, list[str]]
) -> None:
    code, (_a, b, c) = project
    body = wire.filtres(("codeProjetRessource", code), ("typeAffectation", "INDIV"))
    assert wire.ids(_list(api, body).content) == [b, c]


def test_several_values_of_one_filter_are_alternatives(
    api: httpx.Client, project: tuple[str, list[str]]
) -> None:
    code, (a, _b, c) = project
    body = wire.filtres(("codeProjetRessource", code), ("idAbonnement", a), ("idAbonnement", c))
    assert wire.ids(_list(api, body).content) == [a, c]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("uaiEtab", LYCEE, [0]),
        ("publicCible", "ELEVE", [0, 2]),
        ("categorieAffectation", "non transferable", [2]),
        ("typeAffectation", "ETABL", [0]),
    ],
)
def test_each_documented_filter_selects(
    api: httpx.Client, project: tuple[str, list[str]], name: str, value: str, expected: list[int]
) -> None:
    code, ids = project
    body = wire.filtres(("codeProjetRessource", code), (name, value))
    assert wire.ids(_list(api, body).content) == [ids[i] for i in expected]


def test_filtering_on_another_distributor_finds_nothing(
    api: httpx.Client, project: tuple[str, list[str]]
) -> None:
    body = wire.filtres(("idDistributeurCom", "987654321_0000000000000001"))
    assert wire.ids(_list(api, body).content) == []


def test_a_date_filter_keeps_what_ends_before_the_bound(
    api: httpx.Client, project: tuple[str, list[str]]
) -> None:
    code, (a, b, c) = project
    year = wire.school_year()
    body = wire.filtres(("codeProjetRessource", code),
                        by_date=("finValidite", f"{year + 2}-12-31T00:00:00", None))
    assert wire.ids(_list(api, body).content) == [b, c]
    body = wire.filtres(("codeProjetRessource", code),
                        by_date=("finValidite", None, f"{year + 2}-01-01T00:00:00"))
    assert wire.ids(_list(api, body).content) == [a, b]


def test_sorting_descending_on_the_end_date(
    api: httpx.Client, project: tuple[str, list[str]]
) -> None:
    code, (a, b, c) = project
    body = wire.filtres(("codeProjetRessource", code), sort=("finValidite", "DSC"))
    assert wire.ids(_list(api, body).content) == [a, b, c]
    body = wire.filtres(("codeProjetRessource", code), sort=("finValidite", "ASC"))
    assert wire.ids(_list(api, body).content) == [c, b, a]


def test_debut_and_fin_page_through_the_list(
    api: httpx.Client, project: tuple[str, list[str]]
) -> None:
    code, (_a, b, c) = project
    body = wire.filtres(("codeProjetRessource", code))
    assert wire.ids(_list(api, body, "debut=1&fin=2").content) == [b]
    assert wire.ids(_list(api, body, "debut=2&fin=100").content) == [c]


def test_deleted_subscriptions_are_listed_only_when_asked(
    api: httpx.Client, project: tuple[str, list[str]]
) -> None:
    code, (a, b, c) = project
    assert api.delete(f"/{b}").status_code == 204
    body = wire.filtres(("codeProjetRessource", code))
    assert wire.ids(_list(api, body).content) == [a, c]
    body = wire.filtres(("codeProjetRessource", code), deleted=True)
    assert sorted(wire.ids(_list(api, body).content)) == sorted([f"_{b}", a, c])


def test_the_listing_is_available_in_json(
    client_for: Client, project: tuple[str, list[str]]
) -> None:
    code, ids = project
    response = client_for("own").request(
        "GET", "/abonnements",
        json={"filtres": {"filtre": [{"filtreNom": "codeProjetRessource", "filtreValeur": code}]}},
    )
    assert response.status_code == 200
    assert [s["idAbonnement"] for s in response.json()["abonnements"]["abonnement"]] == ids


@pytest.mark.parametrize(
    ("body", "query", "code"),
    [
        (wire.filtres(("libelleRessource", "x")), "debut=0&fin=10", "filter.invalid"),
        (wire.filtres(sort=("publicCible", "ASC")), "debut=0&fin=10", "filter.invalid"),
        (wire.filtres(sort=("finValidite", "DOWN")), "debut=0&fin=10", "filter.invalid"),
        (wire.filtres(by_date=("dateNaissance", "2020-01-01", None)), "debut=0&fin=10",
         "filter.invalid"),
        (wire.filtres(by_date=("finValidite", "demain", None)), "debut=0&fin=10",
         "subscription.date_invalid"),
        (b"", "debut=10&fin=5", "paging.invalid"),
        (b"", "debut=-1&fin=5", "paging.invalid"),
        (b"", "debut=0&fin=5000", "paging.invalid"),
        (b"<filtres xmlns='urn:autre'/>", "debut=0&fin=10", "request.xml_invalid"),
    ],
)
def test_a_bad_listing_request_is_refused_with_a_precise_code(
    api: httpx.Client, body: bytes, query: str, code: str
) -> None:
    response = _list(api, body, query)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == code


def test_an_unknown_etablissement_filter_value_lists_nothing(
    api: httpx.Client, project: tuple[str, list[str]]
) -> None:
    body = wire.filtres(("uaiEtab", ECOLE))
    assert wire.ids(_list(api, body).content) == []
