"""Bodies exactly as a distributor's client writes them (GAR_REFERENCE §3), built by hand.

Written as text, not with the broker's own serialiser, so a test fails if the broker drifts
from the documented wire format rather than agreeing with itself.
"""

from __future__ import annotations

from datetime import UTC, datetime
from xml.sax.saxutils import escape

from lxml import etree

from tests.subscriptions.conftest import COLLEGE, MATHS, NS, OWN

FIELD_ORDER = (
    "idAbonnement", "commentaireAbonnement", "idDistributeurCom", "idRessource",
    "typeIdRessource", "libelleRessource", "debutValidite", "finValidite", "anneeFinValidite",
    "uaiEtab", "codeNatureUAI", "categorieAffectation", "typeAffectation", "nbLicenceGlobale",
    "nbLicenceEleve", "nbLicenceEnseignant", "nbLicenceProfDoc", "nbLicenceAutrePersonnel",
    "publicCible", "codeProjetRessource",
)
Value = str | list[str] | None


def school_year() -> int:
    today = datetime.now(UTC)
    return today.year if today.month >= 9 else today.year - 1


def fields(subscription_id: str, **overrides: Value) -> dict[str, Value]:
    """A valid INDIV subscription of the maths textbook for the college; ``None`` drops one."""
    year = school_year()
    values: dict[str, Value] = {
        "idAbonnement": subscription_id,
        "commentaireAbonnement": "Abonnement de test",
        "idDistributeurCom": OWN,
        "idRessource": MATHS,
        "typeIdRessource": "ark",
        "libelleRessource": "Mathématiques 4e",
        "debutValidite": f"{year}-09-01T00:00:00",
        "finValidite": f"{year + 1}-08-31T23:59:59",
        "uaiEtab": COLLEGE,
        "categorieAffectation": "transferable",
        "typeAffectation": "INDIV",
        "nbLicenceEleve": "25",
        "nbLicenceEnseignant": "2",
        "publicCible": ["ELEVE", "ENSEIGNANT"],
        "codeProjetRessource": "PRJ-TEST",
    }
    values.update(overrides)
    return {name: value for name, value in values.items() if value is not None}


def abonnement(subscription_id: str, **overrides: Value) -> bytes:
    values = fields(subscription_id, **overrides)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<abonnement xmlns="{NS}">']
    names = [n for n in FIELD_ORDER if n in values] + [n for n in values if n not in FIELD_ORDER]
    for name in names:
        value = values[name]
        for one in value if isinstance(value, list) else [value]:
            lines.append(f"  <{name}>{escape(str(one))}</{name}>")
    lines.append("</abonnement>")
    return "\n".join(lines).encode()


def filtres(
    *pairs: tuple[str, str],
    by_date: tuple[str, str | None, str | None] | None = None,
    sort: tuple[str, str] | None = None,
    deleted: bool | None = None,
) -> bytes:
    lines = [f'<filtres xmlns="{NS}">']
    for name, value in pairs:
        lines.append(
            f"  <filtre><filtreNom>{name}</filtreNom><filtreValeur>{escape(value)}"
            "</filtreValeur></filtre>"
        )
    if by_date is not None:
        name, before, after = by_date
        lines.append(f"  <filtreParDate><dateName>{name}</dateName>")
        if before:
            lines.append(f"    <dateAvant>{before}</dateAvant>")
        if after:
            lines.append(f"    <dateApres>{after}</dateApres>")
        lines.append("  </filtreParDate>")
    if sort is not None:
        lines.append(f"  <triPar>{sort[0]}</triPar><tri>{sort[1]}</tri>")
    if deleted is not None:
        lines.append(f"  <aboSuppr>{'true' if deleted else 'false'}</aboSuppr>")
    lines.append("</filtres>")
    return "\n".join(lines).encode()


XML_HEADERS = {"Content-Type": "application/xml"}


def read(body: bytes) -> etree._Element:
    return etree.fromstring(body, parser=etree.XMLParser(resolve_entities=False, no_network=True))


def ids(listing: bytes) -> list[str]:
    root = read(listing)
    assert root.tag == f"{{{NS}}}abonnements"
    return [str(e.text) for e in root.iter(f"{{{NS}}}idAbonnement")]


def value(element: etree._Element, name: str) -> list[str]:
    return [str(e.text) for e in element.iter(f"{{{NS}}}{name}")]
