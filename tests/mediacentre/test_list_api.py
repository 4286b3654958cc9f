"""GET /ressources/{idENT}/{UAI}/{idUser}: the GAR's listeRessources JSON, exactly.

What a real ENT connector reads (GAR_REFERENCE §2): field names and types, ScoLOMFR term
lists, the domaineGar access URL, gzip when asked, the Erreur body on every error.
"""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from services.dataset import COLLEGE_UAI, ENT_ID, LYCEE_UAI
from tests.mediacentre.conftest import BROKER_BASE, OTHER_ENT, OTHER_ENT_UAI, Api

PUPIL = "elv-000001"  # eleve.assigne, 4e A at the college
MATHS = "ark:/99999/r10001"
FIELDS = [
    "idRessource", "idType", "nomRessource", "idEditeur", "nomEditeur", "urlVignette",
    "typePresentation", "typePedagogique", "typologieDocument", "niveauEducatif",
    "domaineEnseignement", "urlAccesRessource", "nomSourceEtiquetteGar", "distributeurTech",
    "validateurTech",
]
TERM_LISTS = ("typePedagogique", "typologieDocument", "niveauEducatif", "domaineEnseignement")
SCOLOMFR = "http://data.education.fr/voc/scolomfr/concept/"


def _path(uai: str = COLLEGE_UAI, user: str = PUPIL, ent: str = ENT_ID) -> str:
    return f"/ressources/{ent}/{uai}/{user}"


