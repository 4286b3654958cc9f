"""Statistics: counts per day, resource, establishment and profile, never a person; scoped;
and no count small enough to single someone out reaches an officer or a provider."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session

from broker import audit_stats
from services.dataset import Dataset
from tests.audit.conftest import ARK, COLLEGE_UAI, LYCEE_UAI, Audit, AuditDb, serve
from tests.audit.test_access import _officer_cookie

STATS = "/audit/api/statistics"
JSON_KEYS = {"suppressed_below", "total", "days", "resources", "establishments", "profiles",
             "cells"}
CELL_KEYS = {"day", "resource_id", "uai", "profile", "accesses", "suppressed"}


def _figures(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every figure of a statistics answer: the total, each list's items, each cell."""
    yield body["total"]
    for key in ("days", "resources", "establishments", "profiles", "cells"):
        yield from body[key]


def _csv(audit: Audit) -> list[dict[str, str]]:
    response = audit.client.get(STATS + ".csv")
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.text)))


def _no_person_in(text: str, academy: Dataset) -> None:
    for login in ("eleve.assigne", "eleve.lycee"):
        person = academy.person(login)
        for value in (person.person_id, person.last_name, person.first_name):
            assert value not in text, value
    assert not re.search(r"[0-9a-f]{128}", text)  # no IDO
    assert "person" not in text and "ido" not in text.lower()


def test_the_json_holds_only_the_documented_keys_and_no_person(audit_app: Audit,
                                                              academy: Dataset) -> None:
    response = audit_app.client.get(STATS, headers=audit_app.bearer("auditor"))
    body = response.json()
    assert set(body) == JSON_KEYS and body["suppressed_below"] is None
    assert body["cells"] and all(set(cell) == CELL_KEYS for cell in body["cells"])
    assert body["total"] == {"accesses": 5, "suppressed": False}
    _no_person_in(response.text, academy)


def test_the_csv_holds_only_the_documented_columns_and_no_person(audit_app: Audit,
                                                                academy: Dataset) -> None:
    audit_app.client.headers.update(audit_app.bearer("auditor"))
    rows = _csv(audit_app)
    assert rows and tuple(rows[0]) == audit_stats.CSV_HEADER
    assert sum(int(row["accesses"]) for row in rows) == 5  # the auditor sees every count
    _no_person_in(audit_app.client.get(STATS + ".csv").text, academy)


def test_an_officer_gets_their_establishment_only(audit_app: Audit, db: Session,
                                                  academy: Dataset) -> None:
    _officer_cookie(audit_app, db, academy)
    body = audit_app.client.get(STATS).json()
    assert {cell["uai"] for cell in body["cells"]} == {COLLEGE_UAI}
    assert {row["uai"] for row in _csv(audit_app)} == {COLLEGE_UAI}
    refused = audit_app.client.get(STATS + ".csv", params={"uai": LYCEE_UAI})
    assert refused.status_code == 403 and refused.json()["code"] == "audit.out_of_scope"


def test_a_provider_gets_its_own_resources_only(audit_app: Audit) -> None:
    audit_app.client.headers.update(audit_app.bearer("mock"))
    body = audit_app.client.get(STATS).json()
    mine = {ARK["maths"], ARK["dictionnaire"]}
    assert {cell["resource_id"] for cell in body["cells"]} == mine
    assert {row["resource_id"] for row in _csv(audit_app)} == mine


def test_no_count_below_the_threshold_reaches_an_officer(audit_app: Audit, db: Session,
                                                         academy: Dataset) -> None:
    _officer_cookie(audit_app, db, academy)  # the collège: three accesses, one each
    body = audit_app.client.get(STATS).json()
    assert body["suppressed_below"] == 5
    for figure in _figures(body):
        assert figure["accesses"] is None or figure["accesses"] == 0 or figure["accesses"] >= 5
    assert all(cell["suppressed"] and cell["accesses"] is None for cell in body["cells"])
    rows = _csv(audit_app)
    assert rows and all((row["accesses"], row["suppressed"]) == ("", "true") for row in rows)
    page = audit_app.client.get("/audit/statistiques").text
    assert 'data-min-count="5"' in page and "&lt; 5" in page
    assert 'data-count="1"' not in page and 'data-suppressed="true"' in page


@pytest.mark.parametrize("who", ["mock", "exemple"])
def test_a_provider_sees_the_counts_at_or_above_the_threshold_only(audit_db: AuditDb,
                                                                   who: str) -> None:
    with serve(audit_db.url, audit_db.data_dir, audit_db.tokens,
               audit_stats_min_count=2) as audit:
        audit.client.headers.update(audit.bearer(who))
        body = audit.client.get(STATS).json()
        rows = _csv(audit)
    shown = {(c["resource_id"], c["uai"], c["accesses"]) for c in body["cells"]
             if not c["suppressed"]}
    # Only the dictionary was opened twice in one school (the lycée) on one day.
    assert shown == ({(ARK["dictionnaire"], LYCEE_UAI, 2)} if who == "mock" else set())
    for figure in _figures(body):
        assert figure["suppressed"] == (figure["accesses"] is None)
        assert figure["accesses"] is None or figure["accesses"] != 1
    assert all(row["accesses"] != "1" for row in rows)
    assert all((row["accesses"] == "") == (row["suppressed"] == "true") for row in rows)


def test_the_page_has_the_per_day_figures_as_a_table(audit_app: Audit) -> None:
    audit_app.client.post("/audit/connexion", data={"token": audit_app.tokens["auditor"]})
    page = audit_app.client.get("/audit/statistiques").text
    assert 'aria-describedby="by-day"' in page and '<table id="by-day">' in page
    today = re.search(r'<rect [^>]*data-day="([0-9-]+)" data-count="5"', page)
    assert today is not None
    assert re.search(rf'<tr data-day="{today.group(1)}"><th scope="row">[^<]+</th><td>5</td>',
                     page)
