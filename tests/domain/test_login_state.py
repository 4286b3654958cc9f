"""broker.state: a login state is consumed once, by the answer to the request it recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from broker import state as login_state
from broker.db import session_factory
from broker.models import LoginState

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
IDP = "https://idp.example.test/metadata"


def _open(engine: Engine, *, asked: bool = True, lifetime: int = 300) -> str:
    """A login state as the SSO request leaves it: the identity provider asked, or not yet."""
    with session_factory(engine)() as session:
        state = login_state.open_state(
            flow="sp", now=NOW, lifetime=timedelta(seconds=lifetime),
            acs_url="https://sp.example.test/acs", sp_entity_id="https://sp.example.test",
            sp_request_id="_sp1", relay_state="https://sp.example.test/r", resource_id="r1",
            uai=None,
        )
        if asked:
            state.idp_entity_id, state.upstream_request_id = IDP, f"_up{state.id[:8]}"
        login_state.save(session, state)
        session.commit()
        return state.id


def _take(session: Session, state_id: str, now: datetime = NOW) -> LoginState | None:
    row = login_state.take(session, state_id, now)
    return None if row is None else login_state.state_of(row)


def _consumed_at(engine: Engine, state_id: str) -> datetime | None:
    with session_factory(engine)() as session:
        return session.scalars(
            select(LoginState.consumed_at).where(LoginState.id == state_id)).one()


def test_taking_a_state_returns_it_and_marks_it_used(migrated: Engine) -> None:
    state_id = _open(migrated)
    with session_factory(migrated)() as session:
        taken = _take(session, state_id, NOW)
        session.commit()
    assert taken is not None
    assert (taken.id, taken.idp_entity_id, taken.sp_request_id) == (state_id, IDP, "_sp1")
    assert _consumed_at(migrated, state_id) == NOW


def test_a_state_is_taken_once(migrated: Engine) -> None:
    state_id = _open(migrated)
    for expected in (True, False):
        with session_factory(migrated)() as session:
            assert (_take(session, state_id, NOW) is not None) is expected
            session.commit()


def test_a_take_rolled_back_leaves_the_state_pending(migrated: Engine) -> None:
    """A refused answer rolls its transaction back: the right answer may still come."""
    state_id = _open(migrated)
    with session_factory(migrated)() as session:
        assert _take(session, state_id, NOW) is not None
        session.rollback()
    assert _consumed_at(migrated, state_id) is None
    with session_factory(migrated)() as session:
        assert _take(session, state_id, NOW) is not None


def test_an_expired_state_is_not_taken(migrated: Engine) -> None:
    state_id = _open(migrated, lifetime=60)
    with session_factory(migrated)() as session:
        assert _take(session, state_id, NOW + timedelta(seconds=60)) is None


def test_a_state_whose_identity_provider_was_not_asked_is_not_taken(migrated: Engine) -> None:
    """Still on the discovery page: no request was sent, so no answer can be to it."""
    state_id = _open(migrated, asked=False)
    with session_factory(migrated)() as session:
        assert _take(session, state_id, NOW) is None
    assert _consumed_at(migrated, state_id) is None


def test_an_unknown_or_oversized_state_id_is_not_taken(migrated: Engine) -> None:
    with Session(migrated) as session:
        assert _take(session, "", NOW) is None
        assert _take(session, "x" * 65, NOW) is None
        assert _take(session, "unknown", NOW) is None


def test_an_assertion_is_remembered_once_per_issuer(migrated: Engine) -> None:
    """The replay cache: the same assertion id again from the same issuer is a replay."""
    later = NOW + timedelta(minutes=5)
    with session_factory(migrated)() as session:
        assert login_state.remember_assertion(session, IDP, "_a1", later)
        assert not login_state.remember_assertion(session, IDP, "_a1", later)
        assert login_state.remember_assertion(session, "https://other.example.test", "_a1", later)
        session.commit()
    with session_factory(migrated)() as session:
        assert not login_state.remember_assertion(session, IDP, "_a1", later)
