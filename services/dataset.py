"""The synthetic academy: establishments, people, providers, resources, subscriptions.

Pure and deterministic: the broker's seed and the identity-provider mock both call
:func:`build` and must agree on every login, id and join key without sharing a database.
Only ``today`` moves the subscription dates (so the expired one is always expired and the
others always valid); everything else depends on ``seed`` alone.

All of it is invented: names, UAIs (valid check letters, department 035), MEF and MEFSTAT4
codes (real shapes, illustrative values), e-mail addresses. Passwords are test data shown on
the login page.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from services.uai import make_uai

ENT_ID = "ENT-TESTBED"
ACADEMY = "ACA-RENNES"
PASSWORD = "motdepasse"  # noqa: S105 - shown on the mock's login page, test data only

COLLEGE_UAI = make_uai(359901)
LYCEE_UAI = make_uai(359902)
ECOLE_UAI = make_uai(359903)

PROVIDER_MOCK_ID = "provider-mock"
EDITIONS_EXEMPLE_ID = "editions-exemple"
EDITIONS_EXEMPLE_ENTITY_ID = "https://editions-exemple.invalid/saml/metadata"
MOCK_DISTRIBUTOR = "123456789_0000000000000001"
EXEMPLE_DISTRIBUTOR = "987654321_0000000000000001"


@dataclass(frozen=True)
class Establishment:
    uai: str
    name: str
    kind: str  # "ecole" | "college" | "lycee"
    academy: str
    city: str


@dataclass(frozen=True)
class Group:
    """A class (``DIVISION``) or a group (``GROUPE``) drawing from some classes."""

    uai: str
    code: str
    label: str
    status: str
    divisions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Mef:
    uai: str
    code: str  # 11 characters
    label: str
    mefstat4: str


@dataclass(frozen=True)
class Subject:
    uai: str
    code: str
    label: str


@dataclass(frozen=True)
class Person:
    person_id: str  # GARPersonIdentifiant, ≤ 64 characters
    login: str
    password: str
    last_name: str
    first_name: str
    civility: str | None
    birth_date: date | None
    emails: tuple[str, ...]  # professional, teachers and librarians only
    join_key: str  # ÉduConnect join key into the academic directory (AAF id)
    ine: str | None  # students only; present so tests can prove it is never released
    profiles: tuple[tuple[str, str], ...]  # (uai, profile)
    establishments: tuple[str, ...]
    divisions: tuple[tuple[str, str, str], ...] = ()  # (uai, code, label)
    groups: tuple[tuple[str, str, str], ...] = ()  # (uai, code, label)
    mef: tuple[tuple[str, str], ...] = ()  # (uai, MEF code)
    subjects: tuple[tuple[str, str], ...] = ()  # (uai, subject code)
    disciplines: tuple[tuple[str, str], ...] = ()  # (uai, discipline code), teachers
    levels: tuple[tuple[str, str], ...] = ()  # (uai, MEFSTAT4), teachers
    respaff: tuple[str, ...] = ()  # UAIs where the person is an assignment officer
    persona: str | None = None  # French label in the IdP persona picker


@dataclass(frozen=True)
class Provider:
    id: str
    entity_id: str
    name: str
    distributor_id: str


@dataclass(frozen=True)
class DeclaredAttribute:
    code: str
    purpose: str  # French


@dataclass(frozen=True)
class Resource:
    id: str  # ARK
    slug: str  # path segment at the provider: {provider_base}/resource/{slug}
    provider_id: str
    title: str
    editor_id: str
    editor_name: str
    access_url: str
    protocol: str  # "saml" | "cas"
    delivery: str  # "assigned" | "automatic"
    presentation: str  # typePresentation code: MAN, DIC, MUL, PRO
    attributes: tuple[DeclaredAttribute, ...]
    # Mediacentre description (services.scolomfr term ids). A thumbnail path (no host) is
    # one the broker serves itself, as the real GAR hosts the thumbnails it lists.
    thumbnail_url: str | None = None
    levels: tuple[str, ...] = ()  # ScoLOMFR 022
    subjects: tuple[str, ...] = ()  # ScoLOMFR 015
    pedagogical_types: tuple[str, ...] = ()  # ScoLOMFR 010
    document_types: tuple[str, ...] = ()  # ScoLOMFR 005
    # Diffusables flags and family (broker.resource_families): affichable, diffusable, mother.
    displayable: bool = True
    distributable: bool = True
    family_id: str | None = None


@dataclass(frozen=True)
class Subscription:
    id: str  # ≤ 45 characters, no spaces
    resource_id: str
    uai: str
    distributor_id: str
    comment: str
    start: datetime  # UTC
    end: datetime  # UTC
    type: str  # "INDIV" | "ETABL"
    category: str  # "transferable" | "non transferable"
    audience: tuple[str, ...]  # ELEVE, ENSEIGNANT, DOCUMENTALISTE, AUTRE PERSONNEL
    licences_global: int | None = None
    licences_unlimited: bool = False
    licences_student: int | None = None
    licences_teacher: int | None = None
    licences_librarian: int | None = None
    licences_other: int | None = None
    project_code: str | None = None


@dataclass(frozen=True)
class Assignment:
    subscription_id: str
    target_kind: str  # "person" | "division" | "group" | "profile"
    target_value: str  # person_id, group code, or profile code


@dataclass(frozen=True)
class Dataset:
    ent_id: str
    academy: str
    establishments: tuple[Establishment, ...]
    groups: tuple[Group, ...]
    mefs: tuple[Mef, ...]
    subjects: tuple[Subject, ...]
    persons: tuple[Person, ...]
    providers: tuple[Provider, ...]
    resources: tuple[Resource, ...]
    subscriptions: tuple[Subscription, ...]
    assignments: tuple[Assignment, ...]

    def person(self, login: str) -> Person:
        """The person with this login; KeyError when none."""
        for person in self.persons:
            if person.login == login:
                return person
        raise KeyError(login)

    def resource(self, slug: str) -> Resource:
        for resource in self.resources:
            if resource.slug == slug:
                return resource
        raise KeyError(slug)

    def personas(self) -> tuple[Person, ...]:
        return tuple(p for p in self.persons if p.persona is not None)


# --- the fixed parts ---------------------------------------------------------------------

_ESTABLISHMENTS = (
    Establishment(COLLEGE_UAI, "Collège Anne de Bretagne", "college", ACADEMY, "Rennes"),
    Establishment(LYCEE_UAI, "Lycée Chateaubriand-Exemple", "lycee", ACADEMY, "Rennes"),
    Establishment(ECOLE_UAI, "École élémentaire des Lices", "ecole", ACADEMY, "Rennes"),
)

_GROUPS = (
    Group(COLLEGE_UAI, "4A", "4A", "DIVISION"),
    Group(COLLEGE_UAI, "4B", "4B", "DIVISION"),
    Group(COLLEGE_UAI, "3A", "3A", "DIVISION"),
    Group(COLLEGE_UAI, "LATIN4", "Latin 4e", "GROUPE", ("4A", "4B")),
    Group(LYCEE_UAI, "2NDE04", "2NDE04", "DIVISION"),
    Group(LYCEE_UAI, "1G02", "1G02", "DIVISION"),
    Group(LYCEE_UAI, "ESP-LV2", "Espagnol LV2", "GROUPE", ("2NDE04",)),
    Group(ECOLE_UAI, "CM2A", "CM2 A", "DIVISION"),
)

_MEFS = (
    Mef(COLLEGE_UAI, "10210001110", "4EME", "2113"),
    Mef(COLLEGE_UAI, "10310019110", "3EME", "2114"),
    Mef(LYCEE_UAI, "20010018110", "2NDE GENERALE ET TECHNOLOGIQUE", "2211"),
    Mef(LYCEE_UAI, "20111000110", "1ERE GENERALE", "2212"),
    Mef(ECOLE_UAI, "00000005110", "CM2", "1115"),
)
_MEF_OF_DIVISION = {
    (COLLEGE_UAI, "4A"): "10210001110",
    (COLLEGE_UAI, "4B"): "10210001110",
    (COLLEGE_UAI, "3A"): "10310019110",
    (LYCEE_UAI, "2NDE04"): "20010018110",
    (LYCEE_UAI, "1G02"): "20111000110",
    (ECOLE_UAI, "CM2A"): "00000005110",
}
_MATHS, _FRANCAIS, _ANGLAIS, _LATIN, _HISTGEO, _ESPAGNOL, _DOC = (
    "061300", "020100", "030201", "020700", "040300", "030602", "000100")
_SUBJECTS = tuple(
    Subject(uai, code, label)
    for uai in (COLLEGE_UAI, LYCEE_UAI)
    for code, label in (
        (_MATHS, "MATHEMATIQUES"),
        (_FRANCAIS, "FRANCAIS"),
        (_ANGLAIS, "ANGLAIS LV1"),
        (_LATIN, "LATIN"),
        (_HISTGEO, "HISTOIRE-GEOGRAPHIE"),
        (_ESPAGNOL, "ESPAGNOL LV2"),
        (_DOC, "DOCUMENTATION"),
    )
)

_FIRST_F = ("Léa", "Chloé", "Manon", "Inès", "Jade", "Louise", "Camille", "Zoé", "Lina", "Emma")
_FIRST_M = ("Lucas", "Hugo", "Louis", "Gabriel", "Arthur", "Jules", "Adam", "Raphaël", "Tom",
            "Noah")
_LAST = ("Le Gall", "Morel", "Fournier", "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine",
         "Rousseau", "Vincent", "Muller", "Lefèvre", "Faure", "André", "Mercier", "Blanc",
         "Guérin", "Boyer", "Garnier", "Chevalier", "Le Roux", "Tanguy", "Kerjean", "Le Bihan")


def _division(uai: str, code: str) -> tuple[str, str, str]:
    for group in _GROUPS:
        if group.uai == uai and group.code == code:
            return (uai, group.code, group.label)
    raise KeyError((uai, code))


class _Numbers:
    """Sequential ids, so every person's id, join key and INE are stable across builds."""

    def __init__(self) -> None:
        self.count = 0

    def next(self) -> int:
        self.count += 1
        return self.count


