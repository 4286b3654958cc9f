"""From the list to the resource: every listed access URL opens that resource through SSO.

The three real apps in process (``tests/flows`` harness): an ENT asks the list API, follows
a ``urlAccesRessource`` like a mediacentre tile, the person logs in at the identity provider,
and the provider mock receives a valid assertion for that very resource and establishment.
"""

from __future__ import annotations

import httpx
import pytest

from broker.api_auth import create_client
from broker.db import make_engine, session_factory
from services.dataset import COLLEGE_UAI, ENT_ID
from services.settings import Settings
from tests.flows.conftest import browser, database_url, testbed_settings  # noqa: F401
from tests.flows.harness import log_in, received_attributes, verdict, walk

pytestmark = pytest.mark.anyio


def _ent_token(settings: Settings) -> str:
    engine = make_engine(settings.sqlalchemy_url)
    try:
        with session_factory(engine).begin() as session:
            return create_client(session, kind="ent", ident=ENT_ID, name="ENT du banc")[1]
    finally:
        engine.dispose()


async def test_each_listed_access_url_opens_its_resource_for_the_person(
    browser: httpx.AsyncClient, testbed_settings: Settings  # noqa: F811
) -> None:
    token = _ent_token(testbed_settings)
    listed = await browser.get(
        f"{testbed_settings.broker_base}/ressources/{ENT_ID}/{COLLEGE_UAI}/elv-000001",
        headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200, listed.text
    items = listed.json()["listeRessources"]["ressource"]
    maths = next(i for i in items if i["idRessource"] == "ark:/99999/r10001")
    login_page = await walk(browser, await browser.get(maths["urlAccesRessource"]))
    page = await walk(browser, await log_in(browser, login_page, "eleve.assigne"))
    assert verdict(page) == "ok", page.text
    assert received_attributes(page)["UAI"] == [COLLEGE_UAI]
    assert f"{testbed_settings.provider_base}/resource/manuel-maths-4e" in page.text
