"""Every rule of GAR_REFERENCE §3, each refusal with its stable code, and nothing written."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from broker.models import Subscription
from tests.subscriptions import wire
from tests.subscriptions.conftest import (
    ECOLE,
    NS,
    OTHER,
    SEEDED_ATLAS,
    SEEDED_MATHS,
    Client,
    Live,
)

YEAR = wire.school_year()
PER_AUDIENCE = {"nbLicenceEleve": None, "nbLicenceEnseignant": None}

RULES: list[tuple[str, dict[str, wire.Value], str]] = [
    ("unknown UAI", {"uaiEtab": "0000000A"}, "subscription.uai_unknown"),
    ("unknown resource", {"idRessource": "ark:/99999/inconnue"}, "subscription.resource_unknown"),
    ("end before start", {"finValidite": f"{YEAR - 1}-08-31T00:00:00"},
     "subscription.end_before_start"),
    ("end equal to start", {"finValidite": f"{YEAR}-09-01T00:00:00"},
     "subscription.end_before_start"),
    ("not a date", {"debutValidite": "1er septembre"}, "subscription.date_invalid"),
    ("ILLIMITE per audience", {"nbLicenceEleve": "ILLIMITE"},
     "subscription.licences_unlimited_per_audience"),
    ("a count that is not a number", {"nbLicenceEleve": "trente"},
     "subscription.licence_count_invalid"),
    ("a negative count", {"nbLicenceEleve": "-3"}, "subscription.licence_count_invalid"),
    ("a count over 8 characters", {"nbLicenceEleve": "123456789"},
     "subscription.licence_count_invalid"),
    ("global and per audience", {"nbLicenceGlobale": "10"}, "subscription.licences_both"),
    ("no licence count", PER_AUDIENCE, "subscription.licences_missing"),
    ("a count without its audience", {"nbLicenceProfDoc": "2"}, "subscription.licences_audience"),
    ("ETABL with per-audience counts", {"typeAffectation": "ETABL"},
     "subscription.etabl_licences"),
    ("ETABL without a global count", {"typeAffectation": "ETABL", **PER_AUDIENCE},
     "subscription.etabl_licences"),
    ("both end forms", {"anneeFinValidite": f"{YEAR}-{YEAR + 1}"}, "subscription.end_both"),
    ("no end", {"finValidite": None}, "subscription.end_missing"),
    ("a school year not AAAA-AAAA", {"finValidite": None, "anneeFinValidite": f"{YEAR + 1}"},
     "subscription.school_year_invalid"),
    ("a school year spanning two years", {"finValidite": None,
                                          "anneeFinValidite": f"{YEAR}-{YEAR + 2}"},
     "subscription.school_year_invalid"),
    ("more than 10 school years", {"finValidite": f"{YEAR + 10}-09-01T00:00:00"},
     "subscription.too_long"),
    ("a primary school with a librarian audience",
     {"uaiEtab": ECOLE, "publicCible": ["ELEVE", "ENSEIGNANT", "DOCUMENTALISTE"]},
     "subscription.primary_no_librarian"),
    ("uaiEtab and codeNatureUAI", {"codeNatureUAI": "340"}, "subscription.uai_both"),
    ("an unknown codeNatureUAI", {"uaiEtab": None, "codeNatureUAI": "999"},
     "subscription.nature_uai_unknown"),
    ("every primary school with a librarian audience",
     {"uaiEtab": None, "codeNatureUAI": "151",
      "publicCible": ["ELEVE", "ENSEIGNANT", "DOCUMENTALISTE"]},
     "subscription.primary_no_librarian"),
    ("no establishment", {"uaiEtab": None}, "subscription.field_missing"),
    ("a distributor id off pattern", {"idDistributeurCom": "12345"},
     "subscription.distributor_invalid"),
    ("an unknown audience", {"publicCible": ["ELEVE", "PARENT"]}, "subscription.audience_invalid"),
    ("a repeated audience", {"publicCible": ["ELEVE", "ELEVE", "ENSEIGNANT"]},
     "subscription.audience_invalid"),
    ("an unknown category", {"categorieAffectation": "cessible"},
     "subscription.category_invalid"),
    ("an unknown assignment type", {"typeAffectation": "CLASSE"}, "subscription.type_invalid"),
    ("a resource id type other than ark", {"typeIdRessource": "URL"},
     "subscription.resource_id_type"),
    ("a comment over 255 characters", {"commentaireAbonnement": "x" * 256},
     "subscription.field_too_long"),
    ("an unknown field", {"prixUnitaire": "12"}, "subscription.field_unknown"),
    ("a repeated single field", {"uaiEtab": [ECOLE, ECOLE]}, "subscription.field_repeated"),
    *[(f"no {name}", {name: None}, "subscription.field_missing") for name in (
        "idRessource", "typeIdRessource", "libelleRessource", "categorieAffectation",
        "typeAffectation", "publicCible", "debutValidite")],
]


def _count(live: Live, subscription_id: str) -> int:
    with live.sessions() as session:
        return len(session.scalars(
            select(Subscription.id).where(Subscription.id == subscription_id)).all())


@pytest.mark.parametrize(("overrides", "code"), [(o, c) for _, o, c in RULES],
                         ids=[name for name, _, _ in RULES])
def test_a_body_breaking_a_rule_is_refused_and_nothing_is_written(
    api: httpx.Client, live: Live, new_id: str, overrides: dict[str, wire.Value], code: str
) -> None:
    body = wire.abonnement(new_id, **overrides)
    response = api.put(f"/{new_id}", content=body, headers=wire.XML_HEADERS)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == code and problem["status"] == 400 and problem["detail"]
    assert _count(live, new_id) == 0


@pytest.mark.parametrize(
    "bad_id",
    ["abonnements", "categorie", "_ABO-1", "ABO 1", "A" * 46],
)
def test_a_bad_subscription_id_is_refused(api: httpx.Client, live: Live, bad_id: str) -> None:
    body = wire.abonnement(bad_id)
    response = api.put(f"/{bad_id}", content=body, headers=wire.XML_HEADERS)
    assert response.status_code in (400, 405), response.text
    if response.status_code == 400:
        assert response.json()["code"] == "subscription.id_invalid"
    assert _count(live, bad_id) == 0


def test_a_body_id_differing_from_the_path_is_refused(
    api: httpx.Client, live: Live, new_id: str
) -> None:
    body = wire.abonnement(new_id, idAbonnement="AUTRE-ID")
    response = api.put(f"/{new_id}", content=body, headers=wire.XML_HEADERS)
    assert response.json()["code"] == "subscription.id_mismatch"
    assert _count(live, new_id) == 0 and _count(live, "AUTRE-ID") == 0


def test_creating_for_another_distributor_is_forbidden(
    api: httpx.Client, live: Live, new_id: str
) -> None:
    body = wire.abonnement(new_id, idDistributeurCom=OTHER)
    response = api.put(f"/{new_id}", content=body, headers=wire.XML_HEADERS)
    assert response.status_code == 403
    assert response.json()["code"] == "subscription.distributor_mismatch"
    assert _count(live, new_id) == 0


def test_another_distributors_subscription_answers_as_if_absent(
    client_for: Client, live: Live
) -> None:
    """The seeded atlas subscription belongs to the other distributor: 404, untouched."""
    api = client_for("own")
    body = wire.abonnement(SEEDED_ATLAS, uaiEtab=None)
    update = api.post(f"/{SEEDED_ATLAS}", content=body, headers=wire.XML_HEADERS)
    assert update.status_code == 404 and update.json()["code"] == "subscription.not_found"
    delete = api.delete(f"/{SEEDED_ATLAS}")
    assert delete.status_code == 404 and delete.json()["code"] == "subscription.not_found"
    count = api.get("/decompteaffectations", params={"idAbonnement": SEEDED_ATLAS})
    assert count.status_code == 404
    with live.sessions() as session:
        row = session.get(Subscription, SEEDED_ATLAS)
        assert row is not None and not row.deleted and row.licences_global == 400


def test_the_owner_still_reaches_its_subscription(client_for: Client) -> None:
    response = client_for("other").get(
        "/decompteaffectations", params={"idAbonnement": SEEDED_ATLAS})
    assert response.status_code == 200


def test_a_licence_count_below_what_is_assigned_is_refused_and_nothing_changes(
    api: httpx.Client, live: Live
) -> None:
    with live.sessions() as session:
        before = session.get(Subscription, SEEDED_MATHS)
        assert before is not None
        updated_at, students = before.updated_at, before.licences_student
    year = wire.school_year()
    body = wire.abonnement(
        SEEDED_MATHS, uaiEtab=None, nbLicenceEleve="0", nbLicenceEnseignant="3",
        commentaireAbonnement="changé", debutValidite=f"{year - 1}-09-01T00:00:00",
        codeProjetRessource="PRJ-MANUEL-MATHS-4E")
    response = api.post(f"/{SEEDED_MATHS}", content=body, headers=wire.XML_HEADERS)
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "subscription.licences_below_used"
    with live.sessions() as session:
        after = session.get(Subscription, SEEDED_MATHS)
        assert after is not None
        assert (after.licences_student, after.updated_at) == (students, updated_at)
        assert after.comment != "changé"


def test_dropping_an_audience_that_holds_licences_is_refused(
    api: httpx.Client, live: Live
) -> None:
    year = wire.school_year()
    body = wire.abonnement(
        SEEDED_MATHS, uaiEtab=None, publicCible=["ELEVE"], nbLicenceEnseignant=None,
        nbLicenceEleve="30", debutValidite=f"{year - 1}-09-01T00:00:00")
    response = api.post(f"/{SEEDED_MATHS}", content=body, headers=wire.XML_HEADERS)
    assert response.status_code == 409
    assert response.json()["code"] == "subscription.licences_below_used"


def test_a_global_count_below_the_total_assigned_is_refused(
    api: httpx.Client, live: Live
) -> None:
    year = wire.school_year()
    body = wire.abonnement(
        SEEDED_MATHS, uaiEtab=None, nbLicenceGlobale="1", **PER_AUDIENCE,
        debutValidite=f"{year - 1}-09-01T00:00:00")
    response = api.post(f"/{SEEDED_MATHS}", content=body, headers=wire.XML_HEADERS)
    assert response.status_code == 409
    assert response.json()["code"] == "subscription.licences_below_used"


XML_ATTACKS = [
    ("dtd", b'<?xml version="1.0"?><!DOCTYPE abonnement [<!ENTITY x "y">]>'
            b'<abonnement xmlns="' + NS.encode() + b'"><idAbonnement>&x;</idAbonnement>'
            b"</abonnement>", "request.xml_forbidden"),
    ("external entity", b'<!DOCTYPE a SYSTEM "file:///etc/passwd"><abonnement/>',
     "request.xml_forbidden"),
    ("processing instruction", b'<?xml-stylesheet href="x"?><abonnement xmlns="'
     + NS.encode() + b'"/>', "request.xml_forbidden"),
    ("malformed", b"<abonnement xmlns='" + NS.encode() + b"'><idAbonnement>",
     "request.xml_invalid"),
    ("wrong namespace", b"<abonnement><idAbonnement>x</idAbonnement></abonnement>",
     "request.xml_invalid"),
    ("wrong root", b"<filtres xmlns='" + NS.encode() + b"'/>", "request.xml_invalid"),
    ("nested element", b"<abonnement xmlns='" + NS.encode() + b"'><idAbonnement><a/>"
     b"</idAbonnement></abonnement>", "request.xml_invalid"),
    ("empty body", b"", "request.body_missing"),
]


@pytest.mark.parametrize(("body", "code"), [(b, c) for _, b, c in XML_ATTACKS],
                         ids=[name for name, _, _ in XML_ATTACKS])
def test_hostile_or_malformed_xml_is_refused(
    api: httpx.Client, live: Live, new_id: str, body: bytes, code: str
) -> None:
    response = api.put(f"/{new_id}", content=body, headers=wire.XML_HEADERS)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == code
    assert _count(live, new_id) == 0


def test_an_oversized_body_is_refused(api: httpx.Client, live: Live, new_id: str) -> None:
    body = wire.abonnement(new_id, commentaireAbonnement="x" * 70_000)
    response = api.put(f"/{new_id}", content=body, headers=wire.XML_HEADERS)
    assert response.status_code == 413
    assert response.json()["code"] == "request.too_large"


@pytest.mark.parametrize(
    ("body", "code"),
    [(b"{not json", "request.json_invalid"), (b"[1, 2]", "request.json_invalid"),
     (b'{"idAbonnement": {"x": 1}}', "request.json_invalid")],
)
def test_bad_json_is_refused(
    api: httpx.Client, live: Live, new_id: str, body: bytes, code: str
) -> None:
    response = api.put(f"/{new_id}", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert _count(live, new_id) == 0


def test_json_follows_the_same_rules(api: httpx.Client, live: Live, new_id: str) -> None:
    response = api.put(f"/{new_id}", json=wire.fields(new_id, uaiEtab="0000000A"))
    assert response.status_code == 400
    assert response.json()["code"] == "subscription.uai_unknown"
    assert _count(live, new_id) == 0


def test_an_unsupported_method_is_a_problem_not_a_page(api: httpx.Client, new_id: str) -> None:
    response = api.patch(f"/{new_id}", content=b"{}")
    assert response.status_code == 405
    assert response.json()["code"] == "request.method_not_allowed"


def test_an_unknown_address_under_the_service_is_a_problem_not_a_page(api: httpx.Client) -> None:
    response = api.get("/etablissements/inconnu.xml")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "request.unknown_endpoint"


def test_a_subscription_to_a_non_diffusable_resource_is_refused_and_nothing_is_written(
    api: httpx.Client, live: Live, new_id: str
) -> None:
    from broker.models import Resource

    member = f"ark:/99999/non-diffusable-{new_id}"
    with live.sessions.begin() as session:
        template = session.get(Resource, wire.MATHS)
        assert template is not None
        session.add(Resource(id=member, provider_id=template.provider_id, title="Membre",
                             editor_id=template.editor_id, editor_name=template.editor_name,
                             access_url=f"{template.access_url}-{new_id}", protocol="saml",
                             delivery="assigned", distributable=False, family_id=wire.MATHS))
    body = wire.abonnement(new_id, idRessource=member)
    response = api.put(f"/{new_id}", content=body, headers=wire.XML_HEADERS)
    assert response.status_code == 400
    problem = response.json()
    assert problem["code"] == "subscription.resource_not_diffusable"
    assert wire.MATHS in problem["detail"]
    assert _count(live, new_id) == 0
