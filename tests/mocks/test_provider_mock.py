"""The resource provider mock: a careful SAML service provider, driven by a stand-in broker."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from provider_mock.app import acs_url, create_app, entity_id, metadata_xml
from services import dataset as dataset_module
from services.keys import KeyPair, generate, load_or_create
from services.saml import bindings, build, metadata, signing, xml
from services.saml.constants import BINDING_POST, NAMEID_TRANSIENT
from services.saml.validate import validate_authn_request
from services.settings import Settings
from tests.mocks.conftest import FakeBroker, asgi_client, b64, error_code

pytestmark = pytest.mark.anyio


@pytest.fixture
async def provider(settings: Settings, peer_http: httpx.AsyncClient):
    app = create_app(settings, http=peer_http)
    async with asgi_client(app, settings.provider_base) as client:
        yield client


@pytest.fixture
def resources(settings: Settings) -> list[dataset_module.Resource]:
    data = dataset_module.build(provider_base=settings.provider_base)
    mine = {p.id for p in data.providers if p.entity_id == entity_id(settings)}
    found = [r for r in data.resources if r.provider_id in mine]
    assert found, "the dataset should give the provider mock some resources"
    return found


@pytest.fixture
def resource(resources: list[dataset_module.Resource]) -> dataset_module.Resource:
    return resources[0]


ATTRIBUTES = {"IDO": ["a" * 128], "UAI": ["0359901X"], "PRO": ["National_elv"]}


def signed_response(settings: Settings, broker: FakeBroker, *, in_response_to: str | None,
                    keypair: KeyPair | None = None, audience: str | None = None,
                    sign_assertion: bool = True, sign_response: bool = True,
                    now: datetime | None = None, assertion_id: str | None = None) -> str:
    """A Response as the broker would send it (both parts signed), base64 for the form."""
    key = keypair or broker.keypair
    assertion = build.assertion(
        issuer=broker.idp_entity_id, name_id=build.new_id(), name_id_format=NAMEID_TRANSIENT,
        audience=audience or entity_id(settings), recipient=acs_url(settings),
        in_response_to=in_response_to, attributes=ATTRIBUTES, session_index=build.new_id(),
        now=now, assertion_id=assertion_id,
    )
    if sign_assertion:
        assertion = signing.sign(assertion, key)
    response = build.response(issuer=broker.idp_entity_id, destination=acs_url(settings),
                              in_response_to=in_response_to, assertion=assertion, now=now)
    if sign_response:
        response = signing.sign(response, key)
    return b64(xml.to_bytes(response))


async def start(provider: httpx.AsyncClient, settings: Settings,
                resource: dataset_module.Resource) -> str:
    """Open the resource; return the request id the provider sent to the broker."""
    answer = await provider.get(f"/resource/{resource.slug}")
    assert answer.status_code in (302, 303), answer.text
    query = urlsplit(answer.headers["location"]).query
    root = bindings.decode_redirect(query, kind="SAMLRequest", max_bytes=10**6,
                                    certificates=[provider_certificate(settings)]).xml
    return root.get("ID")


def provider_certificate(settings: Settings):
    return load_or_create(settings.keys_dir, "provider").certificate


def verdict(page: str) -> str | None:
    found = re.search(r'id="verdict" data-result="([^"]*)"', page)
    return found.group(1) if found else None


def attribute_rows(page: str) -> dict[str, list[str]]:
    table = page.split('id="attributes"', 1)[1].split("</table>", 1)[0]
    rows: dict[str, list[str]] = {}
    for code, body in re.findall(r'<tr data-code="([^"]*)">(.*?)</tr>', table, re.S):
        rows[html.unescape(code)] = [html.unescape(v)
                                     for v in re.findall(r'data-value="([^"]*)"', body)]
    return rows


async def test_metadata_is_sp_metadata_requesting_its_resources_attributes(
        provider, settings, resources):
    answer = await provider.get("/saml/metadata")
    assert answer.headers["content-type"].startswith("application/samlmetadata+xml")
    parsed = metadata.parse_metadata(answer.content)
    assert parsed.entity_id == entity_id(settings)
    assert parsed.sp is not None
    assert parsed.sp.authn_requests_signed
    assert parsed.acs_url(BINDING_POST) == acs_url(settings)
    declared = {a.code for r in resources for a in r.attributes}
    assert set(parsed.sp.requested_attributes) == declared
    assert load_or_create(settings.keys_dir, "provider").certificate \
        in parsed.sp.signing_certificates


async def test_metadata_xml_is_what_the_endpoint_serves(provider, settings):
    assert (await provider.get("/saml/metadata")).content == metadata_xml(settings)


async def test_home_page_links_every_resource(provider, resources):
    page = await provider.get("/")
    assert page.status_code == 200
    for resource in resources:
        assert f'href="{resource.access_url}"' in page.text


async def test_opening_a_resource_redirects_with_a_signed_request_and_its_url(
        provider, settings, broker, resource):
    answer = await provider.get(f"/resource/{resource.slug}")
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith(broker.idp_sso + "?")
    query = urlsplit(location).query
    assert {"SAMLRequest", "RelayState", "SigAlg", "Signature"} <= set(parse_qs(query))
    provider_cert = load_or_create(settings.keys_dir, "provider").certificate
    message = bindings.decode_redirect(query, kind="SAMLRequest", max_bytes=10**6,
                                       certificates=[provider_cert], require_signature=True)
    assert message.signature_verified
    assert message.relay_state == resource.access_url
    info = validate_authn_request(message.xml, destination=broker.idp_sso)
    assert info.issuer == entity_id(settings)
    assert info.acs_url in (None, acs_url(settings))


async def test_unknown_resource_is_a_french_404(provider):
    page = await provider.get("/resource/nope")
    assert page.status_code == 404
    assert error_code(page.text) == "provider.unknown_resource"


async def test_good_response_shows_every_attribute_and_the_checks(
        provider, settings, broker, resource):
    request_id = await start(provider, settings, resource)
    page = await provider.post("/saml/acs", data={
        "SAMLResponse": signed_response(settings, broker, in_response_to=request_id),
        "RelayState": resource.access_url})
    assert page.status_code == 200, page.text
    assert verdict(page.text) == "ok"
    assert attribute_rows(page.text) == ATTRIBUTES
    assert "Identifiant opaque" in page.text
    assert broker.idp_entity_id in page.text
    assert entity_id(settings) in page.text
    assert "Signature vérifiée" in page.text
    assert 'data-part="assertion"' in page.text and 'data-part="response"' in page.text
    assert resource.title in page.text


async def test_unsolicited_response_is_accepted(provider, settings, broker, resource):
    page = await provider.post("/saml/acs", data={
        "SAMLResponse": signed_response(settings, broker, in_response_to=None),
        "RelayState": resource.access_url})
    assert page.status_code == 200, page.text
    assert verdict(page.text) == "ok"


async def refused(page: httpx.Response) -> str:
    assert page.status_code in (400, 502), page.text
    assert verdict(page.text) == "refused"
    assert "Identifiant opaque" not in page.text
    code = error_code(page.text)
    assert code
    return code


async def test_unsigned_response_is_refused(provider, settings, broker, resource):
    request_id = await start(provider, settings, resource)
    page = await provider.post("/saml/acs", data={
        "SAMLResponse": signed_response(settings, broker, in_response_to=request_id,
                                        sign_assertion=False, sign_response=False),
        "RelayState": resource.access_url})
    assert (await refused(page)).startswith("saml.signature")


async def test_signed_response_around_an_unsigned_assertion_is_refused(
        provider, settings, broker, resource):
    request_id = await start(provider, settings, resource)
    page = await provider.post("/saml/acs", data={
        "SAMLResponse": signed_response(settings, broker, in_response_to=request_id,
                                        sign_assertion=False, sign_response=True),
        "RelayState": resource.access_url})
    assert await refused(page) == "provider.assertion.unsigned"


async def test_response_signed_with_another_key_is_refused(provider, settings, broker, resource):
    request_id = await start(provider, settings, resource)
    page = await provider.post("/saml/acs", data={
        "SAMLResponse": signed_response(settings, broker, in_response_to=request_id,
                                        keypair=generate("impostor")),
        "RelayState": resource.access_url})
    assert (await refused(page)).startswith("saml.signature")


async def test_assertion_for_another_audience_is_refused(provider, settings, broker, resource):
    request_id = await start(provider, settings, resource)
    page = await provider.post("/saml/acs", data={
        "SAMLResponse": signed_response(settings, broker, in_response_to=request_id,
                                        audience="https://autre-editeur.example/metadata"),
        "RelayState": resource.access_url})
    assert "audience" in await refused(page)


async def test_expired_assertion_is_refused(provider, settings, broker, resource):
    page = await provider.post("/saml/acs", data={
        "SAMLResponse": signed_response(settings, broker, in_response_to=None,
                                        now=datetime.now(UTC) - timedelta(hours=1)),
        "RelayState": resource.access_url})
    await refused(page)


async def test_replayed_assertion_is_refused(provider, settings, broker, resource):
    form = {"SAMLResponse": signed_response(settings, broker, in_response_to=None),
            "RelayState": resource.access_url}
    first = await provider.post("/saml/acs", data=form)
    assert verdict(first.text) == "ok"
    second = await provider.post("/saml/acs", data=form)
    assert await refused(second) == "provider.assertion.replayed"


async def test_answered_request_cannot_be_answered_again(provider, settings, broker, resource):
    request_id = await start(provider, settings, resource)
    first = await provider.post("/saml/acs", data={
        "SAMLResponse": signed_response(settings, broker, in_response_to=request_id),
        "RelayState": resource.access_url})
    assert verdict(first.text) == "ok"
    second = await provider.post("/saml/acs", data={
        "SAMLResponse": signed_response(settings, broker, in_response_to=request_id),
        "RelayState": resource.access_url})
    assert await refused(second) == "provider.in_response_to.unknown"


async def test_unknown_relay_state_is_refused(provider, settings, broker):
    page = await provider.post("/saml/acs", data={
        "SAMLResponse": signed_response(settings, broker, in_response_to=None),
        "RelayState": "https://ailleurs.example/ressource"})
    assert await refused(page) == "provider.relay_state.unknown"


async def test_missing_relay_state_is_refused(provider, settings, broker):
    page = await provider.post("/saml/acs", data={
        "SAMLResponse": signed_response(settings, broker, in_response_to=None)})
    assert await refused(page) == "provider.relay_state.unknown"


async def test_relay_state_of_another_resource_than_requested_is_refused(
        provider, settings, broker, resources):
    if len(resources) < 2:
        pytest.skip("needs two resources")
    request_id = await start(provider, settings, resources[0])
    page = await provider.post("/saml/acs", data={
        "SAMLResponse": signed_response(settings, broker, in_response_to=request_id),
        "RelayState": resources[1].access_url})
    assert await refused(page) == "provider.relay_state.mismatch"


async def test_response_to_a_request_never_sent_is_refused(provider, settings, broker, resource):
    page = await provider.post("/saml/acs", data={
        "SAMLResponse": signed_response(settings, broker, in_response_to="_jamais-envoyee"),
        "RelayState": resource.access_url})
    assert await refused(page) == "provider.in_response_to.unknown"


async def test_missing_saml_response_is_refused(provider, resource):
    page = await provider.post("/saml/acs", data={"RelayState": resource.access_url})
    assert await refused(page) == "saml.binding.invalid"


async def test_oversized_saml_response_is_refused(provider, settings, resource):
    huge = "A" * (2 * settings.max_xml_bytes + 4)
    page = await provider.post("/saml/acs", data={"SAMLResponse": huge,
                                                  "RelayState": resource.access_url})
    assert await refused(page) == "provider.response.too_large"


async def test_dtd_in_saml_response_is_refused(provider, resource):
    evil = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "boom">]><r>&x;</r>'
    page = await provider.post("/saml/acs", data={"SAMLResponse": b64(evil),
                                                  "RelayState": resource.access_url})
    assert (await refused(page)).startswith("saml.")
    assert "boom" not in page.text


async def test_unreachable_broker_metadata_is_reported(settings, broker, resource):
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    async with httpx.AsyncClient(transport=httpx.MockTransport(down)) as http, \
            asgi_client(create_app(settings, http=http), settings.provider_base) as provider:
        page = await provider.get(f"/resource/{resource.slug}")
    assert page.status_code == 502
    assert error_code(page.text) == "peer.unreachable"


async def test_broker_metadata_is_fetched_once_for_many_requests(
        provider, broker, resource):
    for _ in range(3):
        await provider.get(f"/resource/{resource.slug}")
    assert broker.fetches.count(broker.idp_entity_id) == 1
