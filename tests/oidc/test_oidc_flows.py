"""OpenID Connect on either side of the broker, in any mix, through the three real apps.

The pipeline is the same whatever the protocols: for one person and one resource, the
provider receives the same IDO and the same release over OIDC as over SAML.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import lxml.html
import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine

from broker.mediacentre import entry_query
from services.keys import generate, load_or_create
from services.oidc import jose
from services.settings import Settings
from tests.flows.harness import error_code, log_in, received_attributes, verdict, walk

pytestmark = pytest.mark.anyio

MATHS, MATHS_ID = "manuel-maths-4e", "ark:/99999/r10001"
COLLEGE, LYCEE = "0359901X", "0359902Y"
ATLAS = "atlas-histoire"  # the provider mock's CAS resource


async def _pick(browser: httpx.AsyncClient, page: httpx.Response, issuer: str) -> httpx.Response:
    """On the broker's discovery page, choose the identity provider ``issuer``."""
    links = lxml.html.fromstring(page.text).xpath("//main//a[@href]")
    chosen = [a.get("href") for a in links if a.text_content().strip() == issuer]
    assert chosen, f"{issuer} is not offered: {page.text[:500]}"
    return await walk(browser, await browser.get(f"{urlsplit(str(page.url))[0]}://"
                                                 f"{urlsplit(str(page.url))[1]}{chosen[0]}"))


async def _open(browser: httpx.AsyncClient, url: str, persona: str, *,
                upstream: str | None = None, shape: str = "ent") -> httpx.Response:
    page = await walk(browser, await browser.get(url))
    if upstream is not None:
        page = await _pick(browser, page, upstream)
    return await walk(browser, await log_in(browser, page, persona, shape=shape))


def _received(page: httpx.Response) -> dict[str, list[str]]:
    assert verdict(page) == "ok", page.text[:2000]
    return received_attributes(page)