def _listed(api: Api, path: str | None = None) -> list[dict[str, Any]]:
    response = api.client.get(path or _path(), headers=api.headers(Accept="application/json"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["listeRessources"] and list(body["listeRessources"]) == ["ressource"]
    items: list[dict[str, Any]] = body["listeRessources"]["ressource"]
    return items


def _maths(items: list[dict[str, Any]]) -> dict[str, Any]:
    return next(item for item in items if item["idRessource"] == MATHS)


def test_each_resource_carries_exactly_the_gar_fields_in_the_gar_order(api: Api) -> None:
    for item in _listed(api):
        assert list(item) == FIELDS


def test_scalar_fields_are_strings_and_the_id_type_is_ark(api: Api) -> None:
    item = _maths(_listed(api))
    for name in FIELDS:
        if name not in (*TERM_LISTS, "typePresentation"):
            assert isinstance(item[name], str) and item[name], name
    assert item["idType"] == "ARK"
    assert item["nomRessource"] == "Mathématiques 4e — manuel numérique"
    assert item["idEditeur"] == item["distributeurTech"] == item["validateurTech"]
    assert item["nomSourceEtiquetteGar"] == (
        "Accessible via le Gestionnaire d’accès aux ressources (GAR)")


def test_presentation_type_is_a_code_and_a_name(api: Api) -> None:
    assert _maths(_listed(api))["typePresentation"] == {"code": "MAN",
                                                        "nom": "manuels numériques"}


def test_term_lists_are_scolomfr_uri_and_name_pairs(api: Api) -> None:
    item = _maths(_listed(api))
    for name in TERM_LISTS:
        assert item[name], name
        for term in item[name]:
            assert list(term) == ["uri", "nom"]
            assert term["uri"].startswith(SCOLOMFR) and term["nom"]
    assert item["niveauEducatif"] == [
        {"uri": f"{SCOLOMFR}scolomfr-voc-022-num-021", "nom": "4e"}]
    assert [t["uri"].rsplit("-", 2)[0] for t in item["domaineEnseignement"]] == [
        f"{SCOLOMFR}scolomfr-voc-015"]


def test_the_access_url_is_the_broker_domaine_gar_entry_with_base64_values(api: Api) -> None:
    url = urlsplit(_maths(_listed(api))["urlAccesRessource"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{BROKER_BASE}/domaineGar"
    query = parse_qs(url.query)
    decoded = {k: base64.b64decode(v[0]).decode() for k, v in query.items()}
    assert decoded == {"idENT": ENT_ID, "idEtab": COLLEGE_UAI, "idSrc": MATHS}


def test_the_thumbnail_is_served_by_the_broker_as_svg(api: Api) -> None:
    url = _maths(_listed(api))["urlVignette"]
    assert url.startswith(f"{BROKER_BASE}/vignettes/")
    image = api.client.get(url)
    assert image.status_code == 200
    assert image.headers["content-type"].startswith("image/svg+xml")
    assert image.text.startswith("<svg") and "<script" not in image.text


def test_the_english_spelling_of_the_path_answers_the_same(api: Api) -> None:
    assert _listed(api, f"/resources/{ENT_ID}/{COLLEGE_UAI}/{PUPIL}") == _listed(api)


def test_the_answer_is_gzip_when_the_client_accepts_it(api: Api) -> None:
    headers = api.headers(**{"Accept-Encoding": "gzip, deflate"})
    with api.client.stream("GET", _path(), headers=headers) as response:
        raw = b"".join(response.iter_raw())
    assert response.headers["content-encoding"] == "gzip"
    assert raw[:2] == b"\x1f\x8b"
    assert json.loads(gzip.decompress(raw))["listeRessources"]["ressource"] == _listed(api)


@pytest.mark.parametrize("accepted", ["identity", "gzip;q=0, identity", "br"])
def test_the_answer_is_plain_json_when_gzip_is_not_accepted(api: Api, accepted: str) -> None:
    headers = api.headers(**{"Accept-Encoding": accepted})
    with api.client.stream("GET", _path(), headers=headers) as response:
        raw = b"".join(response.iter_raw())
    assert "content-encoding" not in response.headers
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert json.loads(raw)["listeRessources"]["ressource"]


def test_a_person_sees_only_what_they_may_open_in_that_establishment(api: Api) -> None:
    ids = {item["idRessource"] for item in _listed(api)}
    assert ids == {MATHS, "ark:/99999/r10002", "ark:/99999/r10003", "ark:/99999/r20001",
                   "ark:/99999/r10006"}  # r10006: the CAS publisher, establishment-wide
    unassigned = {item["idRessource"] for item in _listed(api, _path(user="elv-000002"))}
    assert unassigned == ids - {MATHS}


def test_a_teacher_gets_one_list_per_establishment(api: Api) -> None:
    college = {i["idRessource"] for i in _listed(api, _path(user="ens-000004"))}
    lycee = _listed(api, _path(uai=LYCEE_UAI, user="ens-000004"))
    assert "ark:/99999/r10005" in college and MATHS in college
    assert {i["idRessource"] for i in lycee} == {"ark:/99999/r10002", "ark:/99999/r10003",
                                                 "ark:/99999/r10006"}
    assert all(base64.b64decode(parse_qs(urlsplit(i["urlAccesRessource"]).query)["idEtab"][0])
               == LYCEE_UAI.encode() for i in lycee)


# --- errors: the GAR's Erreur body, HTTP 400 ------------------------------------------------


def _error(api: Api, path: str, who: str = "ent") -> tuple[int, dict[str, Any], str]:
    response = api.client.get(path, headers=api.headers(who, **{"Accept-Encoding": "gzip"}))
    assert "content-encoding" not in response.headers  # errors are never compressed
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    return response.status_code, response.json(), response.headers.get("x-error-code", "")


@pytest.mark.parametrize(("uai", "user", "message", "code"), [
    ("0000000A", PUPIL, "Établissement non trouvé", "mediacentre.unknown_establishment"),
    (COLLEGE_UAI, "elv-999999", "Utilisateur non trouvé", "mediacentre.unknown_person"),
    (LYCEE_UAI, PUPIL, "Utilisateur non rattaché à cet établissement",
     "mediacentre.person_not_in_establishment"),
    (OTHER_ENT_UAI, PUPIL, "Établissement non rattaché à cet ENT",
     "mediacentre.establishment_of_another_ent"),
])
def test_each_error_is_the_gar_erreur_body_with_http_400(
    api: Api, uai: str, user: str, message: str, code: str
) -> None:
    path = _path(uai=uai, user=user)
    status, body, stable = _error(api, path)
    assert status == 400
    assert body == {"Erreur": {"Code": "Bad Request", "Message": message,
                               "Resource": path.lstrip("/")}}
    assert stable == code


def test_another_ents_person_is_unknown_to_this_ent(api: Api) -> None:
    status, body, stable = _error(api, _path(ent=OTHER_ENT), who="other_ent")
    assert status == 400 and stable == "mediacentre.establishment_of_another_ent"
    status, body, stable = _error(api, _path(uai=OTHER_ENT_UAI, ent=OTHER_ENT), "other_ent")
    assert (status, body["Erreur"]["Message"]) == (400, "Utilisateur non trouvé")


def test_an_oversized_identifier_is_refused_with_the_erreur_body(api: Api) -> None:
    status, body, stable = _error(api, _path(user="x" * 65))
    assert status == 400 and stable == "mediacentre.bad_path"
    assert body["Erreur"]["Code"] == "Bad Request"


# --- who may ask ----------------------------------------------------------------------------


def test_without_credentials_the_answer_is_a_401_problem(api: Api) -> None:
    response = api.client.get(_path(), headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "auth.required"


def test_another_ents_token_is_refused_for_this_ent(api: Api) -> None:
    status, body, stable = _error(api, _path(), who="other_ent")
    assert status == 403 and stable == "mediacentre.other_ent"
    assert body["Erreur"]["Code"] == "Forbidden"
    assert "listeRessources" not in body


def test_a_distributors_token_opens_no_mediacentre_list(api: Api) -> None:
    response = api.client.get(_path(), headers=api.headers("distributor"))
    assert response.status_code == 401
    assert response.json()["code"] == "auth.invalid"
