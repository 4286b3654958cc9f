"""Create, update, delete a subscription; the establishments list; the assignment counts."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
from sqlalchemy import select

from broker.models import Subscription
from tests.subscriptions import wire
from tests.subscriptions.conftest import COLLEGE, LYCEE, NS, OWN, SEEDED_MATHS, Client, Live

ETAB_NS = "http://www.atosworldline.com/listEtablissement/v1.0/"


def _create(api: httpx.Client, subscription_id: str, **overrides: wire.Value) -> httpx.Response:
    return api.put(
        f"/{subscription_id}",
        content=wire.abonnement(subscription_id, **overrides),
        headers=wire.XML_HEADERS,
    )


def _stored(live: Live, subscription_id: str) -> Subscription | None:
    with live.sessions() as session:
        return session.get(Subscription, subscription_id)


def test_put_creates_a_subscription_and_answers_201_with_it(
    api: httpx.Client, live: Live, new_id: str
) -> None:
    response = _create(api, new_id)
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/xml")
    root = wire.read(response.content)
    assert root.tag == f"{{{NS}}}abonnement"
    assert wire.value(root, "idAbonnement") == [new_id]
    assert wire.value(root, "publicCible") == ["ELEVE", "ENSEIGNANT"]
    assert wire.value(root, "nbLicenceEleve") == ["25"]
    row = _stored(live, new_id)
    assert row is not None
    assert (row.uai, row.distributor_id, row.type, row.licences_student) == (
        COLLEGE, OWN, "INDIV", 25)


def test_put_on_an_existing_id_answers_409_existe_deja(api: httpx.Client, new_id: str) -> None:
    assert _create(api, new_id).status_code == 201
    response = _create(api, new_id, nbLicenceEleve="99")
    assert response.status_code == 409
    assert response.json()["code"] == "subscription.exists"
    assert "existe deja" in response.json()["detail"]


def test_concurrent_creations_of_one_id_make_exactly_one_subscription(
    client_for: Client, live: Live, new_id: str
) -> None:
    def attempt(_: int) -> int:
        with httpx.Client(
            base_url=live.base, headers={"Authorization": f"Bearer {live.tokens['own']}"}
        ) as client:
            return _create(client, new_id).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(attempt, range(6)))
    assert statuses == [201, 409, 409, 409, 409, 409]


def test_post_updates_a_subscription(api: httpx.Client, live: Live, new_id: str) -> None:
    _create(api, new_id)
    body = wire.abonnement(new_id, uaiEtab=None, nbLicenceEleve="40", commentaireAbonnement="Plus")
    response = api.post(f"/{new_id}", content=body, headers=wire.XML_HEADERS)
    assert response.status_code == 200, response.text
    assert wire.value(wire.read(response.content), "nbLicenceEleve") == ["40"]
    row = _stored(live, new_id)
    assert row is not None and row.licences_student == 40 and row.comment == "Plus"
    assert row.updated_at >= row.created_at


def test_post_carrying_uaietab_is_refused_and_changes_nothing(
    api: httpx.Client, live: Live, new_id: str
) -> None:
    _create(api, new_id)
    body = wire.abonnement(new_id, uaiEtab=LYCEE, nbLicenceEleve="40")
    response = api.post(f"/{new_id}", content=body, headers=wire.XML_HEADERS)
    assert response.status_code == 400
    assert response.json()["code"] == "subscription.uai_immutable"
    row = _stored(live, new_id)
    assert row is not None and row.uai == COLLEGE and row.licences_student == 25


def test_post_on_an_unknown_id_answers_404(api: httpx.Client, new_id: str) -> None:
    body = wire.abonnement(new_id, uaiEtab=None)
    response = api.post(f"/{new_id}", content=body, headers=wire.XML_HEADERS)
    assert response.status_code == 404
    assert response.json()["code"] == "subscription.not_found"


def test_delete_answers_204_and_keeps_the_id_with_a_leading_underscore(
    api: httpx.Client, live: Live, new_id: str
) -> None:
    _create(api, new_id)
    assert api.delete(f"/{new_id}").status_code == 204
    assert _stored(live, new_id) is None
    kept = _stored(live, f"_{new_id}")
    assert kept is not None and kept.deleted
    assert api.delete(f"/{new_id}").status_code == 404


def test_a_deleted_id_can_be_created_again_and_deleted_again(
    api: httpx.Client, live: Live, new_id: str
) -> None:
    _create(api, new_id)
    api.delete(f"/{new_id}")
    assert _create(api, new_id).status_code == 201
    assert api.delete(f"/{new_id}").status_code == 204
    with live.sessions() as session:
        kept = session.scalars(
            select(Subscription.id).where(Subscription.id.like(f"\\_{new_id}%", escape="\\"))
        ).all()
    assert sorted(kept) == [f"_{new_id}", f"_{new_id}_2"]


def test_a_deleted_subscription_can_no_longer_be_updated(api: httpx.Client, new_id: str) -> None:
    _create(api, new_id)
    api.delete(f"/{new_id}")
    body = wire.abonnement(new_id, uaiEtab=None)
    assert api.post(f"/{new_id}", content=body, headers=wire.XML_HEADERS).status_code == 404


def test_json_is_accepted_with_the_same_field_names(
    api: httpx.Client, live: Live, new_id: str
) -> None:
    body = wire.fields(new_id)
    response = api.put(f"/{new_id}", json=body)
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["publicCible"] == ["ELEVE", "ENSEIGNANT"]
    update = wire.fields(new_id, uaiEtab=None, nbLicenceEleve="26")
    response = api.post(f"/{new_id}", content=json.dumps(update),
                        headers={"Content-Type": "application/json"})
    assert response.status_code == 200 and response.json()["nbLicenceEleve"] == "26"


def test_a_school_year_end_is_accepted_instead_of_an_end_date(
    api: httpx.Client, live: Live, new_id: str
) -> None:
    year = wire.school_year()
    response = _create(api, new_id, finValidite=None, anneeFinValidite=f"{year + 1}-{year + 2}")
    assert response.status_code == 201, response.text
    row = _stored(live, new_id)
    assert row is not None and row.end_at == datetime(year + 2, 8, 31, 23, 59, 59, tzinfo=UTC)


def test_an_etabl_subscription_with_unlimited_licences_is_created(
    api: httpx.Client, live: Live, new_id: str
) -> None:
    response = _create(api, new_id, typeAffectation="ETABL", nbLicenceEleve=None,
                       nbLicenceEnseignant=None, nbLicenceGlobale="ILLIMITE")
    assert response.status_code == 201, response.text
    assert wire.value(wire.read(response.content), "nbLicenceGlobale") == ["ILLIMITE"]
    row = _stored(live, new_id)
    assert row is not None and row.licences_unlimited and row.licences_global is None


def test_the_establishments_list_uses_the_listetablissement_format(api: httpx.Client) -> None:
    response = api.get("/etablissements/etablissements.xml")
    assert response.status_code == 200
    root = wire.read(response.content)
    assert root.tag == f"{{{ETAB_NS}}}listEtablissement"
    college = next(
        e for e in root.iter(f"{{{ETAB_NS}}}etablissement")
        if e.findtext(f"{{{ETAB_NS}}}uai") == COLLEGE
    )
    assert college.findtext(f"{{{ETAB_NS}}}type_uai") == "CLG"
    assert college.findtext(f"{{{ETAB_NS}}}departement_insee_3") == COLLEGE[:3]
    id_ent = college.findtext(f"{{{ETAB_NS}}}idENT")
    assert id_ent is not None and base64.b64decode(id_ent)


def test_the_assignment_count_is_the_documented_csv(api: httpx.Client) -> None:
    response = api.get("/decompteaffectations", params={"idAbonnement": SEEDED_MATHS})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    header, row, *rest = response.text.splitlines()
    assert header == (
        "UAI;idAbonnement;codeProjetRessource;idRessource;cumulAffectationEleve;"
        "cumulAffectationEnseignant;cumulAffectationDocumentaliste;"
        "cumulAffectationAutrePersonnel"
    )
    uai, sub_id, project, resource, students, teachers, librarians, others = row.split(";")
    assert (uai, sub_id, project, resource) == (
        COLLEGE, SEEDED_MATHS, "PRJ-MANUEL-MATHS-4E", "ark:/99999/r10001")
    assert int(students) > 0 and int(teachers) == 1 and (librarians, others) == ("0", "0")
    assert rest == []


def test_the_assignment_count_by_project_code_lists_each_subscription(
    api: httpx.Client, new_id: str
) -> None:
    _create(api, new_id, codeProjetRessource=f"PRJ-{new_id}")
    response = api.get("/decompteaffectations", params={"codeProjetRessource": f"PRJ-{new_id}"})
    assert response.status_code == 200
    assert response.text.splitlines()[1] == (
        f"{COLLEGE};{new_id};PRJ-{new_id};ark:/99999/r10001;0;0;0;0"
    )


def test_the_assignment_count_needs_exactly_one_parameter(api: httpx.Client) -> None:
    for params in ({}, {"idAbonnement": SEEDED_MATHS, "codeProjetRessource": "PRJ"}):
        response = api.get("/decompteaffectations", params=params)
        assert response.status_code == 400
        assert response.json()["code"] == "count.parameter"
