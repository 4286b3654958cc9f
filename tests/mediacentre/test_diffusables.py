"""GET /ressourcesDiffusables: the catalogue as the GAR's "ressources diffusables" XML."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree

import broker
from services.dataset import EXEMPLE_DISTRIBUTOR, MOCK_DISTRIBUTOR
from services.saml.xml import parse
from tests.mediacentre.conftest import Api

NS = "http://gar.education.fr/schemas/init/0/1/"
SCHEMA = Path(broker.__file__).parent / "ressources_diffusables.xsd"
ITEM_ORDER = ["idRessource", "nomRessource", "idEditeur", "nomEditeur", "distributeursCom",
              "distributeurTech", "nomDistributeurTech", "affichable", "diffusable"]
ALL = {"ark:/99999/r10001", "ark:/99999/r10002", "ark:/99999/r10003", "ark:/99999/r10004",
       "ark:/99999/r10005", "ark:/99999/r10006", "ark:/99999/r20001"}  # r10006: the CAS one


def _document(api: Api, who: str) -> etree._Element:
    response = api.client.get("/ressourcesDiffusables", headers=api.headers(who))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/xml; charset=utf-8"
    return parse(response.content, max_bytes=1_000_000)


def _ids(root: etree._Element) -> set[str]:
    return {str(v) for v in root.xpath("g:ressourceDiffusable/g:idRessource/text()",
                                       namespaces={"g": NS})}


def test_the_list_parses_and_validates_against_the_shipped_schema(api: Api) -> None:
    root = _document(api, "ent")
    schema = etree.XMLSchema(etree.parse(str(SCHEMA)))
    assert schema.validate(root), schema.error_log


def test_the_root_and_every_element_are_in_the_gar_namespace(api: Api) -> None:
    root = _document(api, "ent")
    assert root.tag == f"{{{NS}}}listeRessourcesDiffusables"
    assert all(etree.QName(e).namespace == NS for e in root.iter())
    date = root.findtext(f"{{{NS}}}dateGeneration")
    assert date is not None and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", date)


def test_each_item_lists_its_fields_in_the_gar_order(api: Api) -> None:
    for item in _document(api, "ent").iter(f"{{{NS}}}ressourceDiffusable"):
        names = [etree.QName(child).localname for child in item]
        assert names == ITEM_ORDER, names
        seller = item.find(f"{{{NS}}}distributeursCom")
        assert seller is not None
        assert [etree.QName(c).localname for c in seller] == ["distributeurCom",
                                                             "nomDistributeurCom"]
        assert item.findtext(f"{{{NS}}}affichable") == "true"


def test_an_ent_reads_the_whole_catalogue(api: Api) -> None:
    assert _ids(_document(api, "ent")) == ALL


def test_a_distributor_reads_only_what_it_distributes(api: Api) -> None:
    assert _ids(_document(api, "other_distributor")) == {"ark:/99999/r20001"}
    own = _document(api, "distributor")
    assert _ids(own) == ALL - {"ark:/99999/r20001"}
    assert set(own.xpath("//g:distributeurTech/text()", namespaces={"g": NS})) == {
        MOCK_DISTRIBUTOR}
    assert EXEMPLE_DISTRIBUTOR not in etree.tostring(own).decode()


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer inconnu"}])
def test_without_a_valid_client_the_list_is_refused(api: Api, headers: dict[str, str]) -> None:
    response = api.client.get("/ressourcesDiffusables", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


def test_the_schema_refuses_a_resource_listed_twice(api: Api) -> None:
    root = _document(api, "ent")
    first = root.find(f"{{{NS}}}ressourceDiffusable")
    assert first is not None
    root.append(etree.fromstring(etree.tostring(first)))
    assert not etree.XMLSchema(etree.parse(str(SCHEMA))).validate(root)


def test_characters_xml_cannot_carry_are_left_out_of_a_title() -> None:
    from datetime import UTC, datetime

    from broker.diffusables import Diffusable, to_xml

    item = Diffusable("ark:/1/x", "Titre\x00\x1b avec\ufffe contrôle", "1", "Éditeur",
                      ((MOCK_DISTRIBUTOR, "D"),), (MOCK_DISTRIBUTOR, "D"))
    root = parse(to_xml([item], generated_at=datetime.now(UTC)), max_bytes=10_000)
    assert root.findtext(f"{{{NS}}}ressourceDiffusable/{{{NS}}}nomRessource") == (
        "Titre avec contrôle")