def _student(
    n: int, login: str, first: str, last: str, civility: str, born: date, uai: str,
    division: str, groups: tuple[str, ...] = (), subjects: tuple[str, ...] = (),
    persona: str | None = None,
) -> Person:
    return Person(
        person_id=f"elv-{n:06d}",
        login=login,
        password=PASSWORD,
        last_name=last,
        first_name=first,
        civility=civility,
        birth_date=born,
        emails=(),
        join_key=f"{1_000_000 + n}",
        ine=f"{100_000_000 + n * 7919:09d}AB",
        profiles=((uai, "National_elv"),),
        establishments=(uai,),
        divisions=(_division(uai, division),),
        groups=tuple(_division(uai, g) for g in groups),
        mef=((uai, _MEF_OF_DIVISION[(uai, division)]),),
        subjects=tuple((uai, s) for s in subjects),
        persona=persona,
    )


def _email(first: str, last: str) -> str:
    plain = (f"{first}.{last}".lower().replace(" ", "-").replace("é", "e").replace("è", "e")
             .replace("ë", "e").replace("ï", "i").replace("ç", "c"))
    return f"{plain}@ac-rennes.fr"


def _fixed_persons(numbers: _Numbers) -> list[Person]:
    persons = [
        _student(numbers.next(), "eleve.assigne", "Léa", "Martin", "Mme", date(2012, 3, 14),
                 COLLEGE_UAI, "4A", ("LATIN4",), (_MATHS, _FRANCAIS, _LATIN),
                 "Élève de 4e A, manuel de mathématiques attribué"),
        _student(numbers.next(), "eleve.sans.licence", "Hugo", "Bernard", "M.", date(2012, 7, 2),
                 COLLEGE_UAI, "4B", (), (_MATHS, _FRANCAIS),
                 "Élève de 4e B, sans licence du manuel"),
        _student(numbers.next(), "eleve.lycee", "Nathan", "Petit", "M.", date(2010, 11, 25),
                 LYCEE_UAI, "2NDE04", ("ESP-LV2",), (_MATHS, _ESPAGNOL),
                 "Élève de seconde au lycée"),
    ]
    n = numbers.next()
    persons.append(Person(
        person_id=f"ens-{n:06d}", login="enseignant", password=PASSWORD,
        last_name="Dubois", first_name="Claire", civility="Mme", birth_date=date(1981, 5, 9),
        emails=(_email("Claire", "Dubois"),), join_key=f"{1_000_000 + n}", ine=None,
        profiles=((COLLEGE_UAI, "National_ens"), (LYCEE_UAI, "National_ens")),
        establishments=(COLLEGE_UAI, LYCEE_UAI),
        divisions=(_division(COLLEGE_UAI, "4A"), _division(COLLEGE_UAI, "4B"),
                   _division(LYCEE_UAI, "2NDE04")),
        groups=(_division(COLLEGE_UAI, "LATIN4"),),
        mef=((COLLEGE_UAI, "10210001110"), (LYCEE_UAI, "20010018110")),
        subjects=((COLLEGE_UAI, _MATHS), (LYCEE_UAI, _MATHS)),
        disciplines=((COLLEGE_UAI, "L1300"), (LYCEE_UAI, "L1300")),
        levels=((COLLEGE_UAI, "2113"), (LYCEE_UAI, "2211")),
        persona="Enseignante de mathématiques, collège et lycée",
    ))
    n = numbers.next()
    persons.append(Person(
        person_id=f"doc-{n:06d}", login="documentaliste", password=PASSWORD,
        last_name="Leroy", first_name="Sophie", civility="Mme", birth_date=date(1976, 1, 30),
        emails=(_email("Sophie", "Leroy"),), join_key=f"{1_000_000 + n}", ine=None,
        profiles=((COLLEGE_UAI, "National_doc"),), establishments=(COLLEGE_UAI,),
        subjects=((COLLEGE_UAI, _DOC),), disciplines=((COLLEGE_UAI, "L0080"),),
        persona="Professeure documentaliste du collège",
    ))
    # The GAR feed knows only three profiles: ENTs send heads of establishment as teachers
    # (National_ens) and declare them assignment officers in GAR-ENT-RespAff.
    n = numbers.next()
    persons.append(Person(
        person_id=f"dir-{n:06d}", login="chef.etablissement", password=PASSWORD,
        last_name="Moreau", first_name="Philippe", civility="M.", birth_date=date(1968, 9, 12),
        emails=(_email("Philippe", "Moreau"),), join_key=f"{1_000_000 + n}", ine=None,
        profiles=((COLLEGE_UAI, "National_ens"),), establishments=(COLLEGE_UAI,),
        respaff=(COLLEGE_UAI,),
        persona="Principal du collège, responsable d'affectation",
    ))
    return persons


