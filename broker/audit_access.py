"""Who is reading the audit trail, resolved to a :class:`Scope` on every request.

Two ways in, both re-read on each request (a withdrawn role stops working at the next click):

- machines: ``Authorization: Bearer`` with the token of an ``auditor`` client (everything) or
  a ``distributor`` client (its own resources), or the client certificate a trusted
  TLS-terminating proxy forwards, exactly as the other machine APIs (``api_auth``);
- people: an audit session cookie (``gar_audit``, path ``/audit``), opened by pasting an
  auditor's or distributor's token in the sign-in form, or by an assignment officer coming
  from the console (their console session proves who they are).

Like the console's, sessions live in the store, keyed by the SHA-256 of the cookie token.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import Request
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from starlette.responses import Response

from broker import assignments
from broker.api_auth import authenticate, carries_credentials
from broker.audit_scope import EVERYTHING, AuditError, Scope, for_distributor, for_officer
from broker.models import ApiClientRecord, AuditSession
from services.settings import Settings

COOKIE = "gar_audit"
COOKIE_PATH = "/audit"
LIFETIME = timedelta(hours=8)
_MAX_TOKEN = 128
_READERS = ("auditor", "distributor")


@dataclass(frozen=True)
class Reader:
    scope: Scope
    csrf_token: str | None  # None for a bearer-token caller (no form to protect)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _client_scope(session: Session, kind: str, ident: str, name: str) -> Scope:
    if kind == "auditor":
        return EVERYTHING
    if kind == "distributor":
        return for_distributor(session, ident, name)
    raise AuditError("audit.forbidden", 403, kind)


def _officer_scope(session: Session, person_pk: int) -> Scope:
    establishments = assignments.officer_establishments(session, person_pk)
    if not establishments:
        raise AuditError("audit.forbidden", 403, "not an officer any more")
    return for_officer(establishments)


def from_bearer(session: Session, request: Request) -> Reader | None:
    """The machine reader a bearer token (or a trusted forwarded certificate) proves; None
    when the request carries neither.

    A credential that matches no auditor or distributor is ``audit.auth_invalid``, not None.
    """
    if not carries_credentials(request):
        return None
    for kind in _READERS:
        client = authenticate(session, request, kind)
        if client is not None:
            return Reader(_client_scope(session, client.kind, client.ident, client.name), None)
    raise AuditError("audit.auth_invalid", 401)


def from_cookie(session: Session, request: Request, now: datetime) -> Reader | None:
    token = request.cookies.get(COOKIE)
    if not token or len(token) > _MAX_TOKEN:
        return None
    row = session.get(AuditSession, _digest(token))
    if row is None or row.expires_at <= now:
        return None
    if row.client_id is not None:
        client = session.get(ApiClientRecord, row.client_id)
        if client is None or client.kind not in _READERS:
            return None
        return Reader(_client_scope(session, client.kind, client.ident, client.name),
                      row.csrf_token)
    if row.person_pk is None:
        return None
    return Reader(_officer_scope(session, row.person_pk), row.csrf_token)


def reader(session: Session, request: Request, now: datetime) -> Reader:
    """Bearer first (an API client), then the cookie; ``audit.auth_required`` otherwise."""
    found = from_bearer(session, request) or from_cookie(session, request, now)
    if found is None:
        raise AuditError("audit.auth_required", 401)
    return found


def client_for_token(session: Session, token: str) -> ApiClientRecord | None:
    """The auditor or distributor whose token was pasted in the sign-in form."""
    token = token.strip()
    if not token or len(token) > _MAX_TOKEN:
        return None
    record = session.scalar(
        select(ApiClientRecord).where(ApiClientRecord.token_sha256 == _digest(token)))
    return record if record is not None and record.kind in _READERS else None


def open_session(session: Session, *, now: datetime, client_id: int | None = None,
                 person_pk: int | None = None) -> str:
    """A new session for a client or an officer; returns the cookie token (never stored)."""
    if (client_id is None) == (person_pk is None):
        raise ValueError("an audit session is for a client or for a person")
    session.execute(delete(AuditSession).where(AuditSession.expires_at <= now))
    token = secrets.token_urlsafe(32)
    session.add(AuditSession(token_sha256=_digest(token), client_id=client_id,
                             person_pk=person_pk, csrf_token=secrets.token_urlsafe(32),
                             created_at=now, expires_at=now + LIFETIME))
    session.flush()
    return token


def close_session(session: Session, token: str | None) -> None:
    if token and len(token) <= _MAX_TOKEN:
        session.execute(delete(AuditSession).where(AuditSession.token_sha256 == _digest(token)))


def set_cookie(response: Response, token: str, settings: Settings) -> None:
    """HttpOnly, SameSite=Strict (the pages only read; nothing needs cross-site navigation)."""
    response.set_cookie(COOKIE, token, max_age=int(LIFETIME.total_seconds()), path=COOKIE_PATH,
                        httponly=True, samesite="strict",
                        secure=settings.broker_base.startswith("https://"))


def clear_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict",
                           secure=settings.broker_base.startswith("https://"))


def check_csrf(reader: Reader, presented: str) -> None:
    if reader.csrf_token is None:
        return
    if not presented or len(presented) > 128 or not secrets.compare_digest(
            reader.csrf_token.encode(), presented.encode()):
        raise AuditError("audit.csrf", 403)
