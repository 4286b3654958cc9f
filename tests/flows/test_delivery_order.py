"""The ACS signs the outbound message before it appends the audit record, in one transaction.

The audit append holds the chain's single head lock until the commit, so it comes last: the
outbound Response is built and signed first. Either way the record and the flow's other writes
commit together, and a failure while building the outbound message leaves nothing behind.
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from broker import deliver
from broker.errors import FlowError
from broker.models import AuditRecord
from services.settings import Settings
from tests.flows import forge
from tests.flows.harness import error_code
from tests.flows.test_broker_rejects_bad_responses import _answer, _good, _person_id, _snapshot

pytestmark = pytest.mark.anyio


async def test_outbound_response_is_built_before_the_audit_record_is_appended(
    browser: httpx.AsyncClient, testbed_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    records_seen: list[int] = []
    original = deliver._saml

    def spying(delivery: deliver.Delivery) -> object:
        records_seen.append(delivery.session.scalar(select(func.count(AuditRecord.id))) or 0)
        return original(delivery)

    monkeypatch.setattr(deliver, "_saml", spying)
    pending = await forge.start(browser, testbed_settings, "manuel-maths-4e")
    before = _snapshot(testbed_settings)
    attrs = forge.ent_attributes(_person_id(testbed_settings, "eleve.assigne"))
    page = await _answer(browser, pending, _good(testbed_settings, pending, attrs))
    assert page.status_code == 200
    assert records_seen == [before["audit_records"]]  # none appended yet while signing
    assert _snapshot(testbed_settings)["audit_records"] == before["audit_records"] + 1


async def test_failure_while_building_the_outbound_message_leaves_no_trace(
    browser: httpx.AsyncClient, testbed_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(_delivery: deliver.Delivery) -> object:
        raise FlowError("sso.protocol_unsupported", "signing failed", 500)

    monkeypatch.setattr(deliver, "_saml", failing)
    pending = await forge.start(browser, testbed_settings, "manuel-maths-4e")
    before = _snapshot(testbed_settings)
    attrs = forge.ent_attributes(_person_id(testbed_settings, "eleve.assigne"))
    page = await _answer(browser, pending, _good(testbed_settings, pending, attrs))
    assert page.status_code == 500
    assert error_code(page) == "sso.protocol_unsupported"
    assert _snapshot(testbed_settings) == before  # no audit record, state not consumed
