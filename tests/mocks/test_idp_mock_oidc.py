"""The identity-provider mock as an OpenID Provider, on its own, as the broker meets it.

Its discovery document and JWKS go through the broker's own registration path
(``oidc_providers.fetch`` over HTTP, here the ASGI app behind a Starlette test client); then
the code flow as its one client (the broker) runs it, and each refusal an OpenID Provider
owes: unknown client, redirect URI not the registered one (at authorisation and at the
token endpoint), PKCE missing or wrong, a code used twice.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import jwt
import lxml.html
import pytest
from fastapi.testclient import TestClient

from broker import oidc_providers
from broker.db import make_engine, migrate, session_factory
from idp_mock import oidc_op as idp_oidc
from idp_mock.app import create_app
from services import dataset
from services.keys import load_or_create
from services.oidc import discovery, jose, pkce
from services.settings import Settings
from tests.mocks.conftest import error_code


@pytest.fixture
def idp(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url=settings.idp_base,
                    follow_redirects=False) as client:
        yield client


def issuer(settings: Settings) -> str:
    return f"{settings.idp_base}/oidc"


def basic(client: idp_oidc.Client, secret: str | None = None) -> dict[str, str]:
    raw = f"{quote(client.client_id, safe='')}:{quote(secret or client.secret, safe='')}"
    return {"Authorization": "Basic " + base64.b64encode(raw.encode()).decode()}


def authorize(idp: TestClient, settings: Settings, verifier: str | None = "v" * 50,
              **changes: str | None) -> tuple[int, str]:
    """(status, location or page) of an authorisation request; changes drop or alter params."""
    client = idp_oidc.broker_client(settings)
    params: dict[str, str | None] = {
        "response_type": "code", "client_id": client.client_id, "scope": "openid",
        "redirect_uri": client.redirect_uri, "state": "st-1", "nonce": "n-1",
        "code_challenge": pkce.challenge(verifier) if verifier else None,
        "code_challenge_method": "S256" if verifier else None, **changes}
    response = idp.get("/oidc/authorize", params={k: v for k, v in params.items() if v})
    return response.status_code, response.headers.get("location") or response.text


def log_in(idp: TestClient, settings: Settings, verifier: str = "v" * 50,
           persona: str = "eleve.assigne") -> str:
    """The authorisation code the mock hands back after the persona logs in."""
    status, page = authorize(idp, settings, verifier)
    assert status == 200, page
    form = lxml.html.fromstring(page).xpath('//form[@id="login-form"]')[0]
    fields = {i.get("name"): i.get("value", "") for i in form.xpath('.//input[@type="hidden"]')}
    answer = idp.post(form.get("action"), data={**fields, "persona": persona, "shape": "ent"})
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith(idp_oidc.broker_client(settings).redirect_uri + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["st-1"] and query["iss"] == [issuer(settings)]
    return query["code"][0]


def exchange(idp: TestClient, settings: Settings, code: str, verifier: str | None = "v" * 50,
             redirect_uri: str | None = None, secret: str | None = None) -> tuple[int, dict]:
    client = idp_oidc.broker_client(settings)
    form = {"grant_type": "authorization_code", "code": code,
            "redirect_uri": redirect_uri or client.redirect_uri}
    if verifier is not None:
        form["code_verifier"] = verifier
    response = idp.post("/oidc/token", data=form, headers=basic(client, secret))
    return response.status_code, response.json()


# --- discovery and keys, through the broker's registration path --------------------------


def test_discovery_and_jwks_fetched_as_the_broker_registers_them(
    idp: TestClient, settings: Settings, tmp_path: Path
) -> None:
    document, keys = oidc_providers.fetch(discovery.url_for(issuer(settings)), client=idp)
    assert document == idp_oidc.metadata(settings)  # what the seed registers in-process
    assert oidc_providers.key_ids(keys) == {jose.kid(load_or_create(settings.keys_dir, "idp"))}
    assert all("d" not in key for key in keys["keys"])  # public keys only
    engine = make_engine(f"sqlite:///{tmp_path / 'broker.sqlite3'}")
    migrate(engine)
    client = idp_oidc.broker_client(settings)
    with session_factory(engine).begin() as session:
        row = oidc_providers.register(session, document, keys, client_id=client.client_id,
                                      client_secret=client.secret, source="test")
        assert (row.issuer, row.algorithms) == (issuer(settings), ["RS256"])
        assert row.discovery["token_endpoint"] == f"{issuer(settings)}/token"
    engine.dispose()


# --- the code flow -------------------------------------------------------------------------


def test_the_code_gives_an_id_token_with_the_same_claims_as_the_saml_side(
    idp: TestClient, settings: Settings
) -> None:
    status, tokens = exchange(idp, settings, log_in(idp, settings))
    assert status == 200, tokens
    key = jwt.PyJWKSet.from_dict(idp.get("/oidc/jwks").json()).keys[0]
    client = idp_oidc.broker_client(settings)
    claims = jwt.decode(tokens["id_token"], key.key, algorithms=["RS256"],
                        audience=client.client_id, issuer=issuer(settings))
    data = dataset.build(provider_base=settings.provider_base)
    assert claims["nonce"] == "n-1"
    assert isinstance(claims["auth_time"], int) and claims["auth_time"] <= claims["iat"]
    assert (claims["idEnt"], claims["GARPersonIdentifiant"]) == (
        data.ent_id, data.person("eleve.assigne").person_id)
    info = idp.get("/oidc/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 200 and info.json()["sub"] == claims["sub"]
    assert info.json()["GARPersonIdentifiant"] == claims["GARPersonIdentifiant"]


# --- refusals ------------------------------------------------------------------------------


def test_an_unknown_client_is_refused_on_a_page(idp: TestClient, settings: Settings) -> None:
    status, page = authorize(idp, settings, client_id="https://unknown.test/rp")
    assert (status, error_code(page)) == (400, "idp.oidc.unknown_client")


@pytest.mark.parametrize("variant", ["/", "?x=1", "-other"])
def test_a_redirect_uri_not_registered_exactly_is_refused_on_a_page(
    idp: TestClient, settings: Settings, variant: str
) -> None:
    registered = idp_oidc.broker_client(settings).redirect_uri
    status, page = authorize(idp, settings, redirect_uri=registered + variant)
    assert (status, error_code(page)) == (400, "idp.oidc.redirect_uri")


def test_an_authorisation_request_without_pkce_goes_back_with_an_error(
    idp: TestClient, settings: Settings
) -> None:
    status, location = authorize(idp, settings, verifier=None)
    query = parse_qs(urlsplit(location).query)
    assert status == 303 and query["error"] == ["invalid_request"]
    assert query["error_description"] == ["oidc.pkce.missing"] and query["state"] == ["st-1"]


def test_a_plain_pkce_challenge_is_refused(idp: TestClient, settings: Settings) -> None:
    status, location = authorize(idp, settings, code_challenge="v" * 50,
                                 code_challenge_method="plain")
    assert status == 303 and parse_qs(urlsplit(location).query)["error_description"] == [
        "oidc.pkce.method"]


@pytest.mark.parametrize(("verifier", "expected"), [
    (None, "oidc.pkce.missing"), ("w" * 50, "oidc.pkce.mismatch"), ("short", "oidc.pkce.malformed"),
])
def test_a_missing_or_wrong_pkce_verifier_is_refused_at_the_token_endpoint(
    idp: TestClient, settings: Settings, verifier: str | None, expected: str
) -> None:
    status, body = exchange(idp, settings, log_in(idp, settings), verifier=verifier)
    assert (status, body["error"], body.get("error_description")) == (
        400, "invalid_grant", expected)


def test_the_token_request_must_repeat_the_registered_redirect_uri(
    idp: TestClient, settings: Settings
) -> None:
    code = log_in(idp, settings)
    registered = idp_oidc.broker_client(settings).redirect_uri
    status, body = exchange(idp, settings, code, redirect_uri=registered + "/")
    assert (status, body["error"]) == (400, "invalid_grant")


def test_a_code_is_exchanged_once(idp: TestClient, settings: Settings) -> None:
    code = log_in(idp, settings)
    assert exchange(idp, settings, code)[0] == 200
    status, body = exchange(idp, settings, code)
    assert (status, body["error"]) == (400, "invalid_grant")


def test_a_code_presented_again_revokes_the_token_it_gave(
        idp: TestClient, settings: Settings) -> None:
    code = log_in(idp, settings)
    first = exchange(idp, settings, code)[1]["access_token"]
    bearer = {"Authorization": f"Bearer {first}"}
    assert idp.get("/oidc/userinfo", headers=bearer).status_code == 200
    assert exchange(idp, settings, code)[0] == 400
    assert idp.get("/oidc/userinfo", headers=bearer).status_code == 401


def test_a_wrong_client_secret_is_refused(idp: TestClient, settings: Settings) -> None:
    status, body = exchange(idp, settings, log_in(idp, settings), secret="not-the-secret")
    assert (status, body["error"]) == (401, "invalid_client")


def test_userinfo_needs_a_token_the_mock_issued(idp: TestClient, settings: Settings) -> None:
    for headers in ({}, {"Authorization": "Bearer forged"}, {"Authorization": "Basic x"}):
        answer = idp.get("/oidc/userinfo", headers=headers)
        assert answer.status_code == 401 and "invalid_token" in answer.headers[
            "www-authenticate"]


def test_the_login_form_cannot_be_replayed_with_a_forged_state(
    idp: TestClient, settings: Settings
) -> None:
    page = idp.post("/oidc/login", data={"state": "forged", "persona": "eleve.assigne"})
    assert (page.status_code, error_code(page.text)) == (400, "idp.state.invalid")
