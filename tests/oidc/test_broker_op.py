"""The broker as an OpenID Provider: what it publishes, what it refuses, what it releases."""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable
from urllib.parse import parse_qs, quote, urlencode, urljoin, urlsplit

import httpx
import jwt
import pytest
from sqlalchemy import create_engine, text

from broker.app import broker_keypair
from provider_mock import oidc_rp as provider_oidc
from services.keys import KeyPair, generate
from services.oidc import jose, pkce
from services.settings import Settings
from tests.flows.harness import auto_post_form, error_code, log_in
from tests.oidc.forgery import unsigned

pytestmark = pytest.mark.anyio

MATHS_ID, DICTIONARY_ID = "ark:/99999/r10001", "ark:/99999/r10002"


def _client(settings: Settings) -> tuple[str, str, str]:
    return (provider_oidc.client_id(settings), provider_oidc.client_secret(settings),
            f"{settings.provider_base}/oidc/callback")


def _basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def _authorize_url(settings: Settings, verifier: str | None, *, path: str = "/oidc/authorize",
                   **extra: str) -> str:
    client_id, _, redirect_uri = _client(settings)
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
              "scope": "openid scope.gar", "state": "st-123", "nonce": "n-456",
              "idRessource": MATHS_ID}
    if verifier is not None:
        params |= {"code_challenge": pkce.challenge(verifier), "code_challenge_method": "S256"}
    params |= extra
    return f"{settings.broker_base}{path}?{urlencode({k: v for k, v in params.items() if v})}"


async def _until(browser: httpx.AsyncClient, response: httpx.Response, prefix: str, *,
                 talkative: bool = False) -> str:
    """Follow the flow until the redirect to ``prefix``; return that URL (not followed)."""
    for _ in range(12):
        location = response.headers.get("location", "")
        if location.startswith(prefix):
            return location
        form = auto_post_form(response)
        if response.status_code in (302, 303):
            response = await browser.get(urljoin(str(response.url), location))
        elif form is not None:
            response = await browser.post(form.action, data=form.fields)
        elif 'id="login-form"' in response.text:
            response = await log_in(browser, response, "eleve.assigne", talkative=talkative)
        else:
            raise AssertionError(f"stuck at {response.url}: {response.text[:300]}")
    raise AssertionError("too many hops")


async def _code(browser: httpx.AsyncClient, settings: Settings, verifier: str, *,
                talkative: bool = False, **extra: str) -> str:
    redirect_uri = _client(settings)[2]
    location = await _until(browser, await browser.get(_authorize_url(settings, verifier,
                                                                      **extra)), redirect_uri,
                            talkative=talkative)
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["st-123"] and query["iss"] == [f"{settings.broker_base}/oidc"]
    return query["code"][0]


async def _exchange(browser: httpx.AsyncClient, settings: Settings, code: str,
                    verifier: str | None, *, secret: str | None = None,
                    redirect_uri: str | None = None) -> httpx.Response:
    client_id, real_secret, real_redirect = _client(settings)
    form = {"grant_type": "authorization_code", "code": code,
            "redirect_uri": redirect_uri or real_redirect}
    if verifier is not None:
        form["code_verifier"] = verifier
    return await browser.post(f"{settings.broker_base}/oidc/token", data=form,
                              headers=_basic(client_id, secret or real_secret))


