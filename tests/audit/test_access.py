"""Who reads which records: auditors everything, officers their establishment, providers
their resources; problem+json for machines, French pages for people."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from broker import audit_query, console_session
from broker.api_auth import create_client
from broker.audit_scope import Filters, Period, for_officer
from broker.domain import Refusal
from broker.models import Person
from services.dataset import EDITIONS_EXEMPLE_ENTITY_ID, Dataset
from services.keys import generate
from tests.audit.conftest import (
    ARK,
    COLLEGE_UAI,
    LYCEE_UAI,
    NOW,
    Audit,
    AuditDb,
    access,
    serve,
)

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


def _items_as(audit: Audit, who: str) -> list[dict[str, object]]:
    audit.client.headers.update(audit.bearer(who))
    return _items(audit)


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


def test_the_provider_filter_keeps_that_providers_records_only(audit_app: Audit) -> None:
    audit_app.client.headers.update(audit_app.bearer("auditor"))
    items = _items(audit_app, provider=EDITIONS_EXEMPLE_ENTITY_ID)
    assert [item["resource_id"] for item in items] == [ARK["atlas"]]
    assert _items(audit_app, provider="https://nobody.invalid/metadata") == []


def test_a_providers_exports_hold_its_resources_only_and_no_person_link(audit_app: Audit) -> None:
    audit_app.client.headers.update(audit_app.bearer("mock"))
    rows = list(csv.DictReader(io.StringIO(audit_app.client.get(RECORDS + ".csv").text)))
    lines = [json.loads(line) for line in
             audit_app.client.get(RECORDS + ".jsonl").text.splitlines()]
    mine = {ARK["maths"], ARK["dictionnaire"]}
    assert len(rows) == len(lines) == 5
    assert {row["resource_id"] for row in rows} == {line["resource_id"] for line in lines} == mine
    assert all(row["person"] == "" and row["upstream_assertion_id"] == "" for row in rows)
    assert all(line["person"] is None and line["upstream_assertion_id"] is None
               for line in lines)
    assert all("ido_digest" not in line for line in lines)


def test_an_auditor_sees_the_path_in_of_each_record(audit_app: Audit) -> None:
    items = _items_as(audit_app, "auditor")
    assert {(i["upstream_protocol"], i["upstream_issuer"], i["upstream_assertion_id"])
            for i in items} == {("saml", "https://idp", "_up")}


def test_an_officer_sees_a_refusal_of_a_login_that_named_no_establishment(
    session: Session, academy: Dataset
) -> None:
    refused = access(session, academy, "eleve.sans.licence", "maths", None)  # SP-initiated
    session.commit()
    assert isinstance(refused, Refusal)
    period = Period.of(None, None, today=NOW.date())

    def seen_by(uai: str) -> list[tuple[object, object]]:
        found = audit_query.page(session, for_officer([uai]), Filters(period), number=1,
                                 per_page=10)
        return [(item["decision"], item["code"]) for item in found.items]

    assert seen_by(COLLEGE_UAI) == [("refused", "access.no_assignment")]
    assert seen_by(LYCEE_UAI) == []


def test_a_bearer_certificate_forwarded_by_a_trusted_proxy_opens_the_auditors_view(
    audit_db: AuditDb, db: Session, tmp_path: Path
) -> None:
    pair = generate("dpo-cert")
    create_client(db, kind="auditor", ident="dpo-cert", name="DPO", cert_pem=pair.cert_pem)
    db.commit()
    header = {"X-SSL-Client-Cert": quote(pair.cert_pem.decode())}
    for trusted, status in ((True, 200), (False, 401)):
        with serve(audit_db.url, tmp_path, {}, api_trust_proxy_cert_header=trusted) as audit:
            response = audit.client.get(RECORDS, headers=header)
        assert response.status_code == status, response.text
    assert response.json()["code"] == "audit.auth_required"
