"""File names and kinds of the directory feed, as ENT exporters name them (GAR_REFERENCE §1).

``{idENT}_GAR-ENT_Complet_{yyyyMMdd_HHmmss}_2D_{Kind}_{0000}.xml``: the name is how an ENT's
files say which ENT they come from; the root element says what they hold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

NAMESPACE = "http://data.education.fr/ns/gar"
VERSION = "1.7"
#: The primary-school variant (premier degré): its own namespace and schema version.
NAMESPACE_1D = "http://data.education.fr/ns/gar/1d"
VERSION_1D = "1.4"
#: Variant -> (namespace, version, file-name degree).
VARIANTS: dict[str, tuple[str, str, str]] = {"2d": (NAMESPACE, VERSION, "2D"),
                                             "1d": (NAMESPACE_1D, VERSION_1D, "1D")}
#: The five kinds, in the order they must be imported (establishments first, then people).
KINDS: tuple[str, ...] = ("Etab", "Eleve", "Enseignant", "Groupe", "RespAff")
#: The top-level children each root may hold, in their documented order.
CHILDREN: dict[str, tuple[str, ...]] = {
    "Etab": ("GAREtab", "GARMEF", "GARMatiere"),
    "Eleve": ("GAREleve", "GARPersonMEF", "GAREleveEnseignement"),
    "Enseignant": ("GAREnseignant", "GARPersonMEF"),
    "Groupe": ("GARGroupe", "GARPersonGroupe", "GAREnsGroupeMatiere", "GAREnsClasseMatiere"),
    "RespAff": ("GARRespAff",),
}
#: The same, for primary schools: levels as MEFSTAT4, no MEF, no subject, no teacher links.
CHILDREN_1D: dict[str, tuple[str, ...]] = {
    "Etab": ("GAREtab",),
    "Eleve": ("GAREleve", "GARPersonMEFSTAT4"),
    "Enseignant": ("GAREnseignant", "GARPersonMEFSTAT4"),
    "Groupe": ("GARGroupe", "GARPersonGroupe"),
    "RespAff": ("GARRespAff",),
}
MAX_NODES_PER_FILE = 10_000

_NAME = re.compile(
    r"(?P<ent>[^/\\]{1,64})_GAR-ENT_Complet_(?P<at>\d{8}_\d{6})_(?P<degree>[12]D)_"
    r"(?P<kind>Eleve|Enseignant|Etab|Groupe|RespAff)_(?P<seq>\d{4})\.xml"
)


def children(kind: str, variant: str = "2d") -> tuple[str, ...]:
    return (CHILDREN_1D if variant == "1d" else CHILDREN)[kind]


def root_tag(kind: str, variant: str = "2d") -> str:
    return f"{{{VARIANTS[variant][0]}}}GAR-ENT-{kind}"


def kind_of_root(tag: str) -> str | None:
    """The kind of a root element's qualified tag (either variant), None for anything else."""
    for variant in VARIANTS:
        for kind in KINDS:
            if tag == root_tag(kind, variant):
                return kind
    return None


def variant_of(tag: str) -> str:
    """The variant a qualified tag belongs to, by its namespace ("2d" for anything else)."""
    return "1d" if tag.startswith(f"{{{NAMESPACE_1D}}}") else "2d"


def file_name(ent_id: str, kind: str, at: datetime, sequence: int, variant: str = "2d") -> str:
    degree = VARIANTS[variant][2]
    return f"{ent_id}_GAR-ENT_Complet_{at:%Y%m%d_%H%M%S}_{degree}_{kind}_{sequence:04d}.xml"


@dataclass(frozen=True)
class FeedName:
    ent_id: str
    kind: str
    at: str
    sequence: int
    degree: str = "2D"  # 1D: a primary-school (1d variant) file


def parse_name(name: str) -> FeedName | None:
    """What a conforming file name says; None when the name does not follow the convention."""
    found = _NAME.fullmatch(name)
    if found is None:
        return None
    return FeedName(found["ent"], found["kind"], found["at"], int(found["seq"]), found["degree"])


def import_order(name: str) -> tuple[int, str]:
    """Sort key putting several files in an order that imports cleanly (Etab first)."""
    parsed = parse_name(name)
    rank = KINDS.index(parsed.kind) if parsed else len(KINDS)
    return (rank, name)
