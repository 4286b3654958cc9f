"""The schema comes from the Alembic migrations and matches the models exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, select
from sqlalchemy.exc import IntegrityError, StatementError

from broker.db import make_engine, migrate, normalise_url, session_factory
from broker.models import AuditHead, Base, ConsumedAssertion, Establishment, GroupMember


def test_migrations_create_exactly_the_models(migrated: Engine) -> None:
    with migrated.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True})
        assert compare_metadata(context, Base.metadata) == []


def test_migrating_twice_changes_nothing(migrated: Engine) -> None:
    migrate(migrated)
    tables = set(inspect(migrated).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_the_audit_head_row_exists_after_migration(migrated: Engine) -> None:
    with session_factory(migrated)() as session:
        head = session.get(AuditHead, 1)
        assert head is not None and head.last_id is None and head.last_hash == "0" * 64


def test_datetimes_come_back_aware_in_utc(migrated: Engine) -> None:
    paris = timezone(timedelta(hours=1))
    stored = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=paris)
    with session_factory(migrated)() as session:
        session.add(ConsumedAssertion(issuer="https://idp", assertion_id="_a", expires_at=stored))
        session.commit()
    with session_factory(migrated)() as session:
        loaded = session.scalars(select(ConsumedAssertion.expires_at)).one()
    assert loaded == stored and loaded.tzinfo is not None and loaded.utcoffset() == timedelta(0)


def test_a_naive_datetime_is_refused(migrated: Engine) -> None:
    with session_factory(migrated)() as session:
        session.add(ConsumedAssertion(issuer="https://idp", assertion_id="_a",
                                      expires_at=datetime(2026, 1, 1)))
        with pytest.raises(StatementError, match="naive"):
            session.commit()


def test_a_replayed_assertion_id_violates_the_unique_key(migrated: Engine) -> None:
    expires = datetime.now(UTC)
    with session_factory(migrated)() as session:
        session.add(ConsumedAssertion(issuer="https://idp", assertion_id="_a", expires_at=expires))
        session.commit()
        session.add(ConsumedAssertion(issuer="https://idp", assertion_id="_a", expires_at=expires))
        with pytest.raises(IntegrityError):
            session.commit()


def test_foreign_keys_are_enforced(migrated: Engine) -> None:
    with session_factory(migrated)() as session:
        session.add(GroupMember(group_id=999, person_pk=999))
        with pytest.raises(IntegrityError):
            session.commit()


def test_bare_postgresql_urls_use_psycopg() -> None:
    assert normalise_url("postgresql://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"


def test_an_in_memory_sqlite_database_is_shared_by_sessions() -> None:
    engine = make_engine("sqlite://")
    migrate(engine)
    sessions = session_factory(engine)
    with sessions() as session:
        session.add(Establishment(uai="0650499P", name="Collège"))
        session.commit()
    with sessions() as session:
        assert session.get(Establishment, "0650499P") is not None
    engine.dispose()
