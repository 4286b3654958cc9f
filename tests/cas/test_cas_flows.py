"""CAS 3.0 toward a publisher, end to end through the three real apps.

The provider mock plays a publisher: its access URL with ``?sso_id=GAR`` sends the person to
the broker's CAS login, the identity provider mock authenticates them, the broker decides and
releases as for SAML, hands a ticket to the exact service URL, and the publisher validates it
at ``p3/serviceValidate``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx
import lxml.html
import pytest
from lxml import etree
from sqlalchemy import create_engine, select, text

from broker.cas_xml import CAS_NS
from broker.mediacentre import entry_query
from broker.models import AuditRecord
from services import dataset
from services.saml.bindings import peek_redirect
from services.settings import Settings
from tests.flows import forge
from tests.flows.harness import (
    auto_post_form,
    error_code,
    log_in,
    received_attributes,
    verdict,
    walk,
)

pytestmark = pytest.mark.anyio

COLLEGE, LYCEE = "0359901X", "0359902Y"
ATLAS, ATLAS_ID = "atlas-histoire", "ark:/99999/r10006"


def access_url(settings: Settings, query: str = "sso_id=GAR") -> str:
    return f"{settings.provider_base}/cas/{ATLAS}?{query}"


async def open_as(browser: httpx.AsyncClient, url: str, persona: str) -> httpx.Response:
    login_page = await walk(browser, await browser.get(url))
    return await walk(browser, await log_in(browser, login_page, persona))


async def ticket_for(browser: httpx.AsyncClient, url: str, persona: str) -> str:
    """Log in through the CAS publisher, stopping at the broker's redirect: the ticketed URL."""
    login_page = await walk(browser, await browser.get(url))
    response = await log_in(browser, login_page, persona)
    for _ in range(8):
        if form := auto_post_form(response):
            response = await browser.post(form.action, data=form.fields)
            continue
        assert response.status_code in (302, 303), response.text[:500]
        location = response.headers["location"]
        if "ticket" in parse_qs(urlsplit(location).query):
            return location
        response = await browser.get(location)
    raise AssertionError("no ticket issued")