def _extra_persons(numbers: _Numbers, rng: random.Random) -> list[Person]:
    persons: list[Person] = []
    classes = ((COLLEGE_UAI, "4A"), (COLLEGE_UAI, "4B"), (COLLEGE_UAI, "3A"),
               (LYCEE_UAI, "2NDE04"), (LYCEE_UAI, "1G02"), (ECOLE_UAI, "CM2A"))
    born_year = {"4A": 2012, "4B": 2012, "3A": 2011, "2NDE04": 2010, "1G02": 2009, "CM2A": 2015}
    for i in range(16):
        uai, division = classes[i % len(classes)]
        female = rng.random() < 0.5
        first = rng.choice(_FIRST_F if female else _FIRST_M)
        last = rng.choice(_LAST)
        born = date(born_year[division], 1, 1) + timedelta(days=rng.randrange(365))
        subjects = () if uai == ECOLE_UAI else (_MATHS, _FRANCAIS)
        persons.append(_student(numbers.next(), f"eleve.{i + 1:02d}", first, last,
                                "Mme" if female else "M.", born, uai, division, (), subjects))
    staff = ((COLLEGE_UAI, "3A", _HISTGEO, "L1000", "2114"),
             (COLLEGE_UAI, "4B", _ANGLAIS, "L0422", "2113"),
             (LYCEE_UAI, "1G02", _FRANCAIS, "L0202", "2212"),
             (ECOLE_UAI, "CM2A", None, None, "1115"))
    for i, (uai, division, subject, discipline, level) in enumerate(staff):
        n = numbers.next()
        female = rng.random() < 0.5
        first = rng.choice(_FIRST_F if female else _FIRST_M)
        last = rng.choice(_LAST)
        persons.append(Person(
            person_id=f"ens-{n:06d}", login=f"enseignant.{i + 1:02d}", password=PASSWORD,
            last_name=last, first_name=first, civility="Mme" if female else "M.",
            birth_date=date(1970 + rng.randrange(25), 1 + rng.randrange(12), 1 + rng.randrange(28)),
            emails=(_email(first, last),), join_key=f"{1_000_000 + n}", ine=None,
            profiles=((uai, "National_ens"),), establishments=(uai,),
            divisions=(_division(uai, division),),
            subjects=((uai, subject),) if subject else (),
            disciplines=((uai, discipline),) if discipline else (),
            levels=((uai, level),),
            # In primary schools every teacher is an assignment officer.
            respaff=(uai,) if uai == ECOLE_UAI else (),
        ))
    return persons


