"""What an SP-initiated SAML login reads and writes, statement by statement.

The login path's cost is mostly its statements (``bench/README.md``, "Where time goes"), so
what it spared is specified here: with one identity provider, its peer row comes with the
listing; the ACS reads no peer row of its own; only statements that load mapped objects go
through the ORM's execution layer (about 120 µs of CPU each, bench/README.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from services import dataset
from services.conformance.forge import Pending
from services.settings import Settings
from tests.flows import forge
from tests.orm_layer import column_reads, orm_statements

pytestmark = pytest.mark.anyio


class Statements:
    """Every statement any engine sends while recording, first words only."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.sent.append(" ".join(statement.split()))

    def take(self) -> list[str]:
        sent, self.sent = self.sent, []
        return sent


@pytest.fixture
def statements() -> Iterator[Statements]:
    recorder = Statements()
    event.listen(Engine, "before_cursor_execute", recorder)
    try:
        yield recorder
    finally:
        event.remove(Engine, "before_cursor_execute", recorder)


async def _answer(browser: httpx.AsyncClient, settings: Settings,
                  pending: Pending) -> httpx.Response:
    """The identity provider's signed answer for the assigned pupil, posted to the ACS."""
    person_id = next(p.person_id for p in dataset.build(provider_base=settings.provider_base
                                                        ).persons if p.login == "eleve.assigne")
    signed = forge.sign(forge.assertion(settings, pending, forge.ent_attributes(person_id)),
                        forge.idp_key(settings))
    return await browser.post(pending.acs_url, data={
        "SAMLResponse": forge.encode(forge.response(settings, pending, signed)),
        "RelayState": pending.relay_state})


def _peer_reads(sent: list[str]) -> int:
    """Statements that read one peer's row by its entity id (``trust._PEER``)."""
    return sum(s.startswith("SELECT peers.metadata_xml, peers.allow_sha1 FROM peers") for s in sent)


async def test_the_sso_request_reads_only_the_requesters_peer_row(
    browser: httpx.AsyncClient, testbed_settings: Settings, statements: Statements
) -> None:
    """The one identity provider's row comes with the listing of identity providers."""
    statements.take()
    await forge.start(browser, testbed_settings, "manuel-maths-4e")
    assert _peer_reads(statements.take()) == 1


async def test_the_sso_request_writes_the_login_state_once_complete(
    browser: httpx.AsyncClient, testbed_settings: Settings, statements: Statements
) -> None:
    """One INSERT, with the identity provider and the request id sent to it; no UPDATE."""
    statements.take()
    await forge.start(browser, testbed_settings, "manuel-maths-4e")
    writes = [s for s in statements.take() if " login_states" in s and not s.startswith("SELECT")]
    assert len(writes) == 1 and writes[0].startswith("INSERT INTO login_states")


async def test_the_acs_reads_no_peer_row_of_its_own(
    browser: httpx.AsyncClient, testbed_settings: Settings, statements: Statements
) -> None:
    """The identity provider's row comes back with the login state the ACS consumes."""
    pending = await forge.start(browser, testbed_settings, "manuel-maths-4e")
    statements.take()
    page = await _answer(browser, testbed_settings, pending)
    assert page.status_code == 200
    assert _peer_reads(statements.take()) == 0


async def test_a_login_sends_through_the_orm_only_the_statements_that_load_objects(
    browser: httpx.AsyncClient, testbed_settings: Settings
) -> None:
    """Column reads (the peer, the identity providers, the person's facts, the declared
    attributes) are Core statements on the tables (``broker.models.table``)."""
    with orm_statements() as seen:
        pending = await forge.start(browser, testbed_settings, "manuel-maths-4e")
        page = await _answer(browser, testbed_settings, pending)

    assert page.status_code == 200
    assert seen, "a login loads the resource and the person as objects"
    assert column_reads(seen) == []
