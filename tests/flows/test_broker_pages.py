"""The broker's own pages and metadata, and the choice between several identity providers."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import lxml.html
import pytest

from broker.bootstrap import trust_add
from services.keys import generate
from services.saml.metadata import idp_metadata, parse_metadata
from services.settings import Settings
from tests.flows.harness import error_code

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("path", ["/saml/idp/metadata", "/idp/metadata"])
async def test_idp_metadata_names_the_sso_endpoint_and_a_signing_certificate(
    browser: httpx.AsyncClient, testbed_settings: Settings, path: str
) -> None:
    answer = await browser.get(f"{testbed_settings.broker_base}{path}")
    assert answer.headers["content-type"].startswith("application/samlmetadata+xml")
    parsed = parse_metadata(answer.content)
    assert parsed.entity_id == f"{testbed_settings.broker_base}/saml/idp/metadata"
    assert parsed.idp is not None and parsed.idp.signing_certificates
    assert parsed.sso_url("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect") == (
        f"{testbed_settings.broker_base}/saml/idp/sso")


async def test_sp_metadata_names_the_assertion_consumer_service(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    answer = await browser.get(f"{testbed_settings.broker_base}/saml/sp/metadata")
    parsed = parse_metadata(answer.content)
    assert parsed.sp is not None
    assert parsed.acs_url() == f"{testbed_settings.broker_base}/saml/sp/acs"


async def test_home_page_lists_the_trusted_peers_and_the_catalogue(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    page = await browser.get(f"{testbed_settings.broker_base}/")
    assert page.status_code == 200
    document = lxml.html.fromstring(page.text)
    assert document.get("lang") == "fr"
    assert f"{testbed_settings.idp_base}/saml/metadata" in page.text
    assert f"{testbed_settings.provider_base}/saml/metadata" in page.text
    assert "ark:/99999/r10001" in page.text


def _second_idp(settings: Settings, tmp_path) -> str:
    entity_id = "https://ent-second.invalid/saml/metadata"
    path = tmp_path / "second-idp.xml"
    path.write_bytes(idp_metadata(entity_id=entity_id, sso_url="https://ent-second.invalid/sso",
                                  keypairs=[generate("second idp")]))
    trust_add(settings, str(path))
    return entity_id


async def test_with_several_identity_providers_the_person_chooses_one(
    browser: httpx.AsyncClient, testbed_settings: Settings, tmp_path
) -> None:
    second = _second_idp(testbed_settings, tmp_path)
    start = await browser.get(f"{testbed_settings.provider_base}/resource/manuel-maths-4e")
    chooser = await browser.get(start.headers["location"])
    assert chooser.status_code == 200
    links = lxml.html.fromstring(chooser.text).xpath("//main//a/@href")
    chosen = next(link for link in links if "ent-second" in link)
    answer = await browser.get(f"{testbed_settings.broker_base}{chosen}")
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith("https://ent-second.invalid/sso?")
    assert parse_qs(urlsplit(location).query)["SAMLRequest"]
    assert second in chooser.text


async def test_choosing_an_unregistered_identity_provider_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings, tmp_path
) -> None:
    _second_idp(testbed_settings, tmp_path)
    start = await browser.get(f"{testbed_settings.provider_base}/resource/manuel-maths-4e")
    chooser = await browser.get(start.headers["location"])
    link = lxml.html.fromstring(chooser.text).xpath("//main//a/@href")[0]
    state = parse_qs(urlsplit(link).query)["state"][0]
    answer = await browser.get(f"{testbed_settings.broker_base}/discovery",
                               params={"state": state, "idp": "https://evil.invalid/idp"})
    assert answer.status_code == 400
    assert error_code(answer) == "sso.unknown_identity_provider"


def test_registering_a_source_again_replaces_the_peer_it_described(
    testbed_settings: Settings, tmp_path
) -> None:
    from broker.bootstrap import trust_list

    path = tmp_path / "moving-idp.xml"
    for entity_id in ("https://old.invalid/idp", "https://new.invalid/idp"):
        path.write_bytes(idp_metadata(entity_id=entity_id, sso_url=f"{entity_id}/sso",
                                      keypairs=[generate("moving idp")]))
        trust_add(testbed_settings, str(path))
    registered = [entity for entity, _role, source in trust_list(testbed_settings)
                  if source == str(path)]
    assert registered == ["https://new.invalid/idp"]
