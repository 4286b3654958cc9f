"""The broker's CAS server, one refusal or answer at a time, straight at its endpoints.

Tickets are issued directly in the store (as the login would), so each test states exactly
the ticket it presents: forged, reused, for another service, expired, or good.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from lxml import etree

from broker.app import create_app
from broker.bootstrap import prepare
from broker.cas_tickets import issue
from broker.models import CasTicket
from services.settings import Settings
from tests.backends import BACKENDS, postgres_schema
from tests.flows.harness import error_code

CAS = "{http://www.yale.edu/tp/cas}"
ATLAS_ID = "ark:/99999/r10006"
RELEASE = {"IDO": ["a" * 128], "UAI": ["0359901X", "0359902Y"], "PRO": ["National_ens"]}


@pytest.fixture(scope="module", params=BACKENDS)
def client(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[TestClient]:
    tmp = tmp_path_factory.mktemp("cas")
    if request.param == "sqlite":
        yield from _client(tmp, f"sqlite:///{tmp / 'broker.sqlite3'}")
        return
    with postgres_schema("cas") as url:
        yield from _client(tmp, url)


def _client(tmp: Path, url: str) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp, DATABASE_URL=url, broker_port=18000, provider_port=18002)
    prepare(settings)
    app = create_app(settings)
    with TestClient(app, base_url=settings.broker_base, follow_redirects=False) as test_client:
        test_client.app_state = app.state  # type: ignore[attr-defined]
        yield test_client
    app.state.broker.sessions.kw["bind"].dispose()


def service_url(client: TestClient, query: str = "sso_id=GAR") -> str:
    return f"http://127.0.0.1:18002/cas/atlas-histoire?{query}"


def new_ticket(client: TestClient, service: str, *, lifetime: float = 5.0,
               now: datetime | None = None, primary_credentials: bool = False) -> str:
    sessions = client.app_state.broker.sessions  # type: ignore[attr-defined]
    with sessions.begin() as session:
        return issue(session, service=service, provider_entity_id="http://127.0.0.1:18002/saml/metadata",
                     resource_id=ATLAS_ID, delivery_id="_delivery", user=RELEASE["IDO"][0],
                     attributes=RELEASE, now=now or datetime.now(UTC),
                     lifetime=timedelta(seconds=lifetime),
                     primary_credentials=primary_credentials)


def validate(client: TestClient, path: str = "/cas/p3/serviceValidate",
             **params: str) -> etree._Element:
    response = client.get(path, params=params)
    assert response.headers["content-type"].startswith("application/xml")
    return etree.fromstring(response.content)


def failure_code(document: etree._Element) -> str | None:
    failed = document.find(f"{CAS}authenticationFailure")
    return None if failed is None else failed.get("code")


# --- success --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/cas/serviceValidate", "/cas/p3/serviceValidate"])
def test_validation_answers_the_ido_as_user_and_every_released_attribute(
    client: TestClient, path: str
) -> None:
    service = service_url(client)
    document = validate(client, path, service=service, ticket=new_ticket(client, service))
    ok = document.find(f"{CAS}authenticationSuccess")
    assert ok is not None, etree.tostring(document)
    assert ok.findtext(f"{CAS}user") == RELEASE["IDO"][0]
    attributes = ok.find(f"{CAS}attributes")
    assert attributes is not None
    got: dict[str, list[str]] = {}
    for element in attributes:
        got.setdefault(etree.QName(element).localname, []).append(element.text or "")
    assert got == RELEASE  # UAI as two repeated elements


def test_json_format_follows_the_specification(client: TestClient) -> None:
    service = service_url(client)
    response = client.get("/cas/p3/serviceValidate",
                          params={"service": service, "ticket": new_ticket(client, service),
                                  "format": "JSON"})
    assert response.headers["content-type"] == "application/json"
    body = json.loads(response.content)["serviceResponse"]["authenticationSuccess"]
    assert body["user"] == RELEASE["IDO"][0]
    assert body["attributes"]["UAI"] == RELEASE["UAI"]  # several values: an array
    assert body["attributes"]["PRO"] == "National_ens"  # one value: a string


def test_json_failure_carries_code_and_description(client: TestClient) -> None:
    response = client.get("/cas/serviceValidate",
                          params={"service": service_url(client), "ticket": "ST-forged",
                                  "format": "json"})
    failure = json.loads(response.content)["serviceResponse"]["authenticationFailure"]
    assert failure["code"] == "INVALID_TICKET" and failure["description"]


def test_a_value_cannot_change_the_xml_structure() -> None:
    from broker.cas_xml import Format, success

    document = etree.fromstring(success("u", {"NOM": ["</cas:NOM><cas:PRO>x"]}, Format.XML))
    assert [etree.QName(e).localname for e in document.iter()] == [
        "serviceResponse", "authenticationSuccess", "user", "attributes", "NOM"]


def test_tickets_are_long_random_and_in_the_specified_alphabet(client: TestClient) -> None:
    service = service_url(client)
    first, second = new_ticket(client, service), new_ticket(client, service)
    assert first != second and first.startswith("ST-") and len(first) >= 32 + 3
    assert all(c.isalnum() or c == "-" for c in first)


# --- refusals --------------------------------------------------------------------------------


def test_a_forged_ticket_is_invalid(client: TestClient) -> None:
    document = validate(client, service=service_url(client), ticket="ST-" + "0" * 64)
    assert failure_code(document) == "INVALID_TICKET"


@pytest.mark.parametrize("ticket", ["PT-abc", "ST-a_b", "ST-" + "a" * 300, "ST-é"])
def test_a_ticket_outside_the_ticket_syntax_is_invalid(client: TestClient, ticket: str) -> None:
    assert failure_code(validate(client, service=service_url(client), ticket=ticket)) == \
        "INVALID_TICKET"


def test_a_ticket_validates_only_once(client: TestClient) -> None:
    service = service_url(client)
    ticket = new_ticket(client, service)
    assert failure_code(validate(client, service=service, ticket=ticket)) is None
    assert failure_code(validate(client, service=service, ticket=ticket)) == "INVALID_TICKET"


def test_a_ticket_for_another_service_is_refused_and_burnt(client: TestClient) -> None:
    service = service_url(client)
    ticket = new_ticket(client, service)
    other = service_url(client, "sso_id=GAR&grain=%2Fautre")
    assert failure_code(validate(client, service=other, ticket=ticket)) == "INVALID_SERVICE"
    assert failure_code(validate(client, service=service, ticket=ticket)) == "INVALID_TICKET"


def test_an_expired_ticket_is_refused(client: TestClient) -> None:
    service = service_url(client)
    ticket = new_ticket(client, service, now=datetime.now(UTC) - timedelta(seconds=6))
    document = validate(client, service=service, ticket=ticket)
    assert failure_code(document) == "INVALID_TICKET"
    assert "expired" in (document.findtext(f"{CAS}authenticationFailure") or "")


def test_validation_clears_the_release_from_the_store(client: TestClient) -> None:
    service = service_url(client)
    ticket = new_ticket(client, service)
    validate(client, service=service, ticket=ticket)
    with client.app_state.broker.sessions() as session:  # type: ignore[attr-defined]
        row = session.get(CasTicket, ticket)
        assert row is not None and row.consumed_at is not None and row.attributes is None


@pytest.mark.parametrize("params", [{}, {"service": "http://127.0.0.1:18002/cas/atlas-histoire"},
                                    {"ticket": "ST-x"}, {"service": "", "ticket": "ST-x"}])
def test_missing_parameters_are_an_invalid_request(client: TestClient,
                                                   params: dict[str, str]) -> None:
    assert failure_code(validate(client, **params)) == "INVALID_REQUEST"


def test_an_unsupported_format_is_an_invalid_request(client: TestClient) -> None:
    service = service_url(client)
    assert failure_code(validate(client, service=service, ticket=new_ticket(client, service),
                                 format="YAML")) == "INVALID_REQUEST"


def test_a_repeated_ticket_parameter_is_an_invalid_request(client: TestClient) -> None:
    response = client.get("/cas/serviceValidate?service=x&ticket=ST-a&ticket=ST-b")
    assert failure_code(etree.fromstring(response.content)) == "INVALID_REQUEST"


# --- renew, proxy tickets, proxyValidate (CAS 3.0 §2.5, §2.6, §2.9) -----------------------


def released(document: etree._Element) -> dict[str, list[str]]:
    ok = document.find(f"{CAS}authenticationSuccess")
    assert ok is not None, etree.tostring(document)
    assert ok.find(f"{CAS}proxyGrantingTicket") is None and ok.find(f"{CAS}proxies") is None
    got: dict[str, list[str]] = {}
    for element in ok.find(f"{CAS}attributes"):  # type: ignore[union-attr]
        got.setdefault(etree.QName(element).localname, []).append(element.text or "")
    return got


@pytest.mark.parametrize("path", ["/cas/proxyValidate", "/cas/p3/proxyValidate"])
def test_proxy_validate_accepts_a_service_ticket_like_service_validate(
    client: TestClient, path: str
) -> None:
    service = service_url(client)
    assert released(validate(client, path, service=service,
                             ticket=new_ticket(client, service))) == RELEASE


@pytest.mark.parametrize(("path", "reason"), [
    ("/cas/serviceValidate", "is a proxy ticket"),  # §2.5: explain why, at serviceValidate
    ("/cas/p3/serviceValidate", "is a proxy ticket"),
    ("/cas/proxyValidate", "issues no proxy tickets"),  # §2.6.2: not recognized
    ("/cas/p3/proxyValidate", "issues no proxy tickets"),
])
def test_a_proxy_ticket_is_refused_with_the_reason(
    client: TestClient, path: str, reason: str
) -> None:
    document = validate(client, path, service=service_url(client), ticket="PT-" + "1" * 64)
    assert failure_code(document) == "INVALID_TICKET"
    assert reason in (document.findtext(f"{CAS}authenticationFailure") or "")


@pytest.mark.parametrize("path", ["/cas/serviceValidate", "/cas/p3/serviceValidate",
                                  "/cas/proxyValidate", "/cas/p3/proxyValidate"])
def test_renew_refuses_a_ticket_not_from_primary_credentials_and_burns_it(
    client: TestClient, path: str
) -> None:
    """§2.5.3: INVALID_TICKET when the ticket did not come from an initial login and renew
    was set on validation."""
    service = service_url(client)
    ticket = new_ticket(client, service)
    document = validate(client, path, service=service, ticket=ticket, renew="true")
    assert failure_code(document) == "INVALID_TICKET"
    assert "renew" in (document.findtext(f"{CAS}authenticationFailure") or "")
    assert failure_code(validate(client, path, service=service, ticket=ticket)) == \
        "INVALID_TICKET"


def test_renew_accepts_a_ticket_from_primary_credentials(client: TestClient) -> None:
    service = service_url(client)
    ticket = new_ticket(client, service, primary_credentials=True)
    assert released(validate(client, service=service, ticket=ticket, renew="true")) == RELEASE


def test_a_ticket_from_primary_credentials_validates_without_renew_too(
    client: TestClient
) -> None:
    service = service_url(client)
    ticket = new_ticket(client, service, primary_credentials=True)
    assert released(validate(client, service=service, ticket=ticket)) == RELEASE


def test_a_pgt_url_is_ignored_and_no_proxy_granting_ticket_issued(client: TestClient) -> None:
    service = service_url(client)
    document = validate(client, service=service, ticket=new_ticket(client, service),
                        pgtUrl="https://127.0.0.1:18002/cas/proxy-callback")
    assert released(document) == RELEASE


def test_a_store_failure_is_an_internal_error(client: TestClient,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import OperationalError

    from broker import cas_tickets

    def broken(*_: object, **__: object) -> None:
        raise OperationalError("SELECT", {}, Exception("database is down"))

    monkeypatch.setattr(cas_tickets, "validate", broken)
    response = client.get("/cas/serviceValidate", params={"service": "x", "ticket": "ST-a"})
    assert response.status_code == 500
    assert failure_code(etree.fromstring(response.content)) == "INTERNAL_ERROR"


# --- login and logout --------------------------------------------------------------------


def _login(client: TestClient, query: str) -> tuple[int, str | None, str]:
    """(status, error code shown on the page, redirect location) of a CAS login request."""
    response = client.get(f"/cas/login?{query}")
    if response.is_redirect:
        return response.status_code, None, response.headers["location"]
    return response.status_code, error_code(response), ""  # type: ignore[arg-type]


def test_login_for_a_registered_service_goes_to_the_identity_provider(client: TestClient) -> None:
    status, _, location = _login(client, "service=" + quote(service_url(client), safe=""))
    assert status == 303 and location.startswith("http://127.0.0.1:8001/")


@pytest.mark.parametrize("service", [
    "http://127.0.0.1:18002/saml/metadata",  # the provider, but not a CAS resource's path
    "http://127.0.0.1:18002/cas/atlas-histoire-bis",  # a prefix, not a path segment
    "http://127.0.0.1:18003/cas/atlas-histoire",  # another port
    "https://127.0.0.1:18002/cas/atlas-histoire",  # another scheme
    "http://evil.example/cas/atlas-histoire",
    "http://127.0.0.1:18002/resource/manuel-maths-4e",  # a SAML resource
])
def test_login_for_an_unregistered_service_is_refused(client: TestClient, service: str) -> None:
    status, code, _ = _login(client, "service=" + quote(service, safe=""))
    assert (status, code) == (403, "cas.service_unregistered")


@pytest.mark.parametrize("service", [
    "http://127.0.0.1:18002/cas/atlas-histoire/../../admin",
    "http://user@127.0.0.1:18002/cas/atlas-histoire",
    "http://127.0.0.1:18002/cas/atlas-histoire#x",
    "ftp://127.0.0.1:18002/cas/atlas-histoire",
    "http://127.0.0.1:18002/cas/atlas-histoire?x=\n",
])
def test_login_for_a_malformed_service_is_refused(client: TestClient, service: str) -> None:
    status, code, _ = _login(client, "service=" + quote(service, safe=""))
    assert (status, code) == (400, "cas.service_invalid")


def test_login_without_service_is_refused(client: TestClient) -> None:
    assert _login(client, "")[:2] == (400, "cas.service_missing")


def test_login_with_a_repeated_service_is_refused(client: TestClient) -> None:
    service = quote(service_url(client), safe="")
    status_and_code = _login(client, f"service={service}&service={service}")[:2]
    assert status_and_code == (400, "cas.request_invalid")


def test_gateway_login_returns_to_the_service_without_a_ticket(client: TestClient) -> None:
    service = service_url(client)
    status, _, location = _login(client, "gateway=true&service=" + quote(service, safe=""))
    assert (status, location) == (303, service)


def test_logout_redirects_to_a_registered_service(client: TestClient) -> None:
    service = service_url(client)
    response = client.get("/cas/logout", params={"service": service})
    assert (response.status_code, response.headers["location"]) == (303, service)


def test_logout_never_redirects_to_an_unregistered_service(client: TestClient) -> None:
    response = client.get("/cas/logout", params={"service": "https://evil.example/"})
    assert response.status_code == 200 and "location" not in response.headers
    assert 'id="logged-out"' in response.text and "cas.service_unregistered" in response.text


def test_logout_without_service_says_the_person_is_logged_out(client: TestClient) -> None:
    response = client.get("/cas/logout")
    assert response.status_code == 200 and "Vous êtes déconnecté" in response.text


def test_concurrent_validations_of_one_ticket_succeed_exactly_once(client: TestClient) -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    service = service_url(client)
    ticket = new_ticket(client, service)
    attempts = 8
    barrier = threading.Barrier(attempts)

    def attempt(_: int) -> str | None:
        barrier.wait()
        return failure_code(validate(client, service=service, ticket=ticket))

    with ThreadPoolExecutor(max_workers=attempts) as pool:
        codes = list(pool.map(attempt, range(attempts)))
    assert codes.count(None) == 1
    assert codes.count("INVALID_TICKET") == attempts - 1
