"""The EduConnect-like identity provider mock, driven as the broker would drive it."""

from __future__ import annotations

import base64
import zlib
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import httpx
import pytest

from idp_mock.app import create_app, entity_id, metadata_xml, sso_url
from services import dataset as dataset_module
from services.keys import generate, load_or_create
from services.saml import bindings, build, metadata
from services.saml.constants import BINDING_POST, BINDING_REDIRECT
from services.saml.validate import ValidatedAssertion, validate_response
from services.settings import Settings
from tests.mocks.conftest import (
    FakeBroker,
    asgi_client,
    b64,
    error_code,
    form_action,
    hidden_fields,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
async def idp(settings: Settings, peer_http: httpx.AsyncClient):
    app = create_app(settings, http=peer_http)
    async with asgi_client(app, settings.idp_base) as client:
        yield client


@pytest.fixture
def data(settings: Settings) -> dataset_module.Dataset:
    return dataset_module.build(provider_base=settings.provider_base)


@pytest.fixture
def persona(data: dataset_module.Dataset) -> dataset_module.Person:
    return next(p for p in data.persons if p.persona)


def signed_request_url(settings: Settings, broker: FakeBroker, *, keypair=None,
                       issuer: str | None = None, acs_url: str | None = None,
                       relay_state: str | None = "retour-42") -> tuple[str, str]:
    request_id = build.new_id()
    request = build.authn_request(
        issuer=issuer or broker.sp_entity_id, destination=sso_url(settings),
        acs_url=acs_url or broker.sp_acs, request_id=request_id,
    )
    url = bindings.encode_redirect(sso_url(settings), request, kind="SAMLRequest",
                                   relay_state=relay_state, keypair=keypair or broker.keypair)
    return url, request_id


async def login_state(idp: httpx.AsyncClient, settings: Settings, broker: FakeBroker,
                      **kwargs) -> tuple[str, str]:
    url, request_id = signed_request_url(settings, broker, **kwargs)
    page = await idp.get(url)
    assert page.status_code == 200, page.text
    return hidden_fields(page.text)["state"], request_id


def validated(settings: Settings, broker: FakeBroker, page: str,
              request_id: str) -> ValidatedAssertion:
    fields = hidden_fields(page)
    root = bindings.decode_post(fields["SAMLResponse"], max_bytes=settings.max_xml_bytes)
    idp_cert = load_or_create(settings.keys_dir, "idp").certificate
    return validate_response(
        root,
        certificates_for=lambda issuer: [idp_cert] if issuer == entity_id(settings) else None,
        sp_entity_id=broker.sp_entity_id,
        acs_url=broker.sp_acs,
        expected_issuer=entity_id(settings),
        in_response_to=request_id,
    )


async def test_metadata_describes_the_idp_with_its_certificate(idp, settings):
    response = await idp.get("/saml/metadata")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/samlmetadata+xml")
    parsed = metadata.parse_metadata(response.content)
    assert parsed.entity_id == entity_id(settings)
    assert parsed.idp is not None
    assert parsed.sso_url(BINDING_REDIRECT) == sso_url(settings)
    assert parsed.sso_url(BINDING_POST) == sso_url(settings)
    assert load_or_create(settings.keys_dir, "idp").certificate in parsed.idp.signing_certificates


async def test_metadata_xml_is_what_the_endpoint_serves(idp, settings):
    assert (await idp.get("/saml/metadata")).content == metadata_xml(settings)


async def test_home_page_names_the_metadata_and_personas(idp, settings, persona):
    page = await idp.get("/")
    assert page.status_code == 200
    assert entity_id(settings) in page.text
    assert persona.login in page.text


async def test_signed_authn_request_shows_login_page_with_personas(idp, settings, broker, data):
    url, _ = signed_request_url(settings, broker)
    page = await idp.get(url)
    assert page.status_code == 200
    assert '<html lang="fr">' in page.text
    personas = [p for p in data.persons if p.persona]
    assert personas
    for person in personas:
        assert f'name="persona" value="{person.login}"' in page.text
    assert "<fieldset>" in page.text and "<legend>" in page.text
    assert form_action(page.text) == "/login"


async def test_enter_in_the_password_field_submits_the_password_not_a_persona(
        idp, settings, broker):
    url, _ = signed_request_url(settings, broker)
    page = (await idp.get(url)).text
    first_submit = page.index('type="submit"')
    assert page[first_submit:first_submit + 60].startswith('type="submit" name="action"')


async def test_signed_authn_request_by_post_shows_login_page(idp, settings, broker):
    from services.saml import signing, xml

    request = build.authn_request(issuer=broker.sp_entity_id, destination=sso_url(settings),
                                  acs_url=broker.sp_acs)
    signed = signing.sign(request, broker.keypair)
    page = await idp.post("/saml/sso", data={"SAMLRequest": b64(xml.to_bytes(signed)),
                                             "RelayState": "r"})
    assert page.status_code == 200, page.text
    assert "state" in hidden_fields(page.text)


async def test_persona_login_posts_an_ent_response_valid_with_the_idp_certificate(
        idp, settings, broker, persona, data):
    state, request_id = await login_state(idp, settings, broker)
    page = await idp.post("/login", data={"state": state, "persona": persona.login,
                                          "shape": "ent"})
    assert page.status_code == 200
    assert form_action(page.text) == broker.sp_acs
    assert hidden_fields(page.text)["RelayState"] == "retour-42"
    result = validated(settings, broker, page.text, request_id)
    assert result.attributes == {"idEnt": [data.ent_id],
                                 "GARPersonIdentifiant": [persona.person_id]}
    assert result.in_response_to == request_id
    assert result.session_index


async def test_ent_shape_signs_the_assertion_only(idp, settings, broker, persona):
    state, _request_id = await login_state(idp, settings, broker)
    page = await idp.post("/login", data={"state": state, "persona": persona.login,
                                          "shape": "ent"})
    root = bindings.decode_post(hidden_fields(page.text)["SAMLResponse"], max_bytes=10**6)
    ds = "{http://www.w3.org/2000/09/xmldsig#}Signature"
    assert root.find(ds) is None
    assertion = root.find("{urn:oasis:names:tc:SAML:2.0:assertion}Assertion")
    assert assertion is not None and assertion.find(ds) is not None


async def test_educonnect_shape_carries_the_aaf_join_key_and_signs_both(
        idp, settings, broker, persona):
    state, request_id = await login_state(idp, settings, broker)
    page = await idp.post("/login", data={"state": state, "persona": persona.login,
                                          "shape": "educonnect"})
    result = validated(settings, broker, page.text, request_id)
    assert any(v.startswith("{AAF}") and persona.join_key in v
               for v in result.attributes["FrEduCtRefId"])
    assert result.attributes["FrEduCtId"] and result.attributes["FrEduCtOpaqueId"]
    assert "GARPersonIdentifiant" not in result.attributes
    root = bindings.decode_post(hidden_fields(page.text)["SAMLResponse"], max_bytes=10**6)
    assert root.find("{http://www.w3.org/2000/09/xmldsig#}Signature") is not None


async def test_shape_defaults_to_the_setting(settings, broker, peer_http, persona):
    tuned = settings.model_copy(update={"idp_shape": "educonnect"})
    async with asgi_client(create_app(tuned, http=peer_http), tuned.idp_base) as idp:
        state, request_id = await login_state(idp, tuned, broker)
        page = await idp.post("/login", data={"state": state, "persona": persona.login})
    assert "FrEduCtRefId" in validated(tuned, broker, page.text, request_id).attributes


async def test_talkative_adds_names_birth_date_email_and_ine(idp, settings, broker, data):
    person = next(p for p in data.persons if p.persona and p.birth_date and p.ine)
    state, request_id = await login_state(idp, settings, broker)
    page = await idp.post("/login", data={"state": state, "persona": person.login,
                                          "shape": "ent", "talkative": "1"})
    attributes = validated(settings, broker, page.text, request_id).attributes
    assert attributes["nom"] == [person.last_name]
    assert attributes["prenom"] == [person.first_name]
    assert attributes["dateNaissance"] == [person.birth_date.isoformat()]
    assert attributes["ine"] == [person.ine]
    assert attributes["GARPersonIdentifiant"] == [person.person_id]


async def test_not_talkative_sends_no_personal_data(idp, settings, broker, persona):
    state, request_id = await login_state(idp, settings, broker)
    page = await idp.post("/login", data={"state": state, "persona": persona.login,
                                          "shape": "ent"})
    attributes = validated(settings, broker, page.text, request_id).attributes
    assert not {"nom", "prenom", "dateNaissance", "mail", "ine"} & set(attributes)


async def test_login_and_password_authenticate(idp, settings, broker, persona):
    state, request_id = await login_state(idp, settings, broker)
    page = await idp.post("/login", data={"state": state, "login": persona.login,
                                          "password": persona.password, "shape": "ent"})
    assert page.status_code == 200
    result = validated(settings, broker, page.text, request_id)
    assert result.attributes["GARPersonIdentifiant"] == [persona.person_id]


async def test_wrong_password_is_refused_with_the_page_again(idp, settings, broker, persona):
    state, _ = await login_state(idp, settings, broker)
    page = await idp.post("/login", data={"state": state, "login": persona.login,
                                          "password": persona.password + "x"})
    assert page.status_code == 401
    assert "Identifiant ou mot de passe incorrect" in page.text
    assert "SAMLResponse" not in page.text
    assert hidden_fields(page.text)["state"] == state


async def test_unknown_login_is_refused(idp, settings, broker):
    state, _ = await login_state(idp, settings, broker)
    page = await idp.post("/login", data={"state": state, "login": "personne",
                                          "password": "x"})
    assert page.status_code == 401
    assert "SAMLResponse" not in page.text


async def test_request_from_unknown_sp_is_refused(idp, settings, broker):
    stranger = generate("stranger")
    url, _ = signed_request_url(settings, broker, keypair=stranger,
                                issuer="https://inconnu.example/sp")
    page = await idp.get(url)
    assert page.status_code == 403
    assert error_code(page.text) == "idp.unknown_sp"
    assert 'lang="fr"' in page.text


async def test_request_signed_with_another_key_is_refused(idp, settings, broker):
    url, _ = signed_request_url(settings, broker, keypair=generate("impostor"))
    page = await idp.get(url)
    assert page.status_code == 400
    assert error_code(page.text).startswith("saml.signature")


async def test_unsigned_request_is_refused(idp, settings, broker):
    request = build.authn_request(issuer=broker.sp_entity_id, destination=sso_url(settings),
                                  acs_url=broker.sp_acs)
    url = bindings.encode_redirect(sso_url(settings), request, kind="SAMLRequest")
    page = await idp.get(url)
    assert page.status_code == 400
    assert error_code(page.text).startswith("saml.signature")


async def test_request_for_an_unlisted_acs_is_refused(idp, settings, broker):
    url, _request_id = signed_request_url(settings, broker, acs_url="https://evil.example/acs")
    page = await idp.get(url)
    assert page.status_code == 400
    assert error_code(page.text) == "saml.acs.unregistered"
    assert "login-form" not in page.text


async def test_tampered_login_state_is_refused(idp, settings, broker, persona):
    state, _ = await login_state(idp, settings, broker)
    body, mac = state.split(".")
    payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    forged = payload.replace(broker.sp_acs.encode(), b"https://evil.example/acs")
    forged_body = base64.urlsafe_b64encode(forged).decode().rstrip("=")
    page = await idp.post("/login", data={"state": f"{forged_body}.{mac}",
                                          "persona": persona.login})
    assert page.status_code == 400
    assert error_code(page.text) == "idp.state.tampered"
    assert "SAMLResponse" not in page.text


async def test_missing_login_state_is_refused(idp, persona):
    page = await idp.post("/login", data={"persona": persona.login})
    assert page.status_code == 400
    assert error_code(page.text) == "idp.state.malformed"


async def test_expired_login_state_is_refused(settings, broker, peer_http, persona,
                                              monkeypatch):
    async with asgi_client(create_app(settings, http=peer_http), settings.idp_base) as idp:
        state, _ = await login_state(idp, settings, broker)
        later = datetime.now(UTC) + timedelta(seconds=settings.login_state_lifetime_seconds + 5)
        monkeypatch.setattr("idp_mock.state.time.time", lambda: later.timestamp())
        page = await idp.post("/login", data={"state": state, "persona": persona.login})
    assert page.status_code == 400
    assert error_code(page.text) == "idp.state.expired"


def _redirect_query(xml_text: str) -> str:
    compressor = zlib.compressobj(wbits=-15)
    deflated = compressor.compress(xml_text.encode()) + compressor.flush()
    return urlencode({"SAMLRequest": base64.b64encode(deflated).decode()})


DTD_REQUEST = """<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x "boom">]>
<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"
  xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a" Version="2.0"
  IssueInstant="2030-01-01T00:00:00Z"><saml:Issuer>&x;</saml:Issuer></samlp:AuthnRequest>"""


async def test_dtd_in_redirect_saml_request_is_refused(idp):
    page = await idp.get(f"/saml/sso?{_redirect_query(DTD_REQUEST)}")
    assert page.status_code == 400
    assert error_code(page.text).startswith("saml.")
    assert "boom" not in page.text


async def test_dtd_in_posted_saml_request_is_refused(idp):
    page = await idp.post("/saml/sso", data={"SAMLRequest": b64(DTD_REQUEST.encode())})
    assert page.status_code == 400
    assert error_code(page.text).startswith("saml.")


async def test_garbage_saml_request_is_refused_without_stack_trace(idp):
    page = await idp.get("/saml/sso?SAMLRequest=%%%not-base64")
    assert page.status_code == 400
    assert "Traceback" not in page.text
    assert error_code(page.text)


async def test_missing_saml_request_is_refused(idp):
    page = await idp.post("/saml/sso", data={})
    assert page.status_code == 400
    assert error_code(page.text) == "saml.binding.invalid"


async def test_unreachable_broker_metadata_is_reported(settings, broker, persona):
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    async with httpx.AsyncClient(transport=httpx.MockTransport(down)) as http, \
            asgi_client(create_app(settings, http=http), settings.idp_base) as idp:
        url, _ = signed_request_url(settings, broker)
        page = await idp.get(url)
    assert page.status_code == 502
    assert error_code(page.text) == "peer.unreachable"


async def test_extra_sp_from_settings_is_trusted(settings, broker, peer_http, tmp_path, persona):
    other = generate("other sp")
    other_id = "https://editeur.example/saml/metadata"
    path = tmp_path / "other-sp.xml"
    path.write_bytes(metadata.sp_metadata(entity_id=other_id,
                                          acs_url="https://editeur.example/acs",
                                          keypairs=[other]))
    tuned = settings.model_copy(update={"idp_mock_sp_metadata": [str(path)]})
    async with asgi_client(create_app(tuned, http=peer_http), tuned.idp_base) as idp:
        url, _ = signed_request_url(tuned, broker, keypair=other, issuer=other_id,
                                    acs_url="https://editeur.example/acs")
        page = await idp.get(url)
        assert page.status_code == 200, page.text
        answer = await idp.post("/login", data={"state": hidden_fields(page.text)["state"],
                                                "persona": persona.login})
    assert form_action(answer.text) == "https://editeur.example/acs"
