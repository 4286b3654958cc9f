"""CAS service tickets in the database: issued at login, validated once, then useless.

A ticket is ``ST-`` and 64 hex characters (256 random bits; the spec allows only
``[A-Za-z0-9-]``), bound to the exact service URL the login was asked for. Consumption is one
conditional UPDATE, so two validations racing for the same ticket cannot both win, and every
validation attempt consumes the ticket, successful or not (CAS 3.0 §3.1.1).

The row's ``attributes`` column holds what validation answers, until then: the release and
whether the login presented the person's primary credentials (``renew`` at login), which a
validation with ``renew`` requires (§2.5.1; failure ``INVALID_TICKET``, §2.5.3). No proxy
ticket is ever issued: a ``PT-`` ticket is refused with an explanation (§2.5, §2.6).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from broker.models import CasTicket

PREFIX = "ST-"
PROXY_PREFIX = "PT-"
MAX_TICKET = 256  # the spec recommends services accept up to 256 characters
_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")


def new_ticket() -> str:
    return PREFIX + secrets.token_hex(32)


def issue(
    session: Session,
    *,
    service: str,
    provider_entity_id: str,
    resource_id: str,
    delivery_id: str,
    user: str,
    attributes: Mapping[str, Sequence[str]],
    now: datetime,
    lifetime: timedelta,
    primary_credentials: bool = False,
) -> str:
    """Store a fresh ticket for ``service`` and return it; expired tickets are purged first.

    ``primary_credentials``: the login asked for, and got, a fresh authentication (``renew``).
    """
    purge(session, now)
    ticket = new_ticket()
    session.add(
        CasTicket(
            ticket=ticket,
            service=service,
            provider_entity_id=provider_entity_id,
            resource_id=resource_id,
            delivery_id=delivery_id,
            user=user,
            attributes={
                "release": {code: list(values) for code, values in attributes.items()},
                "primary_credentials": primary_credentials,
            },
            created_at=now,
            expires_at=now + lifetime,
            consumed_at=None,
        )
    )
    session.flush()
    return ticket


class Failure(StrEnum):
    """Why a validation failed, as the CAS failure code to answer."""

    INVALID_TICKET = "INVALID_TICKET"
    INVALID_SERVICE = "INVALID_SERVICE"


@dataclass(frozen=True)
class Validated:
    user: str
    attributes: dict[str, list[str]]
    delivery_id: str


@dataclass(frozen=True)
class Refused:
    code: Failure
    description: str


def well_formed(ticket: str) -> bool:
    return (
        ticket.startswith(PREFIX)
        and len(ticket) <= MAX_TICKET
        and all(character in _ALPHABET for character in ticket)
    )


def validate(
    session: Session, ticket: str, service: str, now: datetime, *, renew: bool = False,
    proxy_endpoint: bool = False,
) -> Validated | Refused:
    """Consume ``ticket`` and say whether it was good for ``service``.

    ``renew``: the validation requires a ticket from primary credentials. ``proxy_endpoint``:
    asked at ``proxyValidate``, where a proxy ticket would be acceptable had we issued one.
    The caller commits whatever the outcome: a ticket presented for the wrong service, too
    late, or without the renewal asked for, is invalidated all the same.
    """
    if ticket.startswith(PROXY_PREFIX):
        if proxy_endpoint:
            return Refused(Failure.INVALID_TICKET, f"Ticket {ticket[:64]} not recognized: this "
                           "server issues no proxy tickets")
        return Refused(Failure.INVALID_TICKET, f"Ticket {ticket[:64]} is a proxy ticket: "
                       "serviceValidate accepts service tickets only, and this server issues "
                       "no proxy tickets")
    if not well_formed(ticket):
        return Refused(Failure.INVALID_TICKET, "Ticket not recognized")
    row = session.get(CasTicket, ticket)
    if row is None:
        return Refused(Failure.INVALID_TICKET, f"Ticket {ticket} not recognized")
    result = session.execute(
        update(CasTicket)
        .where(CasTicket.ticket == ticket, CasTicket.consumed_at.is_(None))
        .values(consumed_at=now, attributes=None)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return Refused(Failure.INVALID_TICKET, f"Ticket {ticket} has already been used")
    if row.expires_at <= now:
        return Refused(Failure.INVALID_TICKET, f"Ticket {ticket} has expired")
    if row.service != service:
        return Refused(
            Failure.INVALID_SERVICE,
            f"Ticket {ticket} was not issued for this service; it is now invalidated",
        )
    stored = row.attributes or {}
    if renew and stored.get("primary_credentials") is not True:
        return Refused(
            Failure.INVALID_TICKET,
            f"Ticket {ticket} did not come from an initial login and renew was set on "
            "validation; it is now invalidated",
        )
    release = stored.get("release") or {}
    attributes = {code: [str(v) for v in values] for code, values in release.items()}
    return Validated(row.user, attributes, row.delivery_id)


def purge(session: Session, now: datetime) -> None:
    """Forget tickets a minute after they expired (used or not): nothing needs them then."""
    session.execute(delete(CasTicket).where(CasTicket.expires_at < now - timedelta(minutes=1)))

