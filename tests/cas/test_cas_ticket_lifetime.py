"""A service ticket lives exactly ``GAR_CAS_TICKET_LIFETIME_SECONDS``, from a real login.

The testbed here is set to one second. The ticket comes from the whole flow (publisher →
broker → identity provider → broker); the validation's clock is then set relative to the
ticket's issue time, so the test says which instant it checks without sleeping.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import create_engine, select

from broker import cas
from broker.bootstrap import prepare
from broker.models import CasTicket
from services.settings import Settings
from tests.cas.test_cas_flows import access_url, ticket_for
from tests.flows.harness import error_code, verdict

pytestmark = pytest.mark.anyio

LIFETIME = 1


@pytest.fixture
def testbed_settings(tmp_path: Path, database_url: str) -> Settings:
    """Overrides tests/flows' fixture for this module: tickets live one second."""
    settings = Settings(data_dir=tmp_path, DATABASE_URL=database_url,
                        cas_ticket_lifetime_seconds=LIFETIME)
    prepare(settings)
    return settings


def issued(settings: Settings, ticketed_url: str) -> CasTicket:
    ticket = parse_qs(urlsplit(ticketed_url).query)["ticket"][0]
    engine = create_engine(settings.sqlalchemy_url)
    with engine.connect() as connection:
        row = connection.execute(select(CasTicket).where(CasTicket.ticket == ticket)).one()
    engine.dispose()
    return CasTicket(**row._mapping)


def validate_at(monkeypatch: pytest.MonkeyPatch, instant: datetime) -> None:
    """The broker's CAS validation reads this instant as now (issuance keeps the real clock)."""

    class Clock(datetime):
        @classmethod
        def now(cls, tz: object = None) -> datetime:  # type: ignore[override]
            return instant

    monkeypatch.setattr(cas, "datetime", Clock)


async def test_the_issued_ticket_lives_the_configured_lifetime(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    row = issued(testbed_settings, await ticket_for(browser, access_url(testbed_settings),
                                                    "eleve.assigne"))
    assert row.expires_at - row.created_at == timedelta(seconds=LIFETIME)


async def test_a_ticket_validated_within_its_lifetime_is_accepted(
    browser: httpx.AsyncClient, testbed_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticketed = await ticket_for(browser, access_url(testbed_settings), "eleve.assigne")
    row = issued(testbed_settings, ticketed)
    validate_at(monkeypatch, row.created_at.astimezone(UTC) + timedelta(seconds=LIFETIME / 2))
    assert verdict(await browser.get(ticketed)) == "ok"


async def test_a_ticket_validated_once_its_lifetime_is_over_is_an_invalid_ticket(
    browser: httpx.AsyncClient, testbed_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticketed = await ticket_for(browser, access_url(testbed_settings), "eleve.assigne")
    row = issued(testbed_settings, ticketed)
    validate_at(monkeypatch, row.created_at.astimezone(UTC) + timedelta(seconds=LIFETIME))
    page = await browser.get(ticketed)
    assert (page.status_code, error_code(page)) == (403, "cas.INVALID_TICKET")
    assert "expired" in page.text