async def test_saml_in_oidc_out_gives_the_same_ido_and_release_as_saml(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    base = testbed_settings.provider_base
    over_oidc = _received(await _open(browser, f"{base}/oidc/resource/{MATHS}", "eleve.assigne"))
    over_saml = _received(await _open(browser, f"{base}/resource/{MATHS}", "eleve.assigne"))
    assert over_oidc == over_saml
    assert set(over_oidc) == {"IDO", "UAI", "PRO", "DIV", "GRO", "NOM", "PRE"}


async def test_oidc_in_saml_out_gives_the_same_ido_and_release_as_saml_in(
    oidc_browser: httpx.AsyncClient, oidc_upstream_settings: Settings
) -> None:
    settings = oidc_upstream_settings
    url = f"{settings.provider_base}/resource/{MATHS}"
    via_oidc = _received(await _open(oidc_browser, url, "enseignant",
                                     upstream=f"{settings.idp_base}/oidc"))
    via_saml = _received(await _open(oidc_browser, url, "enseignant",
                                     upstream=f"{settings.idp_base}/saml/metadata"))
    assert via_oidc == via_saml
    assert sorted(via_oidc["DIV"]) == ["4A##4A", "4B##4B"]


async def test_oidc_on_both_sides_gives_the_same_release_as_saml_on_both(
    oidc_browser: httpx.AsyncClient, oidc_upstream_settings: Settings
) -> None:
    settings = oidc_upstream_settings
    both_oidc = _received(await _open(
        oidc_browser, f"{settings.provider_base}/oidc/resource/{MATHS}", "eleve.assigne",
        upstream=f"{settings.idp_base}/oidc"))
    both_saml = _received(await _open(
        oidc_browser, f"{settings.provider_base}/resource/{MATHS}", "eleve.assigne",
        upstream=f"{settings.idp_base}/saml/metadata"))
    assert both_oidc == both_saml


async def test_oidc_in_cas_out_gives_the_same_release_as_saml_in(
    oidc_browser: httpx.AsyncClient, oidc_upstream_settings: Settings
) -> None:
    settings = oidc_upstream_settings
    url = f"{settings.provider_base}/cas/{ATLAS}?sso_id=GAR"
    via_oidc = _received(await _open(oidc_browser, url, "enseignant",
                                     upstream=f"{settings.idp_base}/oidc"))
    via_saml = _received(await _open(oidc_browser, url, "enseignant",
                                     upstream=f"{settings.idp_base}/saml/metadata"))
    assert via_oidc == via_saml
    assert sorted(via_oidc["UAI"]) == [COLLEGE, LYCEE]


async def test_renew_over_an_oidc_identity_provider_gets_a_fresh_login(
    oidc_browser: httpx.AsyncClient, oidc_upstream_settings: Settings
) -> None:
    """The identity-provider mock always authenticates anew and says when (auth_time)."""
    settings = oidc_upstream_settings
    service = f"{settings.provider_base}/cas/{ATLAS}?sso_id=GAR"
    login = f"{settings.broker_base}/cas/login?" + urlencode({"service": service, "renew": "true"})
    page = await _open(oidc_browser, login, "enseignant", upstream=f"{settings.idp_base}/oidc")
    assert sorted(_received(page)["UAI"]) == [COLLEGE, LYCEE]


async def test_one_person_has_one_ido_at_one_provider_whatever_the_protocols(
    oidc_browser: httpx.AsyncClient, oidc_upstream_settings: Settings
) -> None:
    """Both upstream protocols times the three downstream ones, for the provider mock's
    resources: one pairwise IDO (the provider mock's), never one per protocol."""
    settings = oidc_upstream_settings
    base = settings.provider_base
    downstream = {"saml": f"{base}/resource/{MATHS}", "oidc": f"{base}/oidc/resource/{MATHS}",
                  "cas": f"{base}/cas/{ATLAS}?sso_id=GAR"}
    upstream = {"saml": f"{settings.idp_base}/saml/metadata", "oidc": f"{settings.idp_base}/oidc"}
    idos = {}
    for up, idp in upstream.items():
        for down, url in downstream.items():
            page = await _open(oidc_browser, url, "enseignant", upstream=idp)
            idos[up, down] = _received(page)["IDO"]
    assert len(idos) == 6 and len({tuple(v) for v in idos.values()}) == 1, idos
    assert len(next(iter(idos.values()))[0]) == 128


async def test_an_educonnect_shaped_id_token_finds_the_person_by_the_join_key(
    oidc_browser: httpx.AsyncClient, oidc_upstream_settings: Settings
) -> None:
    settings = oidc_upstream_settings
    got = _received(await _open(
        oidc_browser, f"{settings.provider_base}/oidc/resource/{MATHS}", "eleve.assigne",
        upstream=f"{settings.idp_base}/oidc", shape="educonnect"))
    assert got["UAI"] == [COLLEGE] and got["PRO"] == ["National_elv"]


async def test_a_replayed_identity_provider_callback_is_refused(
    oidc_browser: httpx.AsyncClient, oidc_upstream_settings: Settings
) -> None:
    settings = oidc_upstream_settings
    page = await walk(oidc_browser, await oidc_browser.get(
        f"{settings.provider_base}/resource/{MATHS}"))
    page = await _pick(oidc_browser, page, f"{settings.idp_base}/oidc")
    answer = await log_in(oidc_browser, page, "eleve.assigne")
    callback = answer.headers["location"]
    assert callback.startswith(f"{settings.broker_base}/oidc/rp/callback?")
    assert verdict(await walk(oidc_browser, await oidc_browser.get(callback))) == "ok"
    replayed = await oidc_browser.get(callback)
    assert replayed.status_code == 400 and error_code(replayed) == "sso.state_unknown"


async def test_the_identity_provider_callback_reads_its_login_state_once_then_takes_it(
    oidc_browser: httpx.AsyncClient, oidc_upstream_settings: Settings
) -> None:
    """Read before the token exchange (its nonce and PKCE verifier), then consumed and read
    back by one UPDATE … RETURNING, as the SAML ACS does: no second SELECT."""
    settings = oidc_upstream_settings
    page = await walk(oidc_browser, await oidc_browser.get(
        f"{settings.provider_base}/resource/{MATHS}"))
    page = await _pick(oidc_browser, page, f"{settings.idp_base}/oidc")
    callback = (await log_in(oidc_browser, page, "eleve.assigne")).headers["location"]
    sent: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        sent.append(" ".join(statement.split()))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        assert verdict(await walk(oidc_browser, await oidc_browser.get(callback))) == "ok"
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    touching = [s for s in sent if " login_states" in s]
    assert len(touching) == 2 and touching[0].startswith("SELECT login_states.id")
    assert touching[1].startswith("UPDATE login_states SET consumed_at") and (
        "RETURNING" in touching[1])


async def test_a_refusal_over_oidc_is_the_same_refusal_as_over_saml(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    page = await _open(browser, f"{testbed_settings.provider_base}/oidc/resource/"
                                "ressource-enseignants", "eleve.assigne")
    assert page.status_code == 403 and error_code(page) == "access.profile_not_in_audience"


async def test_the_mediacentre_invites_an_oidc_resource_to_start_its_login(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    engine = create_engine(testbed_settings.sqlalchemy_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE resources SET protocol = 'oidc' WHERE id = :id"),
                           {"id": MATHS_ID})
    engine.dispose()
    query = entry_query("ENT-TESTBED", COLLEGE, MATHS_ID)
    start = await browser.get(f"{testbed_settings.broker_base}/domaineGar?{query}")
    assert start.status_code == 303
    invitation = urlsplit(start.headers["location"])
    assert invitation.path == "/oidc/initiate"
    assert parse_qs(invitation.query) == {
        "iss": [f"{testbed_settings.broker_base}/oidc"],
        "target_link_uri": [f"{testbed_settings.provider_base}/resource/{MATHS}"]}
    page = await walk(browser, start)
    got = _received(await walk(browser, await log_in(browser, page, "eleve.assigne")))
    assert got["UAI"] == [COLLEGE]


async def test_the_provider_refuses_an_invitation_from_another_issuer(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    page = await browser.get(f"{testbed_settings.provider_base}/oidc/initiate", params={
        "iss": "https://evil.invalid/oidc",
        "target_link_uri": f"{testbed_settings.provider_base}/resource/{MATHS}"})
    assert error_code(page) == "oidc.token.issuer"


async def test_logout_revokes_the_access_and_returns_to_the_registered_uri(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    page = await _open(browser, f"{testbed_settings.provider_base}/oidc/resource/{MATHS}",
                       "eleve.assigne")
    logout = lxml.html.fromstring(page.text).xpath('//a[@id="logout"]/@href')[0]
    done = await walk(browser, await browser.get(logout))
    assert str(done.url).startswith(f"{testbed_settings.provider_base}/oidc/logged-out")
    assert lxml.html.fromstring(done.text).xpath('//*[@id="logged-out"]')


def _change_upstream(settings: Settings, **values: object) -> None:
    import json

    engine = create_engine(settings.sqlalchemy_url)
    with engine.begin() as connection:
        for column, value in values.items():
            connection.execute(text(f"UPDATE oidc_providers SET {column} = :v"),
                               {"v": json.dumps(value)})
    engine.dispose()


def _registered_under_the_providers_key_id(settings: Settings) -> dict[str, object]:
    """Another key in the registry, under the key id the provider signs with: no key id is
    unknown (so no JWKS refresh), yet the registered key is not the provider's."""
    impostor = jose.public_jwk(generate("not the provider's key"))
    impostor["kid"] = jose.kid(load_or_create(settings.keys_dir, "idp"))
    return {"jwks": {"keys": [impostor]}}


@pytest.mark.parametrize(("change", "expected"), [
    (lambda settings: {"algorithms": ["ES256"]},
     "oidc.token.algorithm"),  # RS256 is not what was pinned
    (_registered_under_the_providers_key_id, "oidc.token.signature"),
])
async def test_the_broker_refuses_an_id_token_its_registration_does_not_allow(
    oidc_browser: httpx.AsyncClient, oidc_upstream_settings: Settings,
    change: Callable[[Settings], dict[str, object]], expected: str,
) -> None:
    settings = oidc_upstream_settings
    _change_upstream(settings, **change(settings))
    page = await _open(oidc_browser, f"{settings.provider_base}/resource/{MATHS}",
                       "eleve.assigne", upstream=f"{settings.idp_base}/oidc")
    assert page.status_code == 400 and error_code(page) == expected
    assert str(page.url).startswith(settings.broker_base)
