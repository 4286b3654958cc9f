"""The ScoLOMFR vocabularies a resource is described with in the mediacentre, and GAR's types.

The mediacentre list (GAR_REFERENCE §2) describes each resource with lists of ``{uri, nom}``
terms from four ScoLOMFR vocabularies: pedagogical type (010), document typology (005),
educational level (022) and teaching domain (015); and with a presentation type
``{code, nom}`` from the GAR's own short list (``MAN``, ``DIC``, ``MUL``, ``PRO``).

The broker stores term *ids* (``scolomfr-voc-022-num-021``) and this module is the one place
that turns them into the URI and label the wire carries, so a resource can only be described
with terms the broker knows (:func:`check_terms`, run when the catalogue is seeded).

Only a small subset of each vocabulary is listed: the terms the synthetic catalogue uses.
Ids and labels come from public GAR sample answers and ScoLOMFR test data where those show
them (levels 018 « 6e », 020 « 5e », 021 « 4e », 023 « 3e »; 010-014, 010-006, 010-027,
``lecture``; 005-024, 005-039, 005-034, 005-032; 015-1357, 015-1391, 015-1002); the other
ids are illustrative (*unverified* against the published vocabularies).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

CONCEPT_BASE = "http://data.education.fr/voc/scolomfr/concept/"

#: The label GAR puts on every resource it lists (``nomSourceEtiquetteGar``).
SOURCE_LABEL = "Accessible via le Gestionnaire d’accès aux ressources (GAR)"


@dataclass(frozen=True)
class Term:
    """One vocabulary term: its id (last URI segment) and French label."""

    id: str
    label: str

    @property
    def uri(self) -> str:
        return CONCEPT_BASE + self.id


def _vocabulary(*pairs: tuple[str, str]) -> Mapping[str, Term]:
    return MappingProxyType({term_id: Term(term_id, label) for term_id, label in pairs})


#: ScoLOMFR 022, educational level (niveauEducatif), in school order.
LEVELS = _vocabulary(
    ("scolomfr-voc-022-num-015", "CM2"),
    ("scolomfr-voc-022-num-018", "6e"),
    ("scolomfr-voc-022-num-020", "5e"),
    ("scolomfr-voc-022-num-021", "4e"),
    ("scolomfr-voc-022-num-023", "3e"),
    ("scolomfr-voc-022-num-027", "2de générale et technologique"),
    ("scolomfr-voc-022-num-087", "1re générale"),
)

#: ScoLOMFR 015, teaching domain (domaineEnseignement).
SUBJECTS = _vocabulary(
    ("scolomfr-voc-015-num-1357", "français (cycle 3)"),
    ("scolomfr-voc-015-num-1391", "français (cycle 4)"),
    ("scolomfr-voc-015-num-1412", "mathématiques (cycle 4)"),
    ("scolomfr-voc-015-num-1002", "géographie (6e)"),
    ("scolomfr-voc-015-num-1430", "enseignement moral et civique (cycle 4)"),
    ("scolomfr-voc-015-num-1388", "espagnol (lycée)"),
)

#: ScoLOMFR 010, pedagogical type (typePedagogique).
PEDAGOGICAL_TYPES = _vocabulary(
    ("scolomfr-voc-010-num-014", "manuel d'enseignement"),
    ("scolomfr-voc-010-num-006", "étude de cas"),
    ("scolomfr-voc-010-num-027", "activité pédagogique"),
    ("lecture", "cours / présentation"),
)

#: ScoLOMFR 005, document typology (typologieDocument).
DOCUMENT_TYPES = _vocabulary(
    ("scolomfr-voc-005-num-024", "livre numérique"),
    ("scolomfr-voc-005-num-039", "site Web"),
    ("scolomfr-voc-005-num-034", "présentation multimédia"),
    ("scolomfr-voc-005-num-032", "photographie"),
)

#: GAR presentation types (typePresentation), code -> label.
PRESENTATIONS: Mapping[str, str] = MappingProxyType({
    "MAN": "manuels numériques",
    "DIC": "ressources de référence, dictionnaires et encyclopédies",
    "MUL": "ressources d'enseignement multimédias",
    "PRO": "ressources de production pédagogique",
})

#: Each described field of a resource and the vocabulary its terms come from.
VOCABULARIES: Mapping[str, Mapping[str, Term]] = MappingProxyType({
    "levels": LEVELS,
    "subjects": SUBJECTS,
    "pedagogical_types": PEDAGOGICAL_TYPES,
    "document_types": DOCUMENT_TYPES,
})


def terms(vocabulary: Mapping[str, Term], ids: Iterable[str] | None) -> list[Term]:
    """The terms of ``ids`` in the order given; an id outside the vocabulary keeps its id.

    Stored descriptions are checked when written, so the fallback only shows a term the
    vocabulary has since dropped, rather than hiding it.
    """
    return [vocabulary.get(term_id) or Term(term_id, term_id) for term_id in ids or ()]


def check_terms(field: str, ids: Iterable[str]) -> list[str]:
    """Problems with a resource's ``field`` terms (French); empty when all are known."""
    vocabulary = VOCABULARIES[field]
    return [f"Terme inconnu du vocabulaire ({field}) : {term_id[:64]}"
            for term_id in ids if term_id not in vocabulary]


def check_presentation(code: str | None) -> list[str]:
    if code is None or code in PRESENTATIONS:
        return []
    return [f"Type de présentation inconnu : {code[:16]}"]
