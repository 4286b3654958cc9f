"""Who reads which records: auditors everything, officers their establishment, providers
their resources; problem+json for machines, French pages for people."""

from __future__ import annotations

import csv
import io
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from broker import audit_query, console_session
from broker.models import Person
from services.dataset import Dataset
from tests.audit.conftest import ARK, COLLEGE_UAI, LYCEE_UAI, NOW, Audit

RECORDS = "/audit/api/records"


def _officer_cookie(audit: Audit, session: Session, academy: Dataset) -> None:
    """The head of the collège signs in to the console, then takes the door to the audit."""
    pk = session.scalar(select(Person.id).where(
        Person.person_id == academy.person("chef.etablissement").person_id))
    assert pk is not None
    opened = console_session.open_session(session, person_pk=pk, now=NOW)
    session.commit()
    audit.client.cookies.set(console_session.COOKIE, opened.token)
    door = audit.client.get("/console/audit", follow_redirects=False)
    assert door.status_code == 303 and door.headers["location"] == "/audit/"
    assert "gar_audit" in audit.client.cookies


def _items(audit: Audit, **params: str) -> list[dict[str, object]]:
    response = audit.client.get(RECORDS, params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


def test_an_auditor_reads_every_record(audit_app: Audit) -> None:
    response = audit_app.client.get(RECORDS, headers=audit_app.bearer("auditor"))
    body = response.json()
    assert response.status_code == 200 and body["total"] == 6
    assert {item["decision"] for item in body["items"]} == {"granted", "refused"}


def test_an_officer_reads_only_the_records_of_their_establishment(
    audit_app: Audit, db: Session, academy: Dataset
) -> None:
    _officer_cookie(audit_app, db, academy)
    items = _items(audit_app)
    assert items and all(COLLEGE_UAI in str(item["uai"]).split(",") for item in items)
    assert not any(item["uai"] == LYCEE_UAI for item in items)


def test_an_officer_asking_for_another_establishment_is_refused(
    audit_app: Audit, db: Session, academy: Dataset
) -> None:
    _officer_cookie(audit_app, db, academy)
    response = audit_app.client.get(RECORDS, params={"uai": LYCEE_UAI})
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "audit.out_of_scope"


def test_an_officer_page_for_another_establishment_is_a_french_refusal(
    audit_app: Audit, db: Session, academy: Dataset
) -> None:
    _officer_cookie(audit_app, db, academy)
    response = audit_app.client.get("/audit/", params={"uai": LYCEE_UAI})
    assert response.status_code == 403 and "audit.out_of_scope" in response.text
    assert "Hors de votre périmètre" in response.text


def test_an_officer_exports_only_their_establishment(
    audit_app: Audit, db: Session, academy: Dataset
) -> None:
    _officer_cookie(audit_app, db, academy)
    rows = list(csv.DictReader(io.StringIO(audit_app.client.get(RECORDS + ".csv").text)))
    assert rows and all(COLLEGE_UAI in row["uai"] for row in rows)


def test_a_provider_reads_only_its_own_resources_and_no_person_reference(
    audit_app: Audit,
) -> None:
    response = audit_app.client.get(RECORDS, headers=audit_app.bearer("exemple"))
    items = response.json()["items"]
    assert [item["resource_id"] for item in items] == [ARK["atlas"]]
    assert items[0]["person"] is None


def test_a_provider_asking_for_another_providers_resource_is_refused(audit_app: Audit) -> None:
    response = audit_app.client.get(RECORDS, params={"resource": ARK["maths"]},
                                    headers=audit_app.bearer("exemple"))
    assert response.status_code == 403 and response.json()["code"] == "audit.out_of_scope"


def test_without_credentials_the_api_answers_401_problem(audit_app: Audit) -> None:
    response = audit_app.client.get(RECORDS)
    assert response.status_code == 401 and response.json()["code"] == "audit.auth_required"
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_an_ent_token_opens_nothing(audit_app: Audit) -> None:
    response = audit_app.client.get(RECORDS, headers=audit_app.bearer("ent"))
    assert response.status_code == 401 and response.json()["code"] == "audit.auth_invalid"


def test_malformed_filters_are_refused(audit_app: Audit) -> None:
    for params in ({"from": "hier"}, {"decision": "maybe"}, {"uai": "' OR 1=1"},
                   {"page": "0"}, {"per_page": "100000"},
                   {"from": "2026-01-02", "to": "2026-01-01"},
                   {"from": "2020-01-01", "to": "2026-01-01"}):
        response = audit_app.client.get(RECORDS, params=params,
                                        headers=audit_app.bearer("auditor"))
        assert response.status_code == 400, params
        assert response.json()["code"] == "audit.bad_filter"


def test_filters_narrow_the_records(audit_app: Audit) -> None:
    audit_app.client.headers.update(audit_app.bearer("auditor"))
    assert len(_items(audit_app, decision="refused")) == 1
    assert len(_items(audit_app, resource=ARK["dictionnaire"])) == 3
    assert len(_items(audit_app, uai=LYCEE_UAI)) == 2
    day = NOW.date().isoformat()
    assert len(_items(audit_app, **{"from": day, "to": day})) == 6
    assert _items(audit_app, **{"from": "2020-01-01", "to": "2020-01-31"}) == []


def test_records_are_paged_newest_first(audit_app: Audit) -> None:
    audit_app.client.headers.update(audit_app.bearer("auditor"))
    first = audit_app.client.get(RECORDS, params={"per_page": "4"}).json()
    second = audit_app.client.get(RECORDS, params={"per_page": "4", "page": "2"}).json()
    ids = [i["id"] for i in first["items"]] + [i["id"] for i in second["items"]]
    assert first["pages"] == 2 and ids == sorted(ids, reverse=True) and len(set(ids)) == 6


def test_the_json_lines_export_holds_every_record_and_no_value(audit_app: Audit) -> None:
    response = audit_app.client.get(RECORDS + ".jsonl", headers=audit_app.bearer("auditor"))
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert response.status_code == 200 and len(lines) == 6
    assert "attachment" in response.headers["content-disposition"]
    assert "Martin" not in response.text and "Léa" not in response.text


def test_the_csv_export_has_one_row_per_record(audit_app: Audit) -> None:
    response = audit_app.client.get(RECORDS + ".csv", headers=audit_app.bearer("auditor"))
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert response.headers["content-type"].startswith("text/csv") and len(rows) == 6
    assert tuple(rows[0]) == audit_query.COLUMNS
    atlas = next(row for row in rows if row["resource_id"] == ARK["atlas"])
    assert json.loads(atlas["released_codes"]) == ["IDO", "UAI", "PRO"]


def test_a_csv_cell_a_spreadsheet_would_run_as_a_formula_is_quoted() -> None:
    rows = iter([{"resource_id": "=HYPERLINK(\"http://x\")", "code": "-1"}])
    text = b"".join(audit_query.csv_lines(("resource_id", "code"), rows)).decode()
    assert text.splitlines()[1] == "\"'=HYPERLINK(\"\"http://x\"\")\",'-1"


def test_a_person_signs_in_with_an_auditor_token_and_reads_the_page(audit_app: Audit) -> None:
    client = audit_app.client
    assert client.get("/audit/", follow_redirects=False).headers["location"] == "/audit/connexion"
    signed = client.post("/audit/connexion", data={"token": audit_app.tokens["auditor"]},
                         follow_redirects=False)
    assert signed.status_code == 303
    page = client.get("/audit/")
    assert page.status_code == 200 and 'data-total="6"' in page.text


def test_a_wrong_token_in_the_sign_in_form_is_refused(audit_app: Audit) -> None:
    for token in ("nope", audit_app.tokens["ent"]):
        response = audit_app.client.post("/audit/connexion", data={"token": token})
        assert response.status_code == 401 and 'id="refused"' in response.text


def test_signing_out_needs_the_form_token(audit_app: Audit) -> None:
    client = audit_app.client
    client.post("/audit/connexion", data={"token": audit_app.tokens["auditor"]})
    refused = client.post("/audit/deconnexion", data={"csrf_token": "forged"})
    assert refused.status_code == 403 and "audit.csrf" in refused.text
    assert client.get("/audit/").status_code == 200