# What the mediacentre shows of each resource: ScoLOMFR term ids (services.scolomfr) and a
# thumbnail the broker serves. Levels and subjects are what its filters work on.
_LEVEL_6E, _LEVEL_5E, _LEVEL_4E, _LEVEL_3E, _LEVEL_2DE = (
    "scolomfr-voc-022-num-018", "scolomfr-voc-022-num-020", "scolomfr-voc-022-num-021",
    "scolomfr-voc-022-num-023", "scolomfr-voc-022-num-027")
_DESCRIPTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "manuel-maths-4e": {
        "levels": (_LEVEL_4E,), "subjects": ("scolomfr-voc-015-num-1412",),
        "pedagogical_types": ("scolomfr-voc-010-num-014", "scolomfr-voc-010-num-027"),
        "document_types": ("scolomfr-voc-005-num-024",)},
    "dictionnaire": {
        "levels": (_LEVEL_6E, _LEVEL_5E, _LEVEL_4E, _LEVEL_3E, _LEVEL_2DE),
        "subjects": ("scolomfr-voc-015-num-1357", "scolomfr-voc-015-num-1391"),
        "pedagogical_types": ("lecture",), "document_types": ("scolomfr-voc-005-num-039",)},
    "ressource-institutionnelle": {
        "levels": (_LEVEL_5E, _LEVEL_4E, _LEVEL_3E), "subjects": ("scolomfr-voc-015-num-1430",),
        "pedagogical_types": ("scolomfr-voc-010-num-027",),
        "document_types": ("scolomfr-voc-005-num-034",)},
    "ressource-expiree": {
        "levels": (_LEVEL_3E,), "subjects": ("scolomfr-voc-015-num-1391",),
        "pedagogical_types": ("scolomfr-voc-010-num-027",),
        "document_types": ("scolomfr-voc-005-num-039",)},
    "ressource-enseignants": {
        "levels": (_LEVEL_4E, _LEVEL_3E), "subjects": ("scolomfr-voc-015-num-1412",),
        "pedagogical_types": ("scolomfr-voc-010-num-006",),
        "document_types": ("scolomfr-voc-005-num-039",)},
    "atlas-geographie": {
        "levels": (_LEVEL_6E, _LEVEL_5E), "subjects": ("scolomfr-voc-015-num-1002",),
        "pedagogical_types": ("lecture",), "document_types": ("scolomfr-voc-005-num-032",)},
    "atlas-histoire": {
        "levels": (_LEVEL_4E, _LEVEL_3E, _LEVEL_2DE), "subjects": ("scolomfr-voc-015-num-1002",),
        "pedagogical_types": ("lecture",), "document_types": ("scolomfr-voc-005-num-032",)},
}


