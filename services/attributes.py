"""The attribute catalogue: what the broker may ever release, and to which profile.

This is the data-minimisation policy in data form. A resource declares the codes it needs,
each with a purpose; nothing is implicit — not even ``IDO`` — so a declaration is the whole
truth about what a provider receives and a reviewer reads it in one place. A code outside the
catalogue, or one that no profile of the resource's audience may release, is refused when the
resource is registered (:func:`check_declaration`). At each access the broker releases
declared ∩ ``ALLOWED[profile]`` ∩ present.

Never in the catalogue, hence never released: birth date, national student number (INE),
home address, parents.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

#: Profiles the GAR directory feed carries (GAR_REFERENCE §1).
PROFILES: tuple[str, ...] = ("National_elv", "National_ens", "National_doc")
#: Every national profile code known (GAR_REFERENCE §5), canonical spelling.
KNOWN_PROFILES: tuple[str, ...] = (
    *PROFILES,
    "National_tut",
    "National_dir",
    "National_evs",
    "National_eta",
    "National_col",
    "National_27",
    "National_28",
    "National_29",
)
_BY_LOWER = {profile.lower(): profile for profile in KNOWN_PROFILES}


def normalise_profile(value: str) -> str:
    """Canonical spelling of a profile in any case (ENT directories write ``National_ENS``)."""
    if not isinstance(value, str):
        raise ValueError("a profile is a string")
    found = _BY_LOWER.get(value.strip().lower())
    if found is None:
        raise ValueError(f"unknown profile: {value[:64]!r}")
    return found


#: Subscription audiences (``publicCible``) and the profile each one covers.
AUDIENCES: tuple[str, ...] = ("ELEVE", "ENSEIGNANT", "DOCUMENTALISTE", "AUTRE PERSONNEL")


def audience_of(profile: str) -> str:
    """The ``publicCible`` a profile falls in; every profile outside the three is other staff."""
    canonical = normalise_profile(profile)
    return {
        "National_elv": "ELEVE",
        "National_ens": "ENSEIGNANT",
        "National_doc": "DOCUMENTALISTE",
    }.get(canonical, "AUTRE PERSONNEL")


def profiles_of(audience: str) -> frozenset[str]:
    """The known profiles an audience covers (inverse of :func:`audience_of`)."""
    if audience not in AUDIENCES:
        raise ValueError(f"unknown audience: {audience[:64]!r}")
    return frozenset(p for p in KNOWN_PROFILES if audience_of(p) == audience)


@dataclass(frozen=True)
class AttributeDef:
    code: str
    label: str  # French, shown to people
    description: str  # English, for developers and reviewers


_DEFINITIONS = (
    ("IDO", "Identifiant opaque", "Stable pseudonymous id, 128 hex chars; per provider by default"),
    ("UAI", "Établissement", "UAI of the establishment(s) of the access"),
    ("PRO", "Profil", "National profile code, e.g. National_elv"),
    ("NOM", "Nom", "Last name"),
    ("PRE", "Prénom", "First name"),
    ("CIV", "Civilité", "Civility: 'M.' or 'Mme'"),
    ("DIV", "Classes", "Divisions in the establishment(s) of the access, code##label"),
    ("GRO", "Groupes", "Groups in the establishment(s) of the access, code##label"),
    ("P_MS4", "Niveaux enseignés", "A teacher's levels as MEFSTAT4 codes"),
    ("P_MEL", "Courriel professionnel", "A teacher's or librarian's work e-mail"),
    ("P_MAT", "Matières", "Subject codes in the establishment(s) of the access"),
    ("IDC", "Identifiant de connexion", "<idRessource>_<IDO>"),
)
#: Every code the broker may ever release, in the order releases list them.
CATALOGUE: Mapping[str, AttributeDef] = MappingProxyType(
    {code: AttributeDef(code, label, description) for code, label, description in _DEFINITIONS}
)

_STUDENT = frozenset({"IDO", "UAI", "PRO", "NOM", "PRE", "CIV", "DIV", "GRO", "IDC"})
_TEACHER = frozenset(CATALOGUE)
_LIBRARIAN = _TEACHER - {"P_MS4"}
#: Other staff: who they are and where, never classes, levels or subjects.
_OTHER_STAFF = frozenset({"IDO", "UAI", "PRO", "NOM", "PRE", "CIV", "P_MEL", "IDC"})
#: Legal guardians: a pseudonym and the establishment, nothing about the family.
_GUARDIAN = frozenset({"IDO", "UAI", "PRO", "IDC"})

#: For each profile, the codes it may ever release.
ALLOWED: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "National_elv": _STUDENT,
        "National_ens": _TEACHER,
        "National_doc": _LIBRARIAN,
        "National_tut": _GUARDIAN,
        **{p: _OTHER_STAFF for p in KNOWN_PROFILES if p not in {*PROFILES, "National_tut"}},
    }
)


def check_declaration(codes: Iterable[str], *, profiles: Iterable[str] | None = None) -> list[str]:
    """Problems with a resource's declared codes (French, for the editor); empty when sound.

    ``profiles`` is the resource's audience: a code none of them may release is a problem too
    (a student-only resource asking for ``P_MEL``). Without it only the catalogue is checked.
    """
    problems: list[str] = []
    seen: set[str] = set()
    audience = None if profiles is None else {normalise_profile(p) for p in profiles}
    for code in codes:
        shown = code[:32] if isinstance(code, str) else repr(code)[:32]
        if not isinstance(code, str) or code not in CATALOGUE:
            problems.append(f"Code d'attribut inconnu du catalogue : {shown}")
            continue
        if code in seen:
            problems.append(f"Code d'attribut déclaré deux fois : {code}")
            continue
        seen.add(code)
        if audience is not None and not any(code in ALLOWED[p] for p in audience):
            problems.append(f"Code d'attribut interdit pour le public de la ressource : {code}")
    return problems
