"""``POST /feed/import``: an ENT client pushes one file and gets the report, or the refusal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from broker.api_auth import create_client
from services.dataset import MOCK_DISTRIBUTOR, Dataset
from services.settings import Settings
from tests.feed.conftest import feed_files, snapshot

XML = {"Content-Type": "application/xml"}


@pytest.fixture
def client(migrated: Engine, seeded: sessionmaker[Session],
           tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    from broker.app import create_app

    with seeded.begin() as session:
        tokens = {
            "ent": create_client(session, kind="ent", ident="ENT-TESTBED", name="ENT")[1],
            "distributor": create_client(session, kind="distributor", ident=MOCK_DISTRIBUTOR,
                                         name="Distributeur")[1],
        }
    settings = Settings(data_dir=tmp_path,
                        DATABASE_URL=migrated.url.render_as_string(hide_password=False))
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000") as test_client:
        yield test_client, tokens


def _bearer(token: str) -> dict[str, str]:
    return {**XML, "Authorization": f"Bearer {token}"}


def test_an_ent_pushes_a_file_and_gets_the_report(client: tuple[TestClient, dict[str, str]],
                                                  academy: Dataset) -> None:
    http, tokens = client
    answer = http.post("/feed/import?nom=groupes.xml", content=feed_files(academy)["Groupe"],
                       headers=_bearer(tokens["ent"]))
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["kind"], report["file"], report["ent_id"]) == ("Groupe", "groupes.xml",
                                                                  "ENT-TESTBED")
    assert (report["added"], report["changed"], report["removed"]) == (0, 0, 0)


def test_without_credentials_the_import_is_refused(
        client: tuple[TestClient, dict[str, str]], academy: Dataset) -> None:
    http, _tokens = client
    answer = http.post("/feed/import", content=feed_files(academy)["Groupe"], headers=XML)
    assert answer.status_code == 401
    assert answer.json()["code"] == "auth.required"


def test_a_distributor_token_does_not_open_the_feed(
        client: tuple[TestClient, dict[str, str]], academy: Dataset) -> None:
    http, tokens = client
    answer = http.post("/feed/import", content=feed_files(academy)["Groupe"],
                       headers=_bearer(tokens["distributor"]))
    assert answer.status_code == 401
    assert answer.json()["code"] == "auth.invalid"


def test_a_refused_file_answers_problem_json_with_line_and_reason(
        client: tuple[TestClient, dict[str, str]], seeded: sessionmaker[Session],
        academy: Dataset) -> None:
    http, tokens = client
    before = snapshot(seeded)
    content = feed_files(academy)["Eleve"]
    answer = http.post("/feed/import", content=content[: len(content) // 2],
                       headers=_bearer(tokens["ent"]))
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert body["code"] == "feed.truncated"
    assert body["line"] > 1 and "tronqué" in body["reason"]
    assert snapshot(seeded) == before


def test_a_body_that_is_not_xml_is_refused(client: tuple[TestClient, dict[str, str]]) -> None:
    http, tokens = client
    answer = http.post("/feed/import", content=b"{}",
                       headers={**_bearer(tokens["ent"]), "Content-Type": "application/json"})
    assert answer.status_code == 415
    assert answer.json()["code"] == "feed.content_type"


def test_a_body_over_the_size_limit_is_refused(
        client: tuple[TestClient, dict[str, str]], monkeypatch: pytest.MonkeyPatch,
        academy: Dataset) -> None:
    from broker import feed_api

    monkeypatch.setattr(feed_api, "MAX_BODY", 1000)
    http, tokens = client
    answer = http.post("/feed/import", content=feed_files(academy)["Eleve"],
                       headers=_bearer(tokens["ent"]))
    assert answer.status_code == 413
    assert answer.json()["code"] == "feed.too_large"
