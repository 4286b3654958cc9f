"""Every path through the broker leaves a record naming it: protocol in, issuer, protocol out.

End to end through the three real apps (the in-process testbed of tests/flows), so each row
read here is one the broker wrote for a real login, granted or refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import lxml.html
import pytest
from sqlalchemy import create_engine, select, text

from broker.models import AuditRecord
from services.settings import Settings
from tests.flows.conftest import _LateRouter, anyio_backend, browser, database_url, testbed_settings
from tests.flows.harness import log_in, walk
from tests.oidc.conftest import oidc_browser, oidc_upstream_settings

__all__ = ["_LateRouter", "anyio_backend", "browser", "database_url", "oidc_browser",
           "oidc_upstream_settings", "testbed_settings"]
pytestmark = pytest.mark.anyio

COLLEGE, LYCEE = "0359901X", "0359902Y"
MATHS, MATHS_ID = "manuel-maths-4e", "ark:/99999/r10001"
ATLAS, ATLAS_ID = "atlas-histoire", "ark:/99999/r10006"


@dataclass(frozen=True)
class Row:
    resource_id: str | None
    decision: str
    code: str
    uai: str | None
    protocol: str
    upstream_protocol: str | None
    upstream_issuer: str | None
    upstream_assertion_id: str | None
    assertion_id: str | None
    ido_digest: str | None


def _rows(settings: Settings) -> list[Row]:
    engine = create_engine(settings.sqlalchemy_url)
    try:
        with engine.connect() as connection:
            found = connection.execute(select(
                AuditRecord.resource_id, AuditRecord.decision, AuditRecord.code, AuditRecord.uai,
                AuditRecord.protocol, AuditRecord.upstream_protocol, AuditRecord.upstream_issuer,
                AuditRecord.upstream_assertion_id, AuditRecord.assertion_id,
                AuditRecord.ido_digest).order_by(AuditRecord.id)).all()
    finally:
        engine.dispose()
    return [Row(*row) for row in found]


async def _open(browser: httpx.AsyncClient, url: str, persona: str,
                upstream: str | None = None) -> httpx.Response:
    page = await walk(browser, await browser.get(url))
    if upstream is not None:  # the broker's discovery page: choose the identity provider
        links = lxml.html.fromstring(page.text).xpath("//main//a[@href]")
        chosen = [a.get("href") for a in links if a.text_content().strip() == upstream]
        assert chosen, page.text[:500]
        page = await walk(browser, await browser.get(str(page.url.join(chosen[0]))))
    answer = await walk(browser, await log_in(browser, page, persona))
    browser.cookies.clear()
    return answer


async def test_oidc_in_and_out_granted_and_refused_are_recorded_with_the_whole_path(
    oidc_browser: httpx.AsyncClient, oidc_upstream_settings: Settings
) -> None:
    settings = oidc_upstream_settings
    issuer = f"{settings.idp_base}/oidc"
    url = f"{settings.provider_base}/oidc/resource/{MATHS}"
    assert (await _open(oidc_browser, url, "eleve.assigne", issuer)).status_code == 200
    assert (await _open(oidc_browser, url, "eleve.sans.licence", issuer)).status_code == 403
    granted, refused = _rows(settings)
    for row in (granted, refused):
        assert (row.protocol, row.upstream_protocol, row.upstream_issuer) == ("oidc", "oidc",
                                                                              issuer)
        assert row.upstream_assertion_id  # the identity provider's id_token jti
    assert (granted.decision, granted.uai) == ("granted", COLLEGE)
    assert granted.assertion_id and granted.ido_digest and len(granted.ido_digest) == 64
    assert (refused.decision, refused.code) == ("refused", "access.no_assignment")
    assert refused.uai == COLLEGE  # the provider named no school: the person's is recorded
    assert refused.assertion_id is None and refused.ido_digest is None


async def test_cas_out_granted_and_refused_are_recorded_with_the_saml_path_in(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    url = f"{testbed_settings.provider_base}/cas/{ATLAS}?sso_id=GAR"
    engine = create_engine(testbed_settings.sqlalchemy_url)
    with engine.begin() as connection:  # the lycée's subscription ends
        connection.execute(text("DELETE FROM subscriptions WHERE resource_id = :id AND uai = :uai"),
                           {"id": ATLAS_ID, "uai": LYCEE})
    engine.dispose()
    assert (await _open(browser, url, "eleve.assigne")).status_code == 200
    assert (await _open(browser, url, "eleve.lycee")).status_code == 403
    granted, refused = _rows(testbed_settings)
    for row in (granted, refused):
        assert (row.resource_id, row.protocol, row.upstream_protocol) == (ATLAS_ID, "cas", "saml")
        assert row.upstream_issuer == f"{testbed_settings.idp_base}/saml/metadata"
        assert row.upstream_assertion_id
    assert (granted.decision, granted.uai) == ("granted", COLLEGE)
    assert (refused.decision, refused.code, refused.uai) == ("refused", "access.no_subscription",
                                                             LYCEE)


async def test_a_saml_refusal_keeps_the_identity_providers_assertion_id(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    await _open(browser, f"{testbed_settings.provider_base}/resource/{MATHS}",
                "eleve.sans.licence")
    (refused,) = _rows(testbed_settings)
    assert (refused.decision, refused.protocol, refused.upstream_protocol) == ("refused", "saml",
                                                                               "saml")
    assert refused.upstream_assertion_id and refused.uai == COLLEGE
