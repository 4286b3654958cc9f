"""Migration 0005 adds and removes the description columns without touching other rows."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, func, inspect, select

from broker.db import alembic_config, migrate, session_factory
from broker.models import ResourceAttribute
from broker.seed import seed
from services.dataset import Dataset

COLUMNS = {"thumbnail_url", "levels", "subjects", "pedagogical_types", "document_types"}


def _downgrade_to_0004(engine: Engine) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0004")


@pytest.fixture
def seeded(engine: Engine, academy: Dataset, seeded_sqlite_file: Path) -> Engine:
    """The per-test engine holding the seeded academy (the migration needs its own database)."""
    if engine.dialect.name == "sqlite":
        assert engine.url.database is not None
        shutil.copyfile(seeded_sqlite_file, engine.url.database)
    else:
        migrate(engine)
        with session_factory(engine).begin() as seeding:
            seed(seeding, academy)
    return engine


def test_downgrading_drops_the_columns_and_keeps_the_declared_attributes(
    seeded: Engine,
) -> None:
    engine = seeded
    with session_factory(engine)() as reading:
        declared = reading.scalar(select(func.count()).select_from(ResourceAttribute))
    assert declared
    _downgrade_to_0004(engine)
    assert not COLUMNS & {c["name"] for c in inspect(engine).get_columns("resources")}
    migrate(engine)
    assert {c["name"] for c in inspect(engine).get_columns("resources")} >= COLUMNS
    with session_factory(engine)() as reading:
        assert reading.scalar(select(func.count()).select_from(ResourceAttribute)) == declared