async def test_discovery_names_pkce_s256_and_the_gar_scope(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    issuer = f"{testbed_settings.broker_base}/oidc"
    document = (await browser.get(f"{issuer}/.well-known/openid-configuration")).json()
    assert document["issuer"] == issuer
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert "scope.gar" in document["scopes_supported"]
    assert document["end_session_endpoint"] == f"{issuer}/logout"
    keys = (await browser.get(document["jwks_uri"])).json()["keys"]
    assert [k["alg"] for k in keys] == ["RS256"] and "d" not in keys[0]


async def test_a_redirect_uri_not_registered_exactly_is_refused_on_a_page(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    redirect_uri = _client(testbed_settings)[2]
    for variant in (redirect_uri + "/", redirect_uri + "?x=1", redirect_uri.upper(),
                    "https://evil.invalid/cb"):
        page = await browser.get(_authorize_url(testbed_settings, pkce.new_verifier(),
                                                redirect_uri=variant))
        assert page.status_code == 400 and error_code(page) == "oidc.redirect_uri.unregistered"


async def test_an_unknown_client_is_refused_on_a_page(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    page = await browser.get(_authorize_url(testbed_settings, pkce.new_verifier(),
                                            client_id="https://unknown.invalid"))
    assert error_code(page) == "oidc.client.unknown"


@pytest.mark.parametrize(("extra", "description"), [
    ({}, "oidc.pkce.missing"),
    ({"code_challenge": "x" * 43, "code_challenge_method": "plain"}, "oidc.pkce.method"),
    ({"response_type": "token"}, "oidc.request.response_type"),
    ({"scope": "profile"}, "oidc.request.scope"),
    ({"idRessource": "ark:/99999/r20001"}, "oidc.resource.unknown"),  # another provider's
])
async def test_a_bad_authorisation_request_goes_back_to_the_client_with_an_error(
    browser: httpx.AsyncClient, testbed_settings: Settings, extra: dict[str, str],
    description: str,
) -> None:
    verifier = None if "code_challenge" in extra or not extra else pkce.new_verifier()
    answer = await browser.get(_authorize_url(testbed_settings, verifier, **extra))
    assert answer.status_code == 303
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["state"] == ["st-123"]
    assert query["error_description"][0].startswith(description)


async def test_the_code_gives_tokens_and_userinfo_carries_only_released_codes(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    verifier = pkce.new_verifier()
    code = await _code(browser, testbed_settings, verifier, idRessource=DICTIONARY_ID)
    tokens = (await _exchange(browser, testbed_settings, code, verifier)).json()
    info = (await browser.get(f"{testbed_settings.broker_base}/oidc/userinfo", headers={
        "Authorization": f"Bearer {tokens['access_token']}"})).json()
    assert set(info) == {"sub", "IDO", "UAI", "PRO"}  # what the dictionary declares
    assert info["sub"] == info["IDO"][0] and len(info["sub"]) == 128


#: Claims about the token, not the person (RFC 7519 §4.1, OIDC Core §2), and the resource.
TOKEN_CLAIMS = {"iss", "sub", "aud", "exp", "iat", "nonce", "jti", "idRessource"}
MATHS_RELEASE = {"IDO", "UAI", "PRO", "DIV", "GRO", "NOM", "PRE"}  # what maths declares


async def test_the_id_token_holds_only_the_released_codes_decoded_by_pyjwt(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    """Even when the identity provider says more (talkative: birth date, INE, e-mail)."""
    verifier = pkce.new_verifier()
    code = await _code(browser, testbed_settings, verifier, talkative=True)
    tokens = (await _exchange(browser, testbed_settings, code, verifier)).json()
    issuer = f"{testbed_settings.broker_base}/oidc"
    keys = jwt.PyJWKSet.from_dict((await browser.get(f"{issuer}/jwks")).json())
    kid = jwt.get_unverified_header(tokens["id_token"])["kid"]
    key = next(k for k in keys.keys if k.key_id == kid)
    claims = jwt.decode(tokens["id_token"], key.key, algorithms=["RS256"], issuer=issuer,
                        audience=_client(testbed_settings)[0])
    assert set(claims) - TOKEN_CLAIMS == MATHS_RELEASE
    assert claims["idRessource"] == MATHS_ID and claims["nonce"] == "n-456"
    info = (await browser.get(f"{issuer}/userinfo", headers={
        "Authorization": f"Bearer {tokens['access_token']}"})).json()
    assert set(info) == MATHS_RELEASE | {"sub"}
    assert {code: claims[code] for code in MATHS_RELEASE} == {
        code: info[code] for code in MATHS_RELEASE}


async def test_a_reused_code_is_refused_and_revokes_the_tokens_it_issued(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    verifier = pkce.new_verifier()
    code = await _code(browser, testbed_settings, verifier)
    first = await _exchange(browser, testbed_settings, code, verifier)
    assert first.status_code == 200
    second = await _exchange(browser, testbed_settings, code, verifier)
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant" and second.json()["code"] == "oidc.code.reused"
    info = await browser.get(f"{testbed_settings.broker_base}/oidc/userinfo", headers={
        "Authorization": f"Bearer {first.json()['access_token']}"})
    assert info.status_code == 401 and info.json()["code"] == "oidc.token.invalid"


@pytest.mark.parametrize(("sent", "expected"), [
    (None, "oidc.pkce.missing"),
    ("wrong-" + "v" * 50, "oidc.pkce.mismatch"),
    ("short", "oidc.pkce.malformed"),
])
async def test_a_missing_or_wrong_pkce_verifier_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings, sent: str | None, expected: str
) -> None:
    code = await _code(browser, testbed_settings, pkce.new_verifier())
    answer = await _exchange(browser, testbed_settings, code, sent)
    assert answer.status_code == 400 and answer.json()["code"] == expected
    assert answer.headers["content-type"] == "application/problem+json"


async def test_the_token_request_must_repeat_the_exact_redirect_uri(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    verifier = pkce.new_verifier()
    code = await _code(browser, testbed_settings, verifier)
    answer = await _exchange(browser, testbed_settings, code, verifier,
                             redirect_uri=_client(testbed_settings)[2] + "/")
    assert answer.json()["code"] == "oidc.code.redirect_uri"


async def test_a_wrong_client_secret_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    verifier = pkce.new_verifier()
    code = await _code(browser, testbed_settings, verifier)
    answer = await _exchange(browser, testbed_settings, code, verifier, secret="not-the-secret")
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"


async def test_an_expired_code_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    verifier = pkce.new_verifier()
    code = await _code(browser, testbed_settings, verifier)
    engine = create_engine(testbed_settings.sqlalchemy_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE oidc_grants SET code_expires_at = created_at"))
    engine.dispose()
    answer = await _exchange(browser, testbed_settings, code, verifier)
    assert answer.json()["code"] == "oidc.code.expired"


async def test_the_profile_endpoint_answers_only_for_the_resource_of_the_token(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    verifier = pkce.new_verifier()
    code = await _code(browser, testbed_settings, verifier)
    bearer = {"Authorization": "Bearer " + (await _exchange(
        browser, testbed_settings, code, verifier)).json()["access_token"]}
    url = f"{testbed_settings.broker_base}/oidcProfile"
    mine = await browser.get(url, params={"idRessource": MATHS_ID, "access_mode": "web"},
                             headers=bearer)
    assert mine.status_code == 200 and mine.json()["DIV"] == ["4A##4A"]
    other = await browser.get(url, params={"idRessource": DICTIONARY_ID}, headers=bearer)
    assert other.status_code == 403


async def test_logout_to_an_unregistered_uri_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    page = await browser.get(f"{testbed_settings.broker_base}/oidc/logout", params={
        "client_id": _client(testbed_settings)[0],
        "post_logout_redirect_uri": "https://evil.invalid/bye", "state": secrets.token_hex(4)})
    assert page.status_code == 400 and error_code(page) == "oidc.logout.redirect_unregistered"


async def test_logout_with_an_id_token_hint_revokes_the_access_token(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    verifier = pkce.new_verifier()
    code = await _code(browser, testbed_settings, verifier)
    tokens = (await _exchange(browser, testbed_settings, code, verifier)).json()
    base = f"{testbed_settings.broker_base}/oidc"
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await browser.get(f"{base}/userinfo", headers=bearer)).status_code == 200
    back = f"{testbed_settings.provider_base}/oidc/logged-out"
    done = await browser.get(f"{base}/logout", params={
        "id_token_hint": tokens["id_token"], "post_logout_redirect_uri": back, "state": "bye"})
    assert (done.status_code, done.headers["location"]) == (303, f"{back}?state=bye")
    for endpoint in ("userinfo", "profile"):
        after = await browser.get(f"{base}/{endpoint}", headers=bearer)
        assert after.status_code == 401 and after.json()["code"] == "oidc.token.invalid"


def _hint(settings: Settings, key: KeyPair | None = None, **changes: object) -> str:
    now = int(time.time())
    claims = {"iss": f"{settings.broker_base}/oidc", "sub": "a" * 128,
              "aud": _client(settings)[0], "iat": now, "exp": now + 60, "jti": "_delivery"}
    return jose.sign({**claims, **changes}, key or broker_keypair(settings))


@pytest.mark.parametrize("forge", [
    pytest.param(lambda s: _hint(s, generate("not the broker's key")), id="another-key"),
    pytest.param(lambda s: _hint(s, iss="https://evil.test/oidc"), id="another-issuer"),
    pytest.param(lambda s: _hint(s, aud="https://another-client.test"), id="another-client"),
    pytest.param(lambda s: unsigned({"alg": "none"}, {"iss": f"{s.broker_base}/oidc"}),
                 id="alg-none"),
    pytest.param(lambda s: "x.y.z", id="malformed"),
])
async def test_logout_with_a_forged_id_token_hint_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings, forge: Callable[[Settings], str]
) -> None:
    page = await browser.get(f"{testbed_settings.broker_base}/oidc/logout", params={
        "id_token_hint": forge(testbed_settings), "client_id": _client(testbed_settings)[0],
        "post_logout_redirect_uri": f"{testbed_settings.provider_base}/oidc/logged-out"})
    assert (page.status_code, error_code(page)) == (400, "oidc.logout.invalid")
    assert "location" not in page.headers


async def test_a_publisher_using_only_the_gar_endpoint_names_gets_its_profile(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    """GAR_REFERENCE §4b: oidcAuthorize, oidcAccessToken (client_secret_basic), oidcProfile."""
    settings = testbed_settings
    client_id, secret, redirect_uri = _client(settings)
    verifier = pkce.new_verifier()
    start = await browser.get(_authorize_url(settings, verifier, path="/oidcAuthorize"))
    location = await _until(browser, start, redirect_uri)
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["st-123"]
    answer = await browser.post(f"{settings.broker_base}/oidcAccessToken", data={
        "grant_type": "authorization_code", "code": query["code"][0],
        "redirect_uri": redirect_uri, "code_verifier": verifier}, headers=_basic(client_id, secret))
    assert answer.status_code == 200 and answer.json()["token_type"] == "Bearer"
    profile = await browser.get(f"{settings.broker_base}/oidcProfile", params={
        "idRessource": MATHS_ID, "access_mode": "web"}, headers={
        "Authorization": f"Bearer {answer.json()['access_token']}"})
    assert profile.status_code == 200
    body = profile.json()
    assert (body["idRessource"], body["access_mode"]) == (MATHS_ID, "web")
    assert set(body) - {"idRessource", "access_mode"} == MATHS_RELEASE
    assert body["PRO"] == ["National_elv"] and len(body["IDO"][0]) == 128


@pytest.mark.parametrize(("extra", "description"), [
    ({"state": ""}, "oidc.request.invalid: state is required"),
    ({"nonce": "n" * 513}, "oidc.request.invalid: a parameter is too long"),
    ({"idRessource": "ark:/99999/" + "r" * 600}, "oidc.request.invalid: a parameter is too long"),
])
async def test_an_authorisation_request_without_state_or_with_an_oversized_parameter_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings, extra: dict[str, str],
    description: str,
) -> None:
    answer = await browser.get(_authorize_url(testbed_settings, pkce.new_verifier(), **extra))
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith(_client(testbed_settings)[2] + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["error"] == ["invalid_request"]
    assert query["error_description"] == [description]
    assert query.get("state", [""]) == [extra.get("state", "st-123")]  # echoed when sent
    assert "code" not in query


async def test_an_oversized_redirect_uri_is_refused_on_a_page(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    long_uri = _client(testbed_settings)[2] + "?" + "x" * 3000
    page = await browser.get(_authorize_url(testbed_settings, pkce.new_verifier(),
                                            redirect_uri=long_uri))
    assert (page.status_code, error_code(page)) == (400, "oidc.redirect_uri.unregistered")
