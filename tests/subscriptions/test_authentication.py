"""Who may call the subscriptions web service: a registered distributor, by token or certificate."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import select
from starlette.requests import Request

from broker.api_auth import authenticate, create_client, list_clients
from broker.models import ApiClientRecord
from services.keys import generate
from tests.subscriptions.conftest import OWN, Client, Live

LISTING = "/abonnements?debut=0&fin=10"


def _problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code


def test_a_request_without_credentials_is_refused_as_auth_required(client_for: Client) -> None:
    response = client_for(None).get(LISTING)
    _problem(response, 401, "auth.required")
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_an_unknown_token_is_refused_as_auth_invalid(client_for: Client) -> None:
    client = client_for(None)
    _problem(client.get(LISTING, headers={"Authorization": "Bearer nope"}), 401, "auth.invalid")


def test_a_non_bearer_authorization_is_refused_as_auth_invalid(
    client_for: Client, live: Live
) -> None:
    client = client_for(None)
    basic = {"Authorization": f"Basic {live.tokens['own']}"}
    _problem(client.get(LISTING, headers=basic), 401, "auth.invalid")


def test_an_ent_token_does_not_open_the_distributors_service(client_for: Client) -> None:
    _problem(client_for("ent").get(LISTING), 401, "auth.invalid")


def test_a_distributor_token_opens_the_service(client_for: Client) -> None:
    assert client_for("own").get(LISTING).status_code == 200


def test_the_proxy_certificate_header_is_ignored_when_the_setting_is_off(
    client_for: Client, live: Live
) -> None:
    header = {"X-SSL-Client-Cert": quote(live.cert.cert_pem.decode())}
    _problem(client_for(None).get(LISTING, headers=header), 401, "auth.required")


def test_a_certificate_forwarded_by_a_trusted_proxy_authenticates(
    client_for: Client, live: Live
) -> None:
    header = {"X-SSL-Client-Cert": quote(live.cert.cert_pem.decode())}
    client = client_for(None, base=live.proxied_base)
    assert client.get(LISTING, headers=header).status_code == 200


def test_an_unregistered_certificate_is_refused_behind_the_proxy(
    client_for: Client, live: Live
) -> None:
    stranger = generate("inconnu.example")
    header = {"X-SSL-Client-Cert": quote(stranger.cert_pem.decode())}
    client = client_for(None, base=live.proxied_base)
    _problem(client.get(LISTING, headers=header), 401, "auth.invalid")


def test_an_unreadable_certificate_header_is_refused_behind_the_proxy(
    client_for: Client, live: Live
) -> None:
    client = client_for(None, base=live.proxied_base)
    header = {"X-SSL-Client-Cert": "-----BEGIN%20CERTIFICATE-----%0Agarbage"}
    _problem(client.get(LISTING, headers=header), 401, "auth.invalid")


def test_only_digests_of_tokens_are_stored(live: Live) -> None:
    with live.sessions() as session:
        stored = set(session.scalars(select(ApiClientRecord.token_sha256)))
    assert live.tokens["own"] not in stored
    assert hashlib.sha256(live.tokens["own"].encode()).hexdigest() in stored


@pytest.mark.parametrize(
    ("kind", "ident", "name", "message"),
    [
        ("editor", OWN, "X", "type de client inconnu"),
        ("distributor", "12345_1", "X", "identifiant de distributeur invalide"),
        ("ent", "", "X", "identifiant invalide"),
        ("ent", "ENT", " ", "nom du client"),
    ],
)
def test_a_client_with_a_bad_kind_ident_or_name_is_not_created(
    live: Live, kind: str, ident: str, name: str, message: str
) -> None:
    with live.sessions() as session:
        before = len(list_clients(session))
        with pytest.raises(ValueError, match=message):
            create_client(session, kind=kind, ident=ident, name=name)
        session.rollback()
        assert len(list_clients(session)) == before


def test_a_client_with_an_unreadable_certificate_is_not_created(live: Live) -> None:
    with live.sessions() as session, pytest.raises(ValueError, match="certificat illisible"):
        create_client(session, kind="distributor", ident=OWN, name="X", cert_pem=b"not a cert")


def test_a_certificate_cannot_belong_to_two_clients(live: Live) -> None:
    with live.sessions() as session, pytest.raises(ValueError, match="déjà"):
        create_client(
            session, kind="distributor", ident=OWN, name="X", cert_pem=live.cert.cert_pem
        )


def _request(headers: dict[str, str], *, trust_header: bool) -> Request:
    app = SimpleNamespace(state=SimpleNamespace(broker=SimpleNamespace(
        settings=SimpleNamespace(api_trust_proxy_cert_header=trust_header))))
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": raw, "app": app})


def test_authenticate_resolves_a_token_to_its_client_of_that_kind_only(live: Live) -> None:
    bearer = {"Authorization": f"Bearer {live.tokens['own']}"}
    with live.sessions() as session:
        client = authenticate(session, _request(bearer, trust_header=False), "distributor")
        assert client is not None and client.ident == OWN and client.kind == "distributor"
        assert authenticate(session, _request(bearer, trust_header=False), "ent") is None
        assert authenticate(session, _request({}, trust_header=False), "distributor") is None


def test_authenticate_reads_the_certificate_header_only_when_trusted(live: Live) -> None:
    header = {"X-SSL-Client-Cert": quote(live.cert.cert_pem.decode())}
    with live.sessions() as session:
        assert authenticate(session, _request(header, trust_header=False), "distributor") is None
        client = authenticate(session, _request(header, trust_header=True), "distributor")
        assert client is not None and client.name == "Par certificat"
