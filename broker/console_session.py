"""The assignment console's sessions: a random cookie token, a row in the store, a CSRF token.

Sessions live in the database, not in process memory, so a person signed in through one
broker instance is signed in on all of them. The cookie carries a random token; the row is
found by the token's SHA-256, so reading the table never yields a usable cookie. Each session
has its own CSRF token (synchroniser pattern): every form carries it in a hidden field and
every API call that changes something in the ``X-CSRF-Token`` header.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session
from starlette.responses import Response

from broker.models import ConsoleSession
from services.settings import Settings

COOKIE = "gar_console"
COOKIE_PATH = "/console"
CSRF_HEADER = "X-CSRF-Token"
LIFETIME = timedelta(hours=8)  # a working day; the officer signs in again the next one
_MAX_TOKEN = 128


@dataclass(frozen=True)
class Opened:
    """A new session: the cookie value (shown once, never stored) and its CSRF token."""

    token: str
    csrf_token: str
    expires_at: datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session: Session, *, person_pk: int, now: datetime) -> Opened:
    """Create a session for ``person_pk``; the caller's transaction commits it."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires_at = now + LIFETIME
    session.add(ConsoleSession(token_sha256=_digest(token), person_pk=person_pk, csrf_token=csrf,
                               created_at=now, expires_at=expires_at))
    session.flush()
    return Opened(token=token, csrf_token=csrf, expires_at=expires_at)


def find(session: Session, token: str | None, now: datetime) -> ConsoleSession | None:
    """The live session the cookie names; None when absent, unknown or expired."""
    if not token or len(token) > _MAX_TOKEN:
        return None
    row = session.get(ConsoleSession, _digest(token))
    if row is None or row.expires_at <= now:
        return None
    return row


def close(session: Session, token: str | None) -> None:
    """End the session the cookie names (logout); nothing happens for an unknown one."""
    if token and len(token) <= _MAX_TOKEN:
        session.execute(delete(ConsoleSession).where(ConsoleSession.token_sha256 == _digest(token)))


def purge_expired(session: Session, now: datetime) -> int:
    result = session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)


def set_cookie(response: Response, opened: Opened, settings: Settings) -> None:
    """HttpOnly, SameSite=Lax, only under /console, Secure when the broker is served in https."""
    response.set_cookie(
        COOKIE,
        opened.token,
        max_age=int(LIFETIME.total_seconds()),
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=settings.broker_base.startswith("https://"),
    )


def clear_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        COOKIE,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=settings.broker_base.startswith("https://"),
    )
