"""The rules an ``abonnement`` must follow (GAR_REFERENCE §3), as plain checks over its fields.

Input is the wire form, read by :mod:`broker.subscription_xml`: each field name mapped to the
list of its values (only ``publicCible`` may repeat). Output is :class:`Terms`, typed and
complete, or a :class:`SubscriptionError` naming the first broken rule with a stable code.
Nothing here touches the database except :func:`check_references`, which checks that the
establishment and the resource exist; the licence counts already used are the caller's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from broker.models import Establishment, Resource

AUDIENCES = ("ELEVE", "ENSEIGNANT", "DOCUMENTALISTE", "AUTRE PERSONNEL")
CATEGORIES = ("transferable", "non transferable")
TYPES = ("INDIV", "ETABL")
UNLIMITED = "ILLIMITE"
#: Per-audience count field -> the ``publicCible`` value it needs.
AUDIENCE_COUNTS: Mapping[str, str] = {
    "nbLicenceEleve": "ELEVE",
    "nbLicenceEnseignant": "ENSEIGNANT",
    "nbLicenceProfDoc": "DOCUMENTALISTE",
    "nbLicenceAutrePersonnel": "AUTRE PERSONNEL",
}
#: Wire field order of an ``abonnement`` body.
FIELDS = (
    "idAbonnement",
    "commentaireAbonnement",
    "idDistributeurCom",
    "idRessource",
    "typeIdRessource",
    "libelleRessource",
    "debutValidite",
    "finValidite",
    "anneeFinValidite",
    "uaiEtab",
    "codeNatureUAI",
    "categorieAffectation",
    "typeAffectation",
    "nbLicenceGlobale",
    *AUDIENCE_COUNTS,
    "publicCible",
    "codeProjetRessource",
)
REPEATABLE = frozenset({"publicCible"})
REQUIRED = (
    "idAbonnement",
    "idRessource",
    "typeIdRessource",
    "libelleRessource",
    "debutValidite",
    "categorieAffectation",
    "typeAffectation",
    "publicCible",
)
RESERVED_IDS = frozenset({"abonnements", "categorie"})
DISTRIBUTOR_ID = re.compile(r"[0-9]{9}_[0-9]{16}")
SCHOOL_YEAR = re.compile(r"([0-9]{4})-([0-9]{4})")
MAX_SCHOOL_YEARS = 10
MAX_ID = 45
MAX_COMMENT = 255
MAX_LABEL = 500
MAX_PROJECT = 255
MAX_COUNT_CHARS = 8


class SubscriptionError(Exception):
    """A refused request: HTTP ``status``, stable ``code``, French ``detail``."""

    def __init__(self, code: str, detail: str, status: int = 400) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.status = status


@dataclass(frozen=True)
class Terms:
    """A valid subscription's terms; licence counts ``None`` when not given."""

    id: str
    comment: str | None
    distributor_id: str
    resource_id: str
    resource_label: str
    start_at: datetime
    end_at: datetime
    uai: str | None  # None on an update (the establishment never changes) or by nature
    nature_uai: str | None  # codeNatureUAI on a creation for every establishment of a kind
    category: str
    type: str
    audience: tuple[str, ...]
    licences_global: int | None
    licences_unlimited: bool
    licences_student: int | None
    licences_teacher: int | None
    licences_librarian: int | None
    licences_other: int | None
    project_code: str | None


def check_id(subscription_id: str) -> None:
    """The id rules: ≤ 45 characters, no spaces, not reserved, not starting with ``_``."""
    if not subscription_id:
        raise SubscriptionError("subscription.id_invalid", "idAbonnement est vide.")
    if len(subscription_id) > MAX_ID:
        raise SubscriptionError(
            "subscription.id_invalid", f"idAbonnement dépasse {MAX_ID} caractères."
        )
    if any(c.isspace() for c in subscription_id):
        raise SubscriptionError("subscription.id_invalid", "idAbonnement contient un espace.")
    if subscription_id in RESERVED_IDS:
        raise SubscriptionError(
            "subscription.id_invalid", f"idAbonnement ne peut pas valoir {subscription_id!r}."
        )
    if subscription_id.startswith("_"):
        raise SubscriptionError(
            "subscription.id_invalid", "idAbonnement ne peut pas commencer par « _ »."
        )


