"""The sandbox's CAS 3.0 server: the broker's role toward a CAS publisher, tickets in memory.

The harness decides every ticket: a login it prepared gets one bound to the exact service,
and a scenario may mint one for another service, or one already expired, or send one never
issued. The validation endpoints answer like the broker (``broker/cas_xml.py``): every
attempt consumes the ticket, successful or not (CAS 3.0 §3.1.1), and the sandbox counts the
attempts so a report can say whether the publisher asked at all. Tickets live in this
process: the sandbox must be served by the run that plays the scenarios.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from broker import cas_xml
from broker.cas_services import with_ticket
from broker.cas_tickets import new_ticket, well_formed

LOGIN_PATH = "/cas/login"
VALIDATE_PATHS = ("/cas/serviceValidate", "/cas/p3/serviceValidate")
LIFETIME_SECONDS = 60.0


@dataclass
class _Ticket:
    service: str
    user: str
    attributes: dict[str, list[str]]
    expires: float
    consumed: bool = False


@dataclass
class CasTickets:
    """Tickets and prepared logins, shared by the player (issuing) and the served sandbox
    (validating) across threads, hence the lock."""

    _tickets: dict[str, _Ticket] = field(default_factory=dict)
    _prepared: dict[str, tuple[dict[str, list[str]], str | None]] = field(default_factory=dict)
    _attempts: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def prepare(self, service: str, attributes: Mapping[str, Sequence[str]], *,
                user: str | None = None) -> None:
        """The next ``/cas/login`` for ``service`` logs this person in (as ``user``, or an
        opaque ``cas:user`` of its own)."""
        with self._lock:
            self._prepared[service] = ({k: list(v) for k, v in attributes.items()}, user)

    def login(self, service: str) -> str | None:
        with self._lock:
            prepared = self._prepared.pop(service, None)
        return None if prepared is None else self.issue(service, prepared[0], user=prepared[1])

    def issue(self, service: str, attributes: Mapping[str, Sequence[str]], *,
              age_seconds: float = 0.0, user: str | None = None) -> str:
        """A ticket for ``service``; ``age_seconds`` beyond the lifetime makes it expired."""
        ticket = new_ticket()
        # Opaque and new per ticket unless told: publishers must key on IDO, not on cas:user.
        user = user or secrets.token_hex(16)
        with self._lock:
            self._tickets[ticket] = _Ticket(
                service, user, {k: list(v) for k, v in attributes.items()},
                time.monotonic() + LIFETIME_SECONDS - age_seconds)
        return ticket

    def attempts(self, ticket: str) -> int:
        """How many validations of ``ticket`` the sandbox received."""
        with self._lock:
            return self._attempts.get(ticket, 0)

    def validate(self, ticket: str, service: str) -> tuple[str, dict[str, list[str]]] | tuple[
            str, str]:
        """(user, attributes) on success, (code, description) on failure; always consumes."""
        with self._lock:
            self._attempts[ticket] = self._attempts.get(ticket, 0) + 1
            found = self._tickets.get(ticket) if well_formed(ticket) else None
            if found is None:
                return "INVALID_TICKET", f"Ticket {ticket[:80]} not recognized"
            if found.consumed:
                return "INVALID_TICKET", f"Ticket {ticket} has already been used"
            found.consumed = True
            if found.expires <= time.monotonic():
                return "INVALID_TICKET", f"Ticket {ticket} has expired"
            if found.service != service:
                return "INVALID_SERVICE", f"Ticket {ticket} was not issued for this service"
            return found.user, found.attributes


def install(app: FastAPI, tickets: CasTickets) -> None:
    """``/cas/login`` (prepared logins only) and both validation endpoints."""

    @app.get(LOGIN_PATH, response_model=None)
    async def login(service: str = "") -> Response:
        ticket = tickets.login(service) if service else None
        if ticket is None:
            return HTMLResponse(
                "<!DOCTYPE html><html lang=\"fr\"><head><meta charset=\"utf-8\">"
                "<title>Banc de conformité GAR</title></head><body><main>"
                "<h1>Banc de conformité GAR (CAS)</h1><p>Ce serveur CAS de test ne connecte "
                "personne de lui-même : le banc de conformité prépare chaque connexion pendant "
                "l'exécution des scénarios.</p></main></body></html>")
        return RedirectResponse(with_ticket(service, ticket), status_code=302,
                                headers={"Cache-Control": "no-store"})

    async def validate(request: Request) -> Response:
        params = request.query_params
        fmt = (cas_xml.Format.JSON if params.get("format", "").upper() == "JSON"
               else cas_xml.Format.XML)
        ticket, service = params.get("ticket", ""), params.get("service", "")
        if not ticket or not service:
            body = cas_xml.failure("INVALID_REQUEST", "ticket and service are required", fmt)
        else:
            first, second = tickets.validate(ticket, service)
            body = (cas_xml.success(first, second, fmt) if isinstance(second, dict)
                    else cas_xml.failure(first, second, fmt))
        return Response(body, media_type=cas_xml.media_type(fmt),
                        headers={"Cache-Control": "no-store"})

    for path in VALIDATE_PATHS:
        app.add_api_route(path, validate, methods=["GET"], response_model=None)
