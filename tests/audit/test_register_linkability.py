"""The article 30 register extract and the IDO linkability check, as JSON and as pages."""

from __future__ import annotations

from sqlalchemy.orm import Session

from broker import audit_linkability
from broker.audit_scope import EVERYTHING, Period
from services.dataset import (
    EDITIONS_EXEMPLE_ENTITY_ID,
    Dataset,
)
from tests.audit.conftest import COLLEGE_UAI, IDO_SECRET, NOW, Audit, AuditDb, access, serve

REGISTER, LINKABILITY = "/audit/api/register", "/audit/api/linkability"
ENTRY_KEYS = {"processing", "recipient", "recipient_entity_id", "purposes", "categories",
              "data_subjects", "resources", "legal_basis", "retention"}


def test_the_register_has_one_entry_per_recipient_and_one_for_the_trail(audit_app: Audit) -> None:
    entries = audit_app.client.get(REGISTER, headers=audit_app.bearer("auditor")).json()
    assert all(set(entry) == ENTRY_KEYS for entry in entries)
    recipients = [e["recipient_entity_id"] for e in entries]
    assert len(recipients) == 3 and recipients[-1] == ""  # two providers, then the trail
    atlas = next(e for e in entries if e["recipient_entity_id"] == EDITIONS_EXEMPLE_ENTITY_ID)
    assert atlas["purposes"] == sorted(atlas["purposes"]) and any(
        p.startswith("IDO : ") for p in atlas["purposes"])
    assert atlas["data_subjects"] and "Identifiants pseudonymes" in atlas["categories"]
    assert "365 jours" in entries[-1]["retention"]


def test_a_provider_reads_its_own_register_entry_only(audit_app: Audit) -> None:
    entries = audit_app.client.get(REGISTER, headers=audit_app.bearer("exemple")).json()
    assert [e["recipient_entity_id"] for e in entries] == [EDITIONS_EXEMPLE_ENTITY_ID, ""]


def test_the_register_page_shows_the_entries(audit_app: Audit) -> None:
    audit_app.client.post("/audit/connexion", data={"token": audit_app.tokens["auditor"]})
    page = audit_app.client.get("/audit/registre")
    assert page.status_code == 200 and page.text.count('<section class="entry">') == 3


def test_identifiers_are_unlinkable_by_default_computed_and_released(audit_app: Audit) -> None:
    body = audit_app.client.get(LINKABILITY, headers=audit_app.bearer("auditor")).json()
    assert body["verdict"] == "unlinkable" and body["computed_verdict"] == "unlinkable"
    assert body["ido_scope"] == "provider" and body["persons_linkable"] == 0
    # eleve.assigne received an IDO from both providers (the textbook, the atlas).
    assert body["released"] == {"period_from": body["released"]["period_from"],
                                "period_to": NOW.date().isoformat(), "persons_checked": 1,
                                "persons_linkable": 0, "verdict": "unlinkable"}
    assert all(len(d) == audit_linkability.DIGEST_CHARS for row in body["examples"]
               for d in row["digests"])


def test_a_global_ido_scope_makes_identifiers_linkable(audit_db: AuditDb) -> None:
    with serve(audit_db.url, audit_db.data_dir, audit_db.tokens, ido_scope="global") as audit:
        body = audit.client.get(LINKABILITY, headers=audit.bearer("auditor")).json()
    assert body["verdict"] == body["computed_verdict"] == "linkable"
    assert body["persons_linkable"] == body["persons_checked"] > 0
    assert body["released"]["verdict"] == "unlinkable"  # what was released then was not


def test_the_trail_proves_a_past_global_release_whatever_the_configuration_now(
    session: Session, academy: Dataset
) -> None:
    for resource in ("maths", "atlas"):  # two providers, while the scope was global
        access(session, academy, "eleve.assigne", resource, COLLEGE_UAI, ido_scope="global")
    session.commit()
    result = audit_linkability.check(session, EVERYTHING, ido_secret=IDO_SECRET,
                                     ido_scope="provider",
                                     period=Period.of(None, None, today=NOW.date()))
    assert result.computed_verdict == "unlinkable"
    assert (result.released.persons_checked, result.released.persons_linkable) == (1, 1)
    assert result.verdict == "linkable"


def test_a_provider_may_not_run_the_linkability_check(audit_app: Audit) -> None:
    response = audit_app.client.get(LINKABILITY, headers=audit_app.bearer("mock"))
    assert response.status_code == 403 and response.json()["code"] == "audit.forbidden"


def test_the_linkability_page_says_what_each_check_reads(audit_app: Audit) -> None:
    audit_app.client.post("/audit/connexion", data={"token": audit_app.tokens["auditor"]})
    page = audit_app.client.get("/audit/liaison").text
    assert 'id="verdict" data-verdict="unlinkable"' in page
    assert 'id="released" data-verdict="unlinkable" data-checked="1"' in page
    assert 'id="computed" data-verdict="unlinkable"' in page
