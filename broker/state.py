"""Login state and the replay cache, both in the database.

Nothing a second broker instance would need lives in process memory: a flow started on one
instance finishes on another, and an assertion consumed anywhere is refused everywhere.
Consumption is a single conditional UPDATE (or a unique INSERT), so two concurrent requests
cannot both succeed.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningUpdate

from broker.models import ConsumedAssertion, LoginState, table

# Built once: each login runs these, and building a statement (and its cache key) cost more
# than running it.
_STATE = select(LoginState).where(LoginState.id == bindparam("id"))
_LOGIN_STATES = table(LoginState)
# The consumption (SAML ACS, OIDC callback): the state is marked used and its row comes back
# in one round trip. Core, not ORM: no identity-map bookkeeping for a row used once.
# (``RETURNING`` on UPDATE: PostgreSQL, and SQLite from 3.35.) A caller may return more with
# it (``saml_sp``: the identity provider's peer row).
TAKE = (
    update(_LOGIN_STATES)
    .where(_LOGIN_STATES.c.id == bindparam("state_id"), _LOGIN_STATES.c.consumed_at.is_(None),
           _LOGIN_STATES.c.expires_at > bindparam("now"),
           _LOGIN_STATES.c.upstream_request_id.is_not(None))
    .values(consumed_at=bindparam("now"))
    .returning(*_LOGIN_STATES.c)
)
_COLUMNS = tuple(column.key for column in _LOGIN_STATES.c)
_SAVE = insert(_LOGIN_STATES)
_CONSUMED = table(ConsumedAssertion)
# On the table, not the mapped class: a Core INSERT skips the ORM's bulk-insert path (its
# per-call bookkeeping cost about 3x the statement itself here), and nothing is loaded back.
_REMEMBER = {
    dialect: module.insert(_CONSUMED)
    .values(issuer=bindparam("issuer"), assertion_id=bindparam("assertion_id"),
            expires_at=bindparam("expires_at"))
    .on_conflict_do_nothing(index_elements=["issuer", "assertion_id"])
    .returning(_CONSUMED.c.id)  # rowcount is not reliable here on psycopg
    for dialect, module in (("postgresql", postgresql), ("sqlite", sqlite))
}


def open_state(
    *,
    flow: str,
    now: datetime,
    lifetime: timedelta,
    acs_url: str,
    sp_entity_id: str | None,
    sp_request_id: str | None,
    relay_state: str | None,
    resource_id: str | None,
    uai: str | None,
    downstream: str = "saml",
    downstream_params: dict[str, Any] | None = None,
) -> LoginState:
    state = LoginState(
        id=secrets.token_urlsafe(24),
        flow=flow,
        created_at=now,
        expires_at=now + lifetime,
        consumed_at=None,
        sp_entity_id=sp_entity_id,
        sp_request_id=sp_request_id,
        acs_url=acs_url,
        relay_state=relay_state,
        resource_id=resource_id,
        uai=uai,
        idp_entity_id=None,
        upstream_request_id=None,
        upstream="saml",
        upstream_params=None,
        downstream=downstream,
        downstream_params=downstream_params,
    )
    # Not in the session: the caller completes the row (the identity provider chosen, the
    # upstream request id), then ``save`` sends it, one INSERT.
    return state


def save(session: Session, state: LoginState) -> None:
    """Insert a new login state, complete: a plain Core INSERT, no unit-of-work flush.

    The state stays out of the session (later changes to it are not saved); a state read back
    later (``pending``) is an ordinary ORM row again.
    """
    session.execute(_SAVE, {name: getattr(state, name) for name in _COLUMNS})


def pending(session: Session, state_id: str, now: datetime) -> LoginState | None:
    """A state that may still be used (not consumed, not expired)."""
    if not state_id or len(state_id) > 64:
        return None
    state = session.scalars(_STATE, {"id": state_id}).first()
    if state is None or state.consumed_at is not None or state.expires_at <= now:
        return None
    return state


def take(
    session: Session, state_id: str, now: datetime, *, statement: ReturningUpdate[Any] = TAKE
) -> Row[Any] | None:
    """Consume a login state whose identity provider was asked, and return its row; else None.

    One ``UPDATE … RETURNING`` (``TAKE``, or a caller's ``TAKE`` returning more) instead of a
    SELECT then a conditional UPDATE: the state is marked used before the answer is even read,
    in the same transaction, so a refused answer (rolled back) leaves it pending, and of two
    concurrent requests for the same state exactly one gets the row (the other waits for the
    row lock, then finds it consumed). An unknown, expired, already used or not yet sent state
    are the same None: the caller cannot tell them apart, nor can whoever posts to it.
    """
    if not state_id or len(state_id) > 64:
        return None
    return session.execute(statement, {"state_id": state_id, "now": now}).first()


def state_of(row: Row[Any]) -> LoginState:
    """The login state in a row ``take`` returned, detached (its changes are not saved)."""
    mapping = row._mapping
    return LoginState(**{name: mapping[name] for name in _COLUMNS})


def remember_assertion(
    session: Session, issuer: str, assertion_id: str, expires_at: datetime
) -> bool:
    """Record a consumed assertion; False when it was seen before (a replay).

    On PostgreSQL and SQLite one ``INSERT … ON CONFLICT DO NOTHING RETURNING`` (one round trip
    instead of SAVEPOINT, INSERT, RELEASE): a concurrent insert of the same id waits for the
    other transaction and then inserts nothing, so exactly one of them gets a row back.
    """
    statement = _REMEMBER.get(session.get_bind().dialect.name)
    if statement is not None:
        values = {"issuer": issuer, "assertion_id": assertion_id, "expires_at": expires_at}
        return session.execute(statement, values).first() is not None
    try:
        with session.begin_nested():
            session.add(
                ConsumedAssertion(issuer=issuer, assertion_id=assertion_id, expires_at=expires_at)
            )
    except IntegrityError:
        return False
    return True


def purge_expired(session: Session, now: datetime) -> None:
    session.execute(delete(ConsumedAssertion).where(ConsumedAssertion.expires_at < now))
    session.execute(delete(LoginState).where(LoginState.expires_at < now - timedelta(days=1)))
