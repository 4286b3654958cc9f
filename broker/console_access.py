"""Who is using the assignment console, and what they may act on.

The officer's establishments are read from the directory on every request, never cached in
the session: when the ENT's feed withdraws someone's role, the next click is refused. Every
refusal is a :class:`ConsoleError` with a stable code, which the pages render as a French page
and the API as ``application/problem+json``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from broker import assignments, console_data, console_session
from broker.licences import LicenceError

#: Stable codes of the console, with a French title and reason.
MESSAGES: dict[str, tuple[str, str]] = {
    "console.not_logged_in": ("Connexion requise",
                              "Connectez-vous à la console d'affectation pour continuer."),
    "console.not_officer": ("Accès à la console refusé",
                            "Vous n'êtes responsable d'affectation d'aucun établissement."),
    "console.csrf": ("Requête refusée",
                     "Le jeton de sécurité du formulaire est absent ou invalide : "
                     "rechargez la page et recommencez."),
    "console.establishment_forbidden": (
        "Établissement non autorisé",
        "Vous n'êtes pas responsable d'affectation de cet établissement."),
    "console.delegation_forbidden": (
        "Délégation non autorisée",
        "Seul le responsable d'affectation (et non un délégué) peut déléguer son rôle."),
    "console.subscription_unknown": ("Abonnement introuvable",
                                     "Cet abonnement n'existe pas dans cet établissement."),
    "console.assignment_unknown": ("Affectation introuvable",
                                   "Cette affectation n'existe pas dans cet établissement."),
    "console.person_unknown": ("Personne introuvable",
                               "Cette personne n'appartient pas à cet établissement."),
    "console.bad_request": ("Requête invalide",
                            "Un champ attendu est absent ou n'a pas le bon format."),
}


class ConsoleError(Exception):
    """A console request that cannot be served; ``code`` is the contract."""

    def __init__(self, code: str, status: int, detail: str = "", *, reason: str = "") -> None:
        super().__init__(f"{code}: {detail}")
        self.code, self.status, self.detail, self._reason = code, status, detail, reason

    @property
    def title(self) -> str:
        return MESSAGES.get(self.code, ("Action refusée", ""))[0]

    @property
    def reason(self) -> str:
        return self._reason or MESSAGES.get(self.code, ("", "La demande n'a pas pu aboutir."))[1]


_FORBIDDEN = frozenset({"licence.not_officer", "licence.wrong_establishment",
                        "licence.delegation_refused"})


def from_licence_error(error: LicenceError) -> ConsoleError:
    """The console's view of a domain refusal: same code and wording, a fitting HTTP status."""
    if error.code in _FORBIDDEN:
        status = 403
    elif error.code.startswith("licence.unknown"):
        status = 404
    else:
        status = 409  # exhausted, already assigned, not assignable, expired, not in audience
    return ConsoleError(error.code, status, error.detail, reason=error.message)


@dataclass(frozen=True)
class Officer:
    """A signed-in person with the establishments they manage (uai -> ``RA`` | ``RAD``)."""

    person_pk: int
    name: str
    csrf_token: str
    establishments: dict[str, str]

    def role_in(self, uai: str) -> str:
        """The officer's role in ``uai``; ConsoleError when they do not manage it."""
        role = self.establishments.get(uai)
        if role is None:
            raise ConsoleError("console.establishment_forbidden", 403, uai[:45])
        return role

    def check_csrf(self, presented: str | None) -> None:
        """Refuse a change whose form field or header does not carry this session's token."""
        if not presented or len(presented) > 128 or not secrets.compare_digest(
            self.csrf_token.encode(), presented.encode()
        ):
            raise ConsoleError("console.csrf", 403)

    def require_ra(self, uai: str) -> None:
        if self.role_in(uai) != "RA":
            raise ConsoleError("console.delegation_forbidden", 403, uai[:45])


def current(session: Session, token: str | None, now: datetime) -> Officer | None:
    """The officer the cookie names; None without a live session.

    A live session of someone who manages nothing any more is a ConsoleError, not None: they
    must not be sent through single sign-on again in a loop.
    """
    row = console_session.find(session, token, now)
    if row is None:
        return None
    establishments = assignments.officer_establishments(session, row.person_pk)
    if not establishments:
        raise ConsoleError("console.not_officer", 403)
    return Officer(row.person_pk, console_data.person_name(session, row.person_pk),
                   row.csrf_token, dict(establishments))

