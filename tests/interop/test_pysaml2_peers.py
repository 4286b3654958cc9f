"""Interoperability: peers that are not ours, built with pysaml2, replace the two mocks.

The broker never assumes its counterpart is one of ours: a pysaml2 service provider logs in
through it, and it accepts a pysaml2 identity provider's Response. Each peer enters the
broker's trust registry only through its own metadata, as a real ENT or publisher would.
"""

from __future__ import annotations

import base64
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import IdPConfig, SPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAME_FORMAT_BASIC, NAMEID_FORMAT_TRANSIENT, NameID
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from broker.app import idp_metadata_xml, sp_metadata_xml
from broker.bootstrap import trust_add
from services import dataset
from services.keys import generate
from services.settings import Settings
from tests.flows.harness import log_in, received_attributes, verdict, walk

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(shutil.which("xmlsec1") is None,
                       reason="pysaml2 needs xmlsec1 (apt-get install xmlsec1)"),
]

RESOURCE = "manuel-maths-4e"


def _key_files(directory: Path, name: str) -> tuple[str, str]:
    pair = generate(name)
    key, cert = directory / f"{name}.key", directory / f"{name}.crt"
    key.write_bytes(pair.key_pem)
    cert.write_bytes(pair.cert_pem)
    return str(key), str(cert)


def _register(settings: Settings, directory: Path, name: str, config: SPConfig | IdPConfig) -> None:
    path = directory / f"{name}-metadata.xml"
    path.write_text(str(entity_descriptor(config)))
    trust_add(settings, str(path))


def _person_id(settings: Settings, login: str) -> str:
    data = dataset.build(provider_base=settings.provider_base)
    return next(p.person_id for p in data.persons if p.login == login)


async def test_pysaml2_service_provider_logs_in_through_the_broker(
    browser: httpx.AsyncClient, testbed_settings: Settings, tmp_path: Path
) -> None:
    settings = testbed_settings
    entity_id = f"{settings.provider_base}/saml/metadata"  # takes the provider mock's place
    acs = f"{settings.provider_base}/pysaml2/acs"
    key_file, cert_file = _key_files(tmp_path, "pysaml2-sp")
    config = SPConfig()
    config.load({
        "entityid": entity_id,
        "key_file": key_file,
        "cert_file": cert_file,
        "xmlsec_binary": shutil.which("xmlsec1"),
        "metadata": {"inline": [idp_metadata_xml(settings).decode()]},
        "allow_unknown_attributes": True,
        "accepted_time_diff": 60,
        "service": {"sp": {
            "endpoints": {"assertion_consumer_service": [(acs, BINDING_HTTP_POST)]},
            "authn_requests_signed": True,
            "want_assertions_signed": True,
            "want_response_signed": True,
            "allow_unsolicited": False,
            "signing_algorithm": SIG_RSA_SHA256,
            "digest_algorithm": DIGEST_SHA256,
        }},
    })
    _register(settings, tmp_path, "pysaml2-sp", config)
    client = Saml2Client(config=config)
    resource_url = f"{settings.provider_base}/resource/{RESOURCE}"
    request_id, info = client.prepare_for_authenticate(
        entityid=f"{settings.broker_base}/saml/idp/metadata", relay_state=resource_url,
        binding=BINDING_HTTP_REDIRECT, sigalg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256)
    location = dict(info["headers"])["Location"]

    login_page = await walk(browser, await browser.get(location))
    posted = await log_in(browser, login_page, "eleve.assigne")
    form = await walk(browser, posted, stop_at=acs)

    response = client.parse_authn_request_response(
        form.fields["SAMLResponse"], BINDING_HTTP_POST, outstanding={request_id: resource_url})
    identity = response.get_identity()
    assert form.fields["RelayState"] == resource_url
    assert response.response.issuer.text == f"{settings.broker_base}/saml/idp/metadata"
    assert {"IDO", "UAI", "PRO"} <= set(identity)
    assert identity["PRO"] == ["National_elv"]
    assert len(identity["IDO"][0]) == 128


async def test_broker_accepts_a_pysaml2_identity_providers_response(
    browser: httpx.AsyncClient, testbed_settings: Settings, tmp_path: Path
) -> None:
    settings = testbed_settings
    entity_id = f"{settings.idp_base}/saml/metadata"  # takes the identity provider mock's place
    sso = f"{settings.idp_base}/pysaml2/sso"
    key_file, cert_file = _key_files(tmp_path, "pysaml2-idp")
    config = IdPConfig()
    config.load({
        "entityid": entity_id,
        "key_file": key_file,
        "cert_file": cert_file,
        "xmlsec_binary": shutil.which("xmlsec1"),
        "metadata": {"inline": [sp_metadata_xml(settings).decode()]},
        "accepted_time_diff": 60,
        "service": {"idp": {
            "endpoints": {"single_sign_on_service": [(sso, BINDING_HTTP_REDIRECT)]},
            "name_id_format": [NAMEID_FORMAT_TRANSIENT],
            "policy": {"default": {"lifetime": {"minutes": 5}, "name_form": NAME_FORMAT_BASIC}},
            "signing_algorithm": SIG_RSA_SHA256,
            "digest_algorithm": DIGEST_SHA256,
        }},
    })
    _register(settings, tmp_path, "pysaml2-idp", config)
    server = Server(config=config)

    start = await browser.get(f"{settings.provider_base}/resource/{RESOURCE}")
    to_idp = await browser.get(start.headers["location"])
    assert to_idp.headers["location"].startswith(sso)
    query = parse_qs(urlsplit(to_idp.headers["location"]).query)
    request = server.parse_authn_request(query["SAMLRequest"][0], BINDING_HTTP_REDIRECT)
    answer = server.create_authn_response(
        identity={"idEnt": ["ENT-TESTBED"],
                  "GARPersonIdentifiant": [_person_id(settings, "eleve.assigne")]},
        in_response_to=request.message.id,
        destination=request.message.assertion_consumer_service_url,
        sp_entity_id=request.message.issuer.text,
        name_id=NameID(format=NAMEID_FORMAT_TRANSIENT, text="pysaml2-session"),
        sign_response=True, sign_assertion=True,
        sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256,
    )
    posted = await browser.post(request.message.assertion_consumer_service_url, data={
        "SAMLResponse": base64.b64encode(str(answer).encode()).decode(),
        "RelayState": query["RelayState"][0]})
    page = await walk(browser, posted)
    assert verdict(page) == "ok", page.text
    assert received_attributes(page)["PRO"] == ["National_elv"]