def _described(resource: Resource) -> Resource:
    """The resource with its mediacentre description and broker-served thumbnail."""
    described = _DESCRIPTIONS.get(resource.slug, {})
    return replace(
        resource, thumbnail_url=f"/vignettes/{resource.slug}.svg",
        levels=described.get("levels", ()), subjects=described.get("subjects", ()),
        pedagogical_types=described.get("pedagogical_types", ()),
        document_types=described.get("document_types", ()))


def _school_year_start(today: date) -> int:
    return today.year if today.month >= 9 else today.year - 1


def build(*, provider_base: str, seed: int = 0, today: date | None = None,
          establishments: int = 0, students_per_establishment: int = 0,
          teachers_per_establishment: int | None = None) -> Dataset:
    """The academy; ``today`` defaults to the current UTC date and only moves validity dates.

    ``establishments`` extra colleges of ``students_per_establishment`` students and
    ``teachers_per_establishment`` teachers (default: one per two classes) each are appended
    on request (:mod:`services.dataset_national`); the fixed academy never changes.
    """
    today = today or datetime.now(UTC).date()
    base = provider_base.rstrip("/")
    numbers = _Numbers()
    persons = _fixed_persons(numbers) + _extra_persons(numbers, random.Random(seed))  # noqa: S311 - test data
    teacher_id = next(p.person_id for p in persons if p.login == "enseignant")

    providers = (
        Provider(PROVIDER_MOCK_ID, f"{base}/saml/metadata", "Fournisseur simulé du banc d'essai",
                 MOCK_DISTRIBUTOR),
        Provider(EDITIONS_EXEMPLE_ID, EDITIONS_EXEMPLE_ENTITY_ID, "Éditions Exemple",
                 EXEMPLE_DISTRIBUTOR),
    )
    ido = DeclaredAttribute("IDO", "Reconnaître l'utilisateur d'une session à l'autre")
    uai = DeclaredAttribute("UAI", "Rattacher l'accès à l'établissement abonné")
    pro = DeclaredAttribute("PRO", "Adapter l'interface au profil (élève ou enseignant)")

    def mock(number: int, slug: str, title: str, delivery: str, presentation: str,
             *extra: DeclaredAttribute) -> Resource:
        return Resource(f"ark:/99999/r{number}", slug, PROVIDER_MOCK_ID, title, MOCK_DISTRIBUTOR,
                        "Éditions du banc d'essai", f"{base}/resource/{slug}", "saml", delivery,
                        presentation, (ido, uai, pro, *extra))

    resources: tuple[Resource, ...] = (
        mock(10001, "manuel-maths-4e", "Mathématiques 4e — manuel numérique", "assigned", "MAN",
             DeclaredAttribute("DIV", "Constituer les classes de l'enseignant"),
             DeclaredAttribute("GRO", "Constituer les groupes de l'enseignant"),
             DeclaredAttribute("NOM", "Afficher le nom dans le suivi des exercices"),
             DeclaredAttribute("PRE", "Afficher le prénom dans le suivi des exercices")),
        mock(10002, "dictionnaire", "Dictionnaire de la langue française", "assigned", "DIC"),
        mock(10003, "ressource-institutionnelle", "Parcours citoyen — ressource institutionnelle",
             "automatic", "MUL"),
        mock(10004, "ressource-expiree", "Atelier d'écriture (abonnement échu)", "assigned", "PRO"),
        mock(10005, "ressource-enseignants", "Banque d'exercices pour les enseignants", "assigned",
             "PRO",
             DeclaredAttribute("P_MEL", "Envoyer les corrigés à l'enseignant"),
             DeclaredAttribute("P_MAT", "Proposer les exercices de ses matières"),
             DeclaredAttribute("P_MS4", "Proposer les exercices de ses niveaux"),
             DeclaredAttribute("NOM", "Signer les contributions partagées"),
             DeclaredAttribute("PRE", "Signer les contributions partagées"),
             DeclaredAttribute("CIV", "Formule d'adresse des courriels")),
        # A publisher reached through CAS 3.0, as most are at the real GAR (§4b): its access
        # URL opened with ?sso_id=GAR (and grain for a deep link) starts the CAS login.
        Resource("ark:/99999/r10006", "atlas-histoire", PROVIDER_MOCK_ID,
                 "Atlas d'histoire — éditeur CAS", MOCK_DISTRIBUTOR, "Éditions du banc d'essai",
                 f"{base}/cas/atlas-histoire", "cas", "assigned", "DIC",
                 (ido, uai, pro,
                  DeclaredAttribute("DIV", "Constituer les classes de l'enseignant"))),
        Resource("ark:/99999/r20001", "atlas-geographie", EDITIONS_EXEMPLE_ID,
                 "Atlas de géographie", EXEMPLE_DISTRIBUTOR, "Éditions Exemple",
                 "https://editions-exemple.invalid/resource/atlas-geographie", "saml", "assigned",
                 "DIC", (ido, uai, pro)),
    )
    resources = tuple(_described(r) for r in resources)
    ark = {r.slug: r.id for r in resources}
    year = _school_year_start(today)
    start = datetime(year - 1, 9, 1, tzinfo=UTC)
    end = datetime(year + 1, 8, 31, 23, 59, 59, tzinfo=UTC)
    ended = datetime.combine(today - timedelta(days=1), time(23, 59, 59), tzinfo=UTC)
    everyone = ("ELEVE", "ENSEIGNANT", "DOCUMENTALISTE", "AUTRE PERSONNEL")

    def sub(slug: str, where: str, kind: str, audience: tuple[str, ...], *,
            distributor: str = MOCK_DISTRIBUTOR, until: datetime = end,
            licences_global: int | None = None, licences_unlimited: bool = False,
            licences_student: int | None = None, licences_teacher: int | None = None,
            licences_librarian: int | None = None) -> Subscription:
        return Subscription(
            f"ABO-{slug.upper()}-{where}", ark[slug], where, distributor,
            "Abonnement du jeu de données synthétique", start, until, kind, "transferable",
            audience, licences_global=licences_global, licences_unlimited=licences_unlimited,
            licences_student=licences_student, licences_teacher=licences_teacher,
            licences_librarian=licences_librarian, project_code=f"PRJ-{slug.upper()}")

    subscriptions = (
        sub("manuel-maths-4e", COLLEGE_UAI, "INDIV", ("ELEVE", "ENSEIGNANT"),
            licences_student=30, licences_teacher=3),
        sub("dictionnaire", COLLEGE_UAI, "ETABL", everyone, licences_unlimited=True),
        sub("dictionnaire", LYCEE_UAI, "ETABL", everyone, licences_unlimited=True),
        sub("ressource-expiree", COLLEGE_UAI, "ETABL", everyone, until=ended,
            licences_unlimited=True),
        sub("ressource-enseignants", COLLEGE_UAI, "INDIV", ("ENSEIGNANT", "DOCUMENTALISTE"),
            licences_teacher=20, licences_librarian=2),
        sub("atlas-histoire", COLLEGE_UAI, "ETABL", everyone, licences_unlimited=True),
        sub("atlas-histoire", LYCEE_UAI, "ETABL", everyone, licences_unlimited=True),
        sub("atlas-geographie", COLLEGE_UAI, "ETABL", ("ELEVE", "ENSEIGNANT", "DOCUMENTALISTE"),
            distributor=EXEMPLE_DISTRIBUTOR, licences_global=400),
    )
    maths = f"ABO-MANUEL-MATHS-4E-{COLLEGE_UAI}"
    teachers_only = f"ABO-RESSOURCE-ENSEIGNANTS-{COLLEGE_UAI}"
    assignments = (
        Assignment(maths, "division", "4A"),
        Assignment(maths, "person", teacher_id),
        Assignment(teachers_only, "profile", "National_ens"),
        Assignment(teachers_only, "profile", "National_doc"),
    )
    from services.dataset_national import national

    extra = national(establishments=establishments, students=students_per_establishment,
                     teachers=teachers_per_establishment, seed=seed, first_number=numbers.count)
    return Dataset(
        ent_id=ENT_ID,
        academy=ACADEMY,
        establishments=_ESTABLISHMENTS + extra.establishments,
        groups=_GROUPS + extra.groups,
        mefs=_MEFS + extra.mefs,
        subjects=_SUBJECTS + extra.subjects,
        persons=tuple(persons) + extra.persons,
        providers=providers,
        resources=resources,
        subscriptions=subscriptions,
        assignments=assignments,
    )
