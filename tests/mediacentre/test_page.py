"""The mediacentre page (ENT simulator): tiles, server-side filters, French problems."""

from __future__ import annotations

import lxml.html

from services.dataset import COLLEGE_UAI, LYCEE_UAI
from tests.mediacentre.conftest import Api

PUPIL = "elv-000001"  # eleve.assigne
LEVEL_4E = "scolomfr-voc-022-num-021"
LEVEL_6E = "scolomfr-voc-022-num-018"
MATHS_SUBJECT = "scolomfr-voc-015-num-1412"


def _page(api: Api, **params: str) -> lxml.html.HtmlElement:
    response = api.client.get("/mediacentre", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    return lxml.html.fromstring(response.text)


def _tiles(page: lxml.html.HtmlElement) -> list[str]:
    return [str(t.get("data-resource-id")) for t in page.xpath('//li[@class="tile"]')]


def test_the_page_says_the_person_is_simulated_and_not_logged_in(api: Api) -> None:
    notice = _page(api).get_element_by_id("simulator-notice").text_content()
    assert "n'est pas" in notice and "connectée" in notice and "idUser" in notice


def test_the_test_personas_are_offered(api: Api) -> None:
    options = _page(api).xpath('//select[@id="idUser"]/option/@value')
    assert PUPIL in options and "ens-000004" in options


def test_a_persons_tiles_are_what_the_api_lists(api: Api) -> None:
    page = _page(api, idUser=PUPIL)
    listed = api.client.get(f"/ressources/ENT-TESTBED/{COLLEGE_UAI}/{PUPIL}",
                            headers=api.headers()).json()["listeRessources"]["ressource"]
    assert _tiles(page) == [item["idRessource"] for item in listed]
    links = page.xpath('//li[@class="tile"]/a/@href')
    assert links == [item["urlAccesRessource"] for item in listed]
    assert all(src.endswith(".svg") for src in page.xpath('//li[@class="tile"]//img/@src'))


def test_filtering_by_level_keeps_the_resources_of_that_level(api: Api) -> None:
    assert set(_tiles(_page(api, idUser=PUPIL, vu=PUPIL, niveau=LEVEL_6E))) == {
        "ark:/99999/r10002", "ark:/99999/r20001"}
    assert "ark:/99999/r20001" not in _tiles(_page(api, idUser=PUPIL, vu=PUPIL,
                                                   niveau=LEVEL_4E))


def test_filtering_by_subject_keeps_the_resources_of_that_subject(api: Api) -> None:
    assert _tiles(_page(api, idUser=PUPIL, vu=PUPIL, domaine=MATHS_SUBJECT)) == [
        "ark:/99999/r10001"]


def test_choosing_another_person_starts_from_their_first_establishment(api: Api) -> None:
    page = _page(api, idUser="elv-000003", vu=PUPIL, uai=COLLEGE_UAI, niveau=LEVEL_4E)
    assert page.xpath('//select[@id="uai"]/option[@selected]/@value') == [LYCEE_UAI]
    assert "ark:/99999/r10002" in _tiles(page)


def test_filter_options_are_the_levels_and_subjects_of_the_listed_resources(api: Api) -> None:
    page = _page(api, idUser=PUPIL, vu=PUPIL, niveau=LEVEL_4E)
    levels = page.xpath('//select[@id="niveau"]/option/text()')
    assert levels[0] == "Tous les niveaux" and "4e" in levels and "1re générale" not in levels
    assert page.xpath('//select[@id="niveau"]/option[@selected]/@value') == [LEVEL_4E]


def test_another_establishment_of_the_person_is_chosen_by_uai(api: Api) -> None:
    page = _page(api, idUser="ens-000004", vu="ens-000004", uai=LYCEE_UAI)
    assert set(_tiles(page)) == {"ark:/99999/r10002", "ark:/99999/r10003", "ark:/99999/r10006"}


def test_an_unknown_person_is_told_in_french(api: Api) -> None:
    page = _page(api, autreIdUser="personne-inconnue")
    assert "Aucune personne" in page.get_element_by_id("problem").text_content()
    assert _tiles(page) == []


def test_an_establishment_that_is_not_the_persons_is_told_in_french(api: Api) -> None:
    page = _page(api, idUser=PUPIL, vu=PUPIL, uai=LYCEE_UAI)
    assert "pas rattachée" in page.get_element_by_id("problem").text_content()
    assert _tiles(page) == []


def test_markup_in_a_parameter_is_shown_as_text(api: Api) -> None:
    response = api.client.get("/mediacentre", params={"autreIdUser": "<b>x</b>"})
    assert "<b>x</b>" not in response.text and "&lt;b&gt;x&lt;/b&gt;" in response.text


def test_an_unknown_thumbnail_is_a_404_page(api: Api) -> None:
    assert api.client.get("/vignettes/inconnue.svg").status_code == 404


def test_a_resource_without_thumbnail_gets_the_generic_one(api: Api) -> None:
    response = api.client.get("/vignettes/ressource.svg")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