async def test_publisher_opened_with_sso_id_receives_the_release_through_a_ticket(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    page = await open_as(browser, access_url(testbed_settings), "eleve.assigne")
    assert verdict(page) == "ok", page.text
    got = received_attributes(page)
    assert set(got) == {"IDO", "UAI", "PRO", "DIV"}
    assert got["UAI"] == [COLLEGE] and got["PRO"] == ["National_elv"] and got["DIV"] == ["4A##4A"]
    assert len(got["IDO"][0]) == 128


async def test_teacher_in_two_schools_receives_uai_as_several_values(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    page = await open_as(browser, access_url(testbed_settings), "enseignant")
    assert verdict(page) == "ok", page.text
    assert sorted(received_attributes(page)["UAI"]) == [COLLEGE, LYCEE]


async def test_mediacentre_tile_opens_the_cas_publisher_scoped_to_the_chosen_school(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    url = f"{testbed_settings.broker_base}/domaineGar?" + entry_query("ENT-TEST", LYCEE, ATLAS_ID)
    page = await open_as(browser, url, "enseignant")
    assert verdict(page) == "ok", page.text
    got = received_attributes(page)
    assert got["UAI"] == [LYCEE] and got["DIV"] == ["2NDE04##2NDE04"]


async def test_grain_deep_link_within_the_site_is_honoured(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    page = await open_as(browser, access_url(testbed_settings, "sso_id=GAR&grain=%2Fchapitre%2F3"),
                         "eleve.assigne")
    assert verdict(page) == "ok", page.text
    assert "/chapitre/3" in page.text


async def test_grain_leading_off_site_is_refused_before_any_login(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    for grain in ("https://evil.example/x", "//evil.example/x", "javascript:alert(1)",
                  "/a/../../x", "chapitre", "/\\evil.example"):
        page = await browser.get(access_url(testbed_settings, f"sso_id=GAR&grain={quote(grain)}"))
        assert (page.status_code, error_code(page)) == (400, "provider.grain.offsite"), grain


async def test_publisher_refuses_a_forged_ticket_on_the_brokers_word(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    page = await browser.get(access_url(testbed_settings, "sso_id=GAR&ticket=ST-" + "1" * 64))
    assert (page.status_code, error_code(page)) == (403, "cas.INVALID_TICKET")


async def test_a_ticket_the_publisher_used_cannot_be_used_again(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    ticketed = await ticket_for(browser, access_url(testbed_settings), "eleve.assigne")
    assert verdict(await browser.get(ticketed)) == "ok"
    again = await browser.get(ticketed)
    assert (again.status_code, error_code(again)) == (403, "cas.INVALID_TICKET")


async def test_a_ticket_moved_to_another_service_url_is_refused(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    ticketed = await ticket_for(browser, access_url(testbed_settings), "eleve.assigne")
    moved = ticketed.replace("sso_id=GAR", "sso_id=GAR&grain=%2Fautre")
    page = await browser.get(moved)
    assert (page.status_code, error_code(page)) == (403, "cas.INVALID_SERVICE")


async def test_publisher_without_sso_id_offers_the_gar_login_without_starting_it(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    page = await browser.get(f"{testbed_settings.provider_base}/cas/{ATLAS}")
    assert page.status_code == 200
    link = lxml.html.fromstring(page.text).xpath('//a[@id="gar-login"]/@href')
    assert link == [access_url(testbed_settings)]


async def test_same_person_gets_the_same_ido_and_release_over_cas_and_saml(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    cas_page = await open_as(browser, access_url(testbed_settings), "enseignant")
    over_cas = received_attributes(cas_page)
    engine = create_engine(testbed_settings.sqlalchemy_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE resources SET protocol = 'saml' WHERE id = :id"),
                           {"id": ATLAS_ID})
    engine.dispose()
    browser.cookies.clear()
    saml_page = await open_as(browser, f"{testbed_settings.provider_base}/resource/{ATLAS}",
                              "enseignant")
    assert verdict(saml_page) == "ok", saml_page.text
    over_saml = received_attributes(saml_page)
    assert over_cas["IDO"] == over_saml["IDO"]
    assert {k: sorted(v) for k, v in over_cas.items()} == {
        k: sorted(v) for k, v in over_saml.items()}


async def test_each_cas_access_is_audited_with_protocol_cas(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    await open_as(browser, access_url(testbed_settings), "eleve.assigne")
    engine = create_engine(testbed_settings.sqlalchemy_url)
    with engine.connect() as connection:
        rows = connection.execute(select(AuditRecord.protocol, AuditRecord.decision,
                                         AuditRecord.resource_id)).all()
    engine.dispose()
    assert ("cas", "granted", ATLAS_ID) in rows


async def test_refused_access_ends_on_the_brokers_page_without_a_ticket(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    engine = create_engine(testbed_settings.sqlalchemy_url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM subscriptions WHERE resource_id = :id"),
                           {"id": ATLAS_ID})
    engine.dispose()
    page = await open_as(browser, access_url(testbed_settings), "eleve.assigne")
    assert page.status_code == 403 and str(page.url).startswith(testbed_settings.broker_base)
    assert "ticket=" not in str(page.url)


# --- renew (CAS 3.0 §2.1.1, §2.5.1) ---------------------------------------------------------


async def asks_identity_provider_for_credentials(browser: httpx.AsyncClient, login: str) -> bool:
    """Whether the broker's AuthnRequest for this CAS login carries ForceAuthn="true"."""
    start = await browser.get(login)
    assert start.status_code == 303, start.text[:500]
    request = peek_redirect(urlsplit(start.headers["location"]).query, kind="SAMLRequest",
                            max_bytes=100_000)
    return request.get("ForceAuthn") == "true"


async def validate_with_renew(browser: httpx.AsyncClient, settings: Settings,
                              ticketed: str) -> tuple[str | None, str]:
    """(failure code or None, text) of the broker's answer to ``renew=true`` validation."""
    ticket = parse_qs(urlsplit(ticketed).query)["ticket"][0]
    answer = await browser.get(f"{settings.broker_base}/cas/p3/serviceValidate", params={
        "service": access_url(settings), "ticket": ticket, "renew": "true"})
    document = etree.fromstring(answer.content)
    failed = document.find(f"{{{CAS_NS}}}authenticationFailure")
    return (None if failed is None else failed.get("code")), answer.text


async def test_renew_at_login_asks_for_credentials_and_its_ticket_passes_renew(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    login = f"{testbed_settings.broker_base}/cas/login?" + urlencode(
        {"service": access_url(testbed_settings), "renew": "true"})
    assert await asks_identity_provider_for_credentials(browser, login)
    ticketed = await ticket_for(browser, login, "eleve.assigne")
    code, text = await validate_with_renew(browser, testbed_settings, ticketed)
    assert code is None, text
    assert "<cas:IDO>" in text


async def test_a_ticket_from_a_login_without_renew_fails_renew_validation(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    login = f"{testbed_settings.broker_base}/cas/login?" + urlencode(
        {"service": access_url(testbed_settings)})
    assert not await asks_identity_provider_for_credentials(browser, login)
    ticketed = await ticket_for(browser, access_url(testbed_settings), "eleve.assigne")
    code, text = await validate_with_renew(browser, testbed_settings, ticketed)
    assert code == "INVALID_TICKET" and "renew" in text


async def answer_renew_login_with_authn_instant(
    browser: httpx.AsyncClient, settings: Settings, authenticated: datetime
) -> httpx.Response:
    """A renew login answered in the identity provider's place, its AuthnInstant chosen."""
    login = f"{settings.broker_base}/cas/login?" + urlencode(
        {"service": access_url(settings), "renew": "true"})
    pending = forge.pending_from_redirect((await browser.get(login)).headers["location"])
    person = dataset.build(provider_base=settings.provider_base).person("eleve.assigne")
    # The assertion is valid now (an hour from its issue), but says when the person logged in.
    signed = forge.sign(forge.assertion(settings, pending, forge.ent_attributes(person.person_id),
                                        now=authenticated, lifetime=3600),
                        forge.idp_key(settings))
    return await browser.post(pending.acs_url, data={
        "SAMLResponse": forge.encode(forge.response(settings, pending, signed)),
        "RelayState": pending.relay_state})


async def test_renew_refuses_a_saml_authentication_older_than_the_login(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    stale = datetime.now(UTC) - timedelta(minutes=10)
    page = await answer_renew_login_with_authn_instant(browser, testbed_settings, stale)
    assert (page.status_code, error_code(page)) == (400, "sso.authn_not_fresh")


async def test_renew_accepts_a_saml_authentication_made_during_the_login(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    page = await answer_renew_login_with_authn_instant(browser, testbed_settings,
                                                       datetime.now(UTC))
    assert page.status_code == 303 and "ticket=ST-" in page.headers["location"]