def _single(fields: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = fields.get(name)
    if not values:
        return None
    if len(values) > 1 and name not in REPEATABLE:
        raise SubscriptionError("subscription.field_repeated", f"{name} est donné plusieurs fois.")
    return values[0]


def _known_fields(fields: Mapping[str, Sequence[str]]) -> None:
    for name, values in fields.items():
        if name not in FIELDS:
            raise SubscriptionError("subscription.field_unknown", f"Champ inconnu : {name}.")
        if len(values) > 1 and name not in REPEATABLE:
            raise SubscriptionError(
                "subscription.field_repeated", f"{name} est donné plusieurs fois."
            )


def parse_datetime(value: str, name: str) -> datetime:
    """An ISO 8601 date-time (or date); without an offset it is read as UTC."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise SubscriptionError(
            "subscription.date_invalid", f"{name} n'est pas une date ISO 8601 : {value!r}."
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _count(value: str, name: str, *, unlimited_allowed: bool) -> int | None:
    """A licence count; ``None`` means ``ILLIMITE``."""
    if value == UNLIMITED:
        if not unlimited_allowed:
            raise SubscriptionError(
                "subscription.licences_unlimited_per_audience",
                f"{name} ne peut pas valoir ILLIMITE : seul nbLicenceGlobale le peut.",
            )
        return None
    if not value.isascii() or not value.isdigit():
        raise SubscriptionError(
            "subscription.licence_count_invalid",
            f"{name} doit être un nombre entier positif ou ILLIMITE : {value!r}.",
        )
    if len(value) > MAX_COUNT_CHARS:
        raise SubscriptionError(
            "subscription.licence_count_invalid", f"{name} dépasse {MAX_COUNT_CHARS} caractères."
        )
    return int(value)


def _school_year_end(value: str) -> datetime:
    match = SCHOOL_YEAR.fullmatch(value)
    if match is None or int(match[2]) != int(match[1]) + 1:
        raise SubscriptionError(
            "subscription.school_year_invalid",
            f"anneeFinValidite doit être une année scolaire « AAAA-AAAA » : {value!r}.",
        )
    return datetime(int(match[2]), 8, 31, 23, 59, 59, tzinfo=UTC)


def school_year(moment: datetime) -> int:
    """The calendar year a school year starts in (it starts on 1 September)."""
    return moment.year if moment.month >= 9 else moment.year - 1


def _validity(fields: Mapping[str, Sequence[str]]) -> tuple[datetime, datetime]:
    start_text = _single(fields, "debutValidite")
    assert start_text is not None  # required, checked before
    start = parse_datetime(start_text, "debutValidite")
    end_text, year_text = _single(fields, "finValidite"), _single(fields, "anneeFinValidite")
    if end_text is not None and year_text is not None:
        raise SubscriptionError(
            "subscription.end_both", "Donnez finValidite ou anneeFinValidite, pas les deux."
        )
    if end_text is None and year_text is None:
        raise SubscriptionError(
            "subscription.end_missing", "finValidite ou anneeFinValidite est obligatoire."
        )
    end = (
        parse_datetime(end_text, "finValidite")
        if end_text is not None
        else _school_year_end(year_text or "")
    )
    if end <= start:
        raise SubscriptionError(
            "subscription.end_before_start", "La fin de validité précède son début."
        )
    if school_year(end) - school_year(start) + 1 > MAX_SCHOOL_YEARS:
        raise SubscriptionError(
            "subscription.too_long",
            f"Un abonnement couvre au plus {MAX_SCHOOL_YEARS} années scolaires.",
        )
    return start, end


def _audience(fields: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    values = tuple(fields.get("publicCible") or ())
    for value in values:
        if value not in AUDIENCES:
            raise SubscriptionError(
                "subscription.audience_invalid",
                f"publicCible inconnu : {value!r} (ELEVE, ENSEIGNANT, DOCUMENTALISTE, "
                "AUTRE PERSONNEL).",
            )
    if len(set(values)) != len(values):
        raise SubscriptionError("subscription.audience_invalid", "publicCible est répété.")
    return values


def _licences(
    fields: Mapping[str, Sequence[str]], kind: str, audience: tuple[str, ...]
) -> tuple[int | None, bool, dict[str, int | None]]:
    global_text = _single(fields, "nbLicenceGlobale")
    per_audience = {name: _single(fields, name) for name in AUDIENCE_COUNTS}
    given = {name: text for name, text in per_audience.items() if text is not None}
    if global_text is not None and given:
        raise SubscriptionError(
            "subscription.licences_both",
            "Donnez nbLicenceGlobale ou des nombres par public, pas les deux.",
        )
    if kind == "ETABL" and global_text is None:
        raise SubscriptionError(
            "subscription.etabl_licences",
            "Un abonnement ETABL porte nbLicenceGlobale et aucun nombre par public.",
        )
    if global_text is None and not given:
        raise SubscriptionError(
            "subscription.licences_missing", "nbLicenceGlobale ou un nombre par public est requis."
        )
    counts: dict[str, int | None] = {}
    for name, text in given.items():
        if AUDIENCE_COUNTS[name] not in audience:
            raise SubscriptionError(
                "subscription.licences_audience",
                f"{name} est donné mais publicCible ne contient pas {AUDIENCE_COUNTS[name]}.",
            )
        counts[name] = _count(text, name, unlimited_allowed=False)
    if global_text is None:
        return None, False, counts
    number = _count(global_text, "nbLicenceGlobale", unlimited_allowed=True)
    return number, number is None, counts


def _text(
    fields: Mapping[str, Sequence[str]], name: str, limit: int, *, required: bool = False
) -> str | None:
    value = _single(fields, name)
    if value is None:
        if required:
            raise SubscriptionError("subscription.field_missing", f"{name} est obligatoire.")
        return None
    if len(value) > limit:
        raise SubscriptionError(
            "subscription.field_too_long", f"{name} dépasse {limit} caractères."
        )
    return value


def check(
    fields: Mapping[str, Sequence[str]], *, path_id: str, distributor_id: str, creating: bool
) -> Terms:
    """Validate a create (``PUT``) or update (``POST``) body against every §3 rule."""
    check_id(path_id)
    _known_fields(fields)
    for name in REQUIRED:
        if not fields.get(name) or not all(v.strip() for v in fields[name]):
            raise SubscriptionError("subscription.field_missing", f"{name} est obligatoire.")
    body_id = _single(fields, "idAbonnement")
    if body_id != path_id:
        raise SubscriptionError(
            "subscription.id_mismatch",
            "idAbonnement du corps diffère de celui de l'adresse.",
        )
    given_distributor = _single(fields, "idDistributeurCom") or distributor_id
    if not DISTRIBUTOR_ID.fullmatch(given_distributor):
        raise SubscriptionError(
            "subscription.distributor_invalid",
            "idDistributeurCom doit suivre le motif 9 chiffres, _, 16 chiffres.",
        )
    if given_distributor != distributor_id:
        raise SubscriptionError(
            "subscription.distributor_mismatch",
            "idDistributeurCom n'est pas l'identifiant du distributeur authentifié.",
            403,
        )
    uai, nature = _single(fields, "uaiEtab"), _single(fields, "codeNatureUAI")
    if not creating and (uai is not None or nature is not None):
        raise SubscriptionError(
            "subscription.uai_immutable",
            "L'établissement d'un abonnement ne change jamais : retirez uaiEtab de la mise à jour.",
        )
    if creating:
        if uai is not None and nature is not None:
            raise SubscriptionError(
                "subscription.uai_both", "Donnez uaiEtab ou codeNatureUAI, pas les deux."
            )
        if uai is None and nature is None:
            raise SubscriptionError(
                "subscription.field_missing", "uaiEtab ou codeNatureUAI est obligatoire."
            )
    type_id = _single(fields, "typeIdRessource")
    if type_id not in ("ark", "ARK"):
        raise SubscriptionError(
            "subscription.resource_id_type", "typeIdRessource doit valoir « ark »."
        )
    category = _single(fields, "categorieAffectation") or ""
    if category not in CATEGORIES:
        raise SubscriptionError(
            "subscription.category_invalid",
            "categorieAffectation doit valoir « transferable » ou « non transferable ».",
        )
    kind = _single(fields, "typeAffectation") or ""
    if kind not in TYPES:
        raise SubscriptionError(
            "subscription.type_invalid", "typeAffectation doit valoir « INDIV » ou « ETABL »."
        )
    audience = _audience(fields)
    number, unlimited, counts = _licences(fields, kind, audience)
    start, end = _validity(fields)
    return Terms(
        id=path_id,
        comment=_text(fields, "commentaireAbonnement", MAX_COMMENT),
        distributor_id=distributor_id,
        resource_id=_text(fields, "idRessource", 255, required=True) or "",
        resource_label=_text(fields, "libelleRessource", MAX_LABEL, required=True) or "",
        start_at=start,
        end_at=end,
        uai=uai,
        nature_uai=nature,
        category=category,
        type=kind,
        audience=audience,
        licences_global=number,
        licences_unlimited=unlimited,
        licences_student=counts.get("nbLicenceEleve"),
        licences_teacher=counts.get("nbLicenceEnseignant"),
        licences_librarian=counts.get("nbLicenceProfDoc"),
        licences_other=counts.get("nbLicenceAutrePersonnel"),
        project_code=_text(fields, "codeProjetRessource", MAX_PROJECT),
    )


def check_references(
    session: Session, terms: Terms, uai: str | None, *, kind: str | None = None
) -> None:
    """The establishment (or, by nature, its ``kind``) and the resource exist; the resource may
    be subscribed to (``diffusable``); a primary school has no librarian audience."""
    if uai is not None:
        establishment = session.get(Establishment, uai)
        if establishment is None:
            raise SubscriptionError(
                "subscription.uai_unknown", f"Établissement inconnu du GAR : {uai}."
            )
        kind = establishment.kind
    resource = session.get(Resource, terms.resource_id)
    if resource is None:
        raise SubscriptionError(
            "subscription.resource_unknown", f"Ressource inconnue du GAR : {terms.resource_id}."
        )
    if not resource.distributable:
        raise SubscriptionError(
            "subscription.resource_not_diffusable",
            f"La ressource {terms.resource_id} n'est pas diffusable : elle ne peut pas faire "
            "l'objet d'un abonnement"
            + (f" (elle fait partie de la famille de {resource.family_id} : abonnez "
               "l'établissement à cette ressource mère)." if resource.family_id else "."),
        )
    if kind == "ecole" and "DOCUMENTALISTE" in terms.audience:
        raise SubscriptionError(
            "subscription.primary_no_librarian",
            "Une école du premier degré n'a pas de public DOCUMENTALISTE.",
        )
