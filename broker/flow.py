"""How every browser step of a login runs, whatever the protocol on either side.

A step is a function of (session, now) that returns the HTTP answer; it runs in one database
transaction committed only when it succeeds, so a rejected message leaves no trace but the
refusal's own audit record. Routers of every protocol (SAML, OIDC, CAS, the console) use it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.responses import Response

from broker.errors import FlowError
from broker.messages import message_for
from services import web
from services.keys import KeyPair
from services.saml.errors import SamlError
from services.settings import Settings


@dataclass(frozen=True)
class Broker:
    """What every request needs, built once per app (keys parsed once, never per request)."""

    settings: Settings
    sessions: sessionmaker[Session]
    keypair: KeyPair  # signs everything the broker issues now
    ido_secret: bytes
    # Every key a verifier should accept, ``keypair`` first: SAML metadata and the JWKS publish
    # them all, so that a key rollover has an overlap (the next key ahead, the previous after).
    published: tuple[KeyPair, ...] = ()
    # A read replica (``DATABASE_READ_URL``) for what tolerates lag; None: the primary.
    read_sessions: sessionmaker[Session] | None = None

    def verification_keys(self) -> tuple[KeyPair, ...]:
        return self.published or (self.keypair,)

    def report_sessions(self) -> sessionmaker[Session]:
        """Sessions for the audit trail's reading views: the replica when there is one.

        Never for a flow or anything that writes: a flow reads its own writes (a login state
        written by one instance is read by another a moment later), which a replica may not
        hold yet.
        """
        return self.read_sessions or self.sessions


def broker_of(request: Request) -> Broker:
    broker: Broker = request.app.state.broker
    return broker


def run_step(
    request: Request, broker: Broker, step: Callable[[Session, datetime], Response]
) -> Response:
    """Run one flow step in a transaction: commit on success, roll back on any rejection."""
    now = datetime.now(UTC)
    with broker.sessions() as session:
        try:
            response = step(session, now)
        except (SamlError, FlowError) as error:
            session.rollback()
            status = error.status if isinstance(error, FlowError) else 400
            message = message_for(error.code)
            return web.error_page(
                request, status, error.code, message.title, message.reason, message.action
            )
        session.commit()
        return response


async def read_form(request: Request, *, max_fields: int = 10) -> dict[str, str]:
    form = await request.form(max_files=0, max_fields=max_fields)
    return {k: v for k, v in form.items() if isinstance(v, str)}


def state_lifetime(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.login_state_lifetime_seconds)
