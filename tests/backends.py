"""The databases a database test runs on: SQLite always, PostgreSQL when TEST_POSTGRES_URL is set.

One place for the backend parameters and for the throw-away PostgreSQL schema, so every test
folder isolates its PostgreSQL tests the same way.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from broker.db import normalise_url

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgres",
        id="postgres",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(not POSTGRES_URL, reason="TEST_POSTGRES_URL is not set"),
        ],
    ),
]


@contextmanager
def postgres_schema(prefix: str) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a new schema, dropped (with its tables) afterwards."""
    assert POSTGRES_URL is not None
    schema = f"{prefix}_{uuid.uuid4().hex[:16]}"
    admin = create_engine(normalise_url(POSTGRES_URL))
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(normalise_url(POSTGRES_URL)).update_query_dict(
        {"options": f"-csearch_path={schema}"}
    )
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
