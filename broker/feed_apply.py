"""Applying a directory-feed file's records to the directory, as a complete snapshot.

Rules (GAR_REFERENCE §1: each export is ``Complet``):
- a person element is the whole truth about that person for its kind (student, or staff):
  profiles, MEFs, levels, disciplines, e-mails are set to exactly what it says, and the person
  leaves the groups and subjects of establishments it no longer names;
- an establishment a file covers (named by one of its elements) is replaced: its MEFs and
  subjects (``Etab``), its groups and memberships (``Groupe``), its assignment officers
  (``RespAff``), and the persons of the file's kind it held who are absent lose everything
  they had there (``Eleve``/``Enseignant``);
- persons and establishments are never deleted (audit records and subscriptions refer to them).
Unknown UAIs, MEFs, subjects, groups or persons refuse the file. Nothing is written twice:
an unchanged file reports 0 added, changed and removed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from broker import models as m
from broker.feed_parse import FeedError, Record
from broker.feed_stage import Stage, staged
from services.attributes import normalise_profile
from services.uai import is_valid_uai

STUDENT = "National_elv"
CHUNK = 500
#: What each kind of file may change, so a report lists every entity, even untouched.
ENTITIES: dict[str, tuple[str, ...]] = {
    "Etab": ("establishments", "mefs", "subjects"),
    "Eleve": ("persons", "profiles", "person_mefs", "person_subjects", "memberships"),
    "Enseignant": ("persons", "profiles", "person_mefs", "levels", "disciplines",
                   "person_subjects", "memberships"),
    "Groupe": ("groups", "memberships", "person_subjects"),
    "RespAff": ("persons", "respaff"),
}


@dataclass
class Counts:
    added: int = 0
    changed: int = 0
    removed: int = 0


@dataclass
class Outcome:
    """What one file did, per entity kind, and the warnings it raised."""

    counts: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    warnings: list[str] = field(default_factory=list)
    records: int = 0

    def total(self, what: str) -> int:
        return sum(getattr(c, what) for c in self.counts.values())


def _chunks(items: Iterable[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class Importer:
    """One file's application, in the caller's transaction (flushes, never commits)."""

    def __init__(self, session: Session, *, kind: str, ent_id: str, strict: bool,
                 stage: Stage | None = None) -> None:
        self.session = session
        #: The file's persons and wanted links live here (temporary tables), not in memory.
        self.stage = stage if stage is not None else Stage(session)
        self.kind = kind
        self.ent_id = ent_id
        self.strict = strict
        self.out = Outcome()
        for entity in ENTITIES[kind]:
            self.out.counts[entity] = Counts()
        self.uais: set[str] = set(session.scalars(select(m.Establishment.uai)))
        self.covered: set[str] = set()
        #: Groupe files: the covered establishments' persons (person id -> pk).
        self.person_pks: dict[str, int] = {}
        #: Eleve/Enseignant files: the last persons looked up (bounded: flat memory).
        self._recent: dict[str, int] = {}
        self.links: dict[str, dict[int, set[Any]]] = defaultdict(lambda: defaultdict(set))
        self.kept: dict[str, set[Any]] = defaultdict(set)
        self.pending: list[Record] = []
        self._mefs: dict[tuple[str, str], tuple[int, str | None]] | None = None
        self._subjects: dict[tuple[str, str], int] | None = None
        self._warned: set[str] = set()

    # --- shared checks ------------------------------------------------------------------

    def uai(self, value: str, line: int, *, known: bool = True) -> str:
        if not is_valid_uai(value[:8]) and value not in self._warned:
            message = f"ligne {line} : UAI {value} à la lettre de contrôle fausse"
            if self.strict:
                raise FeedError("feed.uai_check_letter", line, message.split(" : ", 1)[1])
            self._warned.add(value)
            self.out.warnings.append(message)
        if known and value not in self.uais:
            raise FeedError("feed.unknown_uai", line, f"établissement inconnu : {value}")
        return value

    def mefs(self) -> dict[tuple[str, str], tuple[int, str | None]]:
        if self._mefs is None:
            self._mefs = {(r.uai, r.code): (r.id, r.mefstat4)
                          for r in self.session.execute(select(m.Mef.uai, m.Mef.code, m.Mef.id,
                                                               m.Mef.mefstat4))}
        return self._mefs

    def subjects(self) -> dict[tuple[str, str], int]:
        if self._subjects is None:
            self._subjects = {(r.uai, r.code): r.id for r in self.session.execute(
                select(m.Subject.uai, m.Subject.code, m.Subject.id))}
        return self._subjects

    def count(self, entity: str, what: str, n: int = 1) -> None:
        counts = self.out.counts[entity]
        setattr(counts, what, getattr(counts, what) + n)

    def set_values(self, row: m.Base, values: dict[str, Any], entity: str) -> None:
        changed = False
        for name, value in values.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
                changed = True
        if changed:
            self.count(entity, "changed")

    def person_pk(self, person_id: str, line: int, *, in_file: bool) -> int:
        pk = self.person_pks.get(person_id)
        if pk is None and in_file:
            pk = self._file_person(person_id)
        if pk is None and not in_file:
            pk = self.session.scalar(select(m.Person.id).where(m.Person.person_id == person_id))
        if pk is None:
            where = "dans ce fichier" if in_file else "dans l'annuaire"
            raise FeedError("feed.unknown_person", line, f"personne inconnue {where} : {person_id}")
        if not in_file:
            self.person_pks[person_id] = pk
        return pk

    def _file_person(self, person_id: str) -> int | None:
        """The pk of a person this file names (staged), from a small cache or the database."""
        pk = self._recent.get(person_id)
        if pk is None:
            self.stage.flush()
            # A join on the staging table's primary key: one indexed lookup, not a scan.
            pk = self.session.scalar(text(
                "SELECT p.id FROM persons p JOIN feed_stage_people s ON s.pk = p.id "
                "WHERE p.person_id = :person_id AND s.in_file = 1"), {"person_id": person_id})
            if pk is not None:
                self._remember(person_id, pk)
        return pk

    def _remember(self, person_id: str, pk: int) -> None:
        if len(self._recent) >= 4 * CHUNK:
            self._recent.clear()
        self._recent[person_id] = pk

    def replace(self, entity: str, existing: dict[Any, Any], wanted: set[Any],
                make: Any) -> None:
        """Bring a set of link rows (existing: key -> row) to exactly ``wanted``."""
        for key, row in existing.items():
            if key not in wanted:
                self.session.delete(row)
                self.count(entity, "removed")
        added = [make(key) for key in wanted - existing.keys()]
        self.insert(added)
        self.count(entity, "added", len(added))

    def insert(self, rows: list[Any]) -> None:
        """Many new link rows in one executemany: the ORM's unit of work is the slow part."""
        if not rows:
            return
        model = type(rows[0])
        names = [c.key for c in sa_inspect(model).column_attrs if c.key != "id"]
        self.session.execute(insert(model), [{n: getattr(r, n) for n in names} for r in rows])

    # --- dispatch ---------------------------------------------------------------------------

    def add(self, record: Record) -> None:
        self.out.records += 1
        handler = getattr(self, f"_on_{record.tag}")
        handler(record)

    def finish(self) -> Outcome:
        self._flush_persons()
        getattr(self, f"_finish_{self.kind}")()
        self.session.flush()
        self.stage.clear()
        return self.out

    # --- Etab ---------------------------------------------------------------------------

    def _on_GAREtab(self, r: Record) -> None:
        uai = self.uai(r.one("GARStructureUAI"), r.line, known=False)
        self.covered.add(uai)
        row = self.session.get(m.Establishment, uai)
        values = {"name": r.one("GARStructureNomCourant"), "ent_id": self.ent_id}
        if row is None:
            self.session.add(m.Establishment(uai=uai, **values))
            self.uais.add(uai)
            self.count("establishments", "added")
        else:
            self.set_values(row, values, "establishments")

    def _on_GARMEF(self, r: Record) -> None:
        uai = self.uai(r.one("GARStructureUAI"), r.line)
        stat11 = r.opt("GARMEFSTAT11")
        self.covered.add(uai)
        self.kept["mefs"].add((uai, r.one("GARMEFCode")))
        self._upsert(m.Mef, "mefs", {"uai": uai, "code": r.one("GARMEFCode")},
                     {"label": r.one("GARMEFLibelle"), "mefstat4": stat11[:4] if stat11 else None})

    def _on_GARMatiere(self, r: Record) -> None:
        uai = self.uai(r.one("GARStructureUAI"), r.line)
        self.covered.add(uai)
        self.kept["subjects"].add((uai, r.one("GARMatiereCode")))
        self._upsert(m.Subject, "subjects", {"uai": uai, "code": r.one("GARMatiereCode")},
                     {"label": r.one("GARMatiereLibelle")})

    def _upsert(self, model: Any, entity: str, key: dict[str, Any],
                values: dict[str, Any]) -> Any:
        row = self.session.scalar(select(model).filter_by(**key))
        if row is None:
            row = model(**key, **values)
            self.session.add(row)
            self.count(entity, "added")
        else:
            self.set_values(row, values, entity)
        return row

    def _finish_Etab(self) -> None:
        models: tuple[tuple[Any, str], ...] = ((m.Mef, "mefs"), (m.Subject, "subjects"))
        for model, entity in models:
            for row in self.session.scalars(select(model).where(model.uai.in_(self.covered))):
                if (row.uai, row.code) not in self.kept[entity]:
                    self.session.delete(row)
                    self.count(entity, "removed")

    # --- Eleve / Enseignant ------------------------------------------------------------------

    def _on_GAREleve(self, r: Record) -> None:
        self.pending.append(r)
        if len(self.pending) >= CHUNK:
            self._flush_persons()

    _on_GAREnseignant = _on_GAREleve

    def _is_kind(self, profile: str) -> bool:
        return (profile == STUDENT) == (self.kind == "Eleve")

    def _flush_persons(self) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        ids = [r.one("GARPersonIdentifiant") for r in batch]
        rows = {p.person_id: p for p in self.session.scalars(
            select(m.Person).where(m.Person.person_id.in_(ids)))}
        pks = [p.id for p in rows.values()]
        profiles: dict[int, dict[str, m.PersonProfile]] = defaultdict(dict)
        disciplines: dict[int, dict[tuple[str, str], m.PersonDiscipline]] = defaultdict(dict)
        if pks:
            for row in self.session.scalars(
                    select(m.PersonProfile).where(m.PersonProfile.person_pk.in_(pks))):
                profiles[row.person_pk][row.uai] = row
            if self.kind == "Enseignant":
                for d in self.session.scalars(
                        select(m.PersonDiscipline).where(m.PersonDiscipline.person_pk.in_(pks))):
                    disciplines[d.person_pk][(d.uai, d.code)] = d
        people = [self._person(r, rows.get(r.one("GARPersonIdentifiant"))) for r in batch]
        self.session.flush()  # one batch of INSERTs gives the new persons their ids
        for r, (person, wanted) in zip(batch, people, strict=True):
            self._person_links(r, person, wanted, profiles, disciplines)
        self.session.flush()

    def _person(self, r: Record, row: m.Person | None) -> tuple[m.Person, dict[str, str]]:
        """The person's row, created or updated (not flushed), and its wanted profiles."""
        person_id = r.one("GARPersonIdentifiant")
        wanted: dict[str, str] = {}
        for block in r.nested.get("GARPersonProfils", []):
            uai = self.uai(block["GARStructureUAI"][0], r.line)
            wanted[uai] = normalise_profile(block["GARPersonProfil"][0])
        for uai in r.all("GARPersonEtab"):
            self.uai(uai, r.line)
        born = r.opt("GARPersonDateNaissance")
        values: dict[str, Any] = {
            "ent_id": self.ent_id, "join_key": r.opt("GARPersonIdSecondaire"),
            "last_name": r.one("GARPersonNom"), "first_name": r.one("GARPersonPrenom"),
            "civility": r.opt("GARPersonCivilite"),
            "birth_date": date.fromisoformat(born[:10]) if born else None,
            "emails": r.all("GARPersonMail"),
        }
        if row is None:
            row = m.Person(person_id=person_id, **values)
            self.session.add(row)
            self.count("persons", "added")
        else:
            self.set_values(row, values, "persons")
        self.covered.update(wanted)
        return row, wanted

    def _person_links(self, r: Record, row: m.Person, wanted: dict[str, str],
                      profiles: dict[int, dict[str, m.PersonProfile]],
                      disciplines: dict[int, dict[tuple[str, str], m.PersonDiscipline]]) -> None:
        """Profiles (and a teacher's disciplines) set to exactly what the element says."""
        self.stage.add_person(row.id)
        self._remember(row.person_id, row.id)
        existing = profiles.get(row.id, {})
        for uai, profile_row in existing.items():
            if uai in wanted:
                if profile_row.profile != wanted[uai]:
                    profile_row.profile = wanted[uai]
                    self.count("profiles", "changed")
            elif self._is_kind(profile_row.profile):
                self.session.delete(profile_row)
                self.count("profiles", "removed")
        pk = row.id
        for uai in wanted.keys() - existing.keys():
            self.session.add(m.PersonProfile(person_pk=pk, uai=uai, profile=wanted[uai]))
            self.count("profiles", "added")
        if self.kind == "Enseignant":
            want = {(self.uai(b["GARStructureUAI"][0], r.line), code)
                    for b in r.nested.get("GAREnsDisciplinesPostes", [])
                    for code in b["GAREnsDisciplinePosteCode"]}
            self.replace("disciplines", disciplines.get(pk, {}), want,
                         lambda k: m.PersonDiscipline(person_pk=pk, uai=k[0], code=k[1]))

    def _on_GARPersonMEF(self, r: Record) -> None:
        self._flush_persons()
        uai = self.uai(r.one("GARStructureUAI"), r.line)
        pk = self.person_pk(r.one("GARPersonIdentifiant"), r.line, in_file=True)
        found = self.mefs().get((uai, r.one("GARMEFCode")))
        if found is None:
            raise FeedError("feed.unknown_mef", r.line, f"MEF inconnu : {r.one('GARMEFCode')}"
                            f" dans {uai}")
        self.stage.add_link("person_mefs", pk, found[0])

    def _on_GAREleveEnseignement(self, r: Record) -> None:
        self._flush_persons()
        uai = self.uai(r.one("GARStructureUAI"), r.line)
        pk = self.person_pk(r.one("GARPersonIdentifiant"), r.line, in_file=True)
        found = self.subjects().get((uai, r.one("GARMatiereCode")))
        if found is None:
            raise FeedError("feed.unknown_subject", r.line,
                            f"matière inconnue : {r.one('GARMatiereCode')} dans {uai}")
        self.stage.add_link("person_subjects", pk, found)

    def _finish_people(self) -> None:
        # The persons of this kind the covered establishments held and the file left out are
        # staged next to the file's own (in_file = 0), all in SQL: no per-person set in memory.
        self.stage.flush()
        covered = sorted(self.covered)
        absent = (select(m.PersonProfile.person_pk).distinct()
                  .where(m.PersonProfile.uai.in_(covered), self._kind_filter(),
                         m.PersonProfile.person_pk.not_in(staged())))
        for chunk in _chunks(self.session.scalars(absent).all()):
            self.session.execute(
                text("INSERT INTO feed_stage_people (pk, in_file) VALUES (:pk, 0)"),
                [{"pk": pk} for pk in chunk])
        mef_uai = {mef_id: uai for (uai, _code), (mef_id, _s) in self.mefs().items()}
        mef_level = {mef_id: (uai, stat4) for (uai, _code), (mef_id, stat4) in self.mefs().items()
                     if stat4}
        subject_uai = {sid: uai for (uai, _code), sid in self.subjects().items()}
        for people in self.stage.people(CHUNK):
            chunk = [pk for pk, _in_file in people]
            pks = {pk for pk, in_file in people if in_file}
            gone = [pk for pk, in_file in people if not in_file]
            if gone:
                for row in self.session.scalars(select(m.PersonProfile).where(
                        m.PersonProfile.person_pk.in_(gone), m.PersonProfile.uai.in_(covered),
                        self._kind_filter())):
                    self.session.delete(row)
                    self.count("profiles", "removed")
                self.session.flush()
            places = self._places(chunk)
            mefs = {(r.person_pk, r.mef_id): r for r in self.session.scalars(
                select(m.PersonMef).where(m.PersonMef.person_pk.in_(chunk)))}
            wanted_mefs = self._wanted("person_mefs", chunk)
            self._replace_links("person_mefs", mefs, pks, places,
                                lambda k: mef_uai.get(k[1], ""),
                                lambda k: m.PersonMef(person_pk=k[0], mef_id=k[1]), wanted_mefs)
            subjects = {(r.person_pk, r.subject_id): r for r in self.session.scalars(
                select(m.PersonSubject).where(m.PersonSubject.person_pk.in_(chunk)))}
            if self.kind == "Eleve":
                self._replace_links("person_subjects", subjects, pks, places,
                                    lambda k: subject_uai.get(k[1], ""),
                                    lambda k: m.PersonSubject(person_pk=k[0], subject_id=k[1]),
                                    self._wanted("person_subjects", chunk))
            else:
                self._drop_outside("person_subjects", subjects, places,
                                   lambda k: subject_uai.get(k[1], ""))
                levels = {(r.person_pk, (r.uai, r.mefstat4)): r for r in self.session.scalars(
                    select(m.PersonLevel).where(m.PersonLevel.person_pk.in_(chunk)))}
                self._replace_links("levels", levels, pks, places, lambda k: k[1][0],
                                    lambda k: m.PersonLevel(person_pk=k[0], uai=k[1][0],
                                                            mefstat4=k[1][1]),
                                    {(pk, mef_level[mef]) for pk, mef in wanted_mefs
                                     if mef in mef_level})
                disciplines = {(r.person_pk, r.uai, r.code): r for r in self.session.scalars(
                    select(m.PersonDiscipline).where(m.PersonDiscipline.person_pk.in_(chunk)))}
                self._drop_outside("disciplines", disciplines, places, lambda k: k[1])
            members = {(r.person_pk, r.id): (r, uai) for r, uai in self.session.execute(
                select(m.GroupMember, m.Group.uai).join(m.Group)
                .where(m.GroupMember.person_pk.in_(chunk)))}
            for key, (member, uai) in members.items():
                if uai not in places.get(key[0], set()):
                    self.session.delete(member)
                    self.count("memberships", "removed")
            self.session.flush()

    def _kind_filter(self) -> Any:
        if self.kind == "Eleve":
            return m.PersonProfile.profile == STUDENT
        return m.PersonProfile.profile != STUDENT

    def _places(self, pks: list[int]) -> dict[int, set[str]]:
        places: dict[int, set[str]] = defaultdict(set)
        for pk, uai in self.session.execute(select(m.PersonProfile.person_pk, m.PersonProfile.uai)
                                            .where(m.PersonProfile.person_pk.in_(pks))):
            places[pk].add(uai)
        return places

    def _wanted(self, entity: str, chunk: list[int]) -> set[tuple[int, int]]:
        """The file's links of the persons of ``chunk`` (sorted pks), from the staging table."""
        return self.stage.links(entity, chunk[0], chunk[-1])

    def _replace_links(self, entity: str, existing: dict[tuple[int, Any], Any], in_file: set[int],
                       places: dict[int, set[str]], uai_of: Any, make: Any,
                       wanted: set[tuple[int, Any]]) -> None:
        """File persons: exactly the file's links; others: none where they no longer are."""
        for key, row in existing.items():
            if key[0] in in_file:
                if key not in wanted:
                    self.session.delete(row)
                    self.count(entity, "removed")
            elif uai_of(key) not in places.get(key[0], set()):
                self.session.delete(row)
                self.count(entity, "removed")
        added = [make(key) for key in sorted(wanted - existing.keys(), key=repr)]
        self.insert(added)
        self.count(entity, "added", len(added))

    def _drop_outside(self, entity: str, existing: dict[Any, Any],
                      places: dict[int, set[str]], uai_of: Any) -> None:
        for key, row in list(existing.items()):
            if uai_of(key) not in places.get(key[0], set()):
                self.session.delete(row)
                self.count(entity, "removed")

    _finish_Eleve = _finish_people
    _finish_Enseignant = _finish_people

    # --- Groupe ---------------------------------------------------------------------------

    def _on_GARGroupe(self, r: Record) -> None:
        uai = self.uai(r.one("GARStructureUAI"), r.line)
        self.covered.add(uai)
        code = r.one("GARGroupeCode")
        row = self._upsert(m.Group, "groups", {"uai": uai, "code": code},
                           {"label": r.one("GARGroupeLibelle"), "status": r.one("GARGroupeStatut"),
                            "divisions": r.all("GARGroupeDivAppartenance")})
        self.session.flush()
        self.kept["groups"].add((uai, code))
        self.group_ids[(uai, code)] = row.id

    @property
    def group_ids(self) -> dict[tuple[str, str], int]:
        if not hasattr(self, "_group_ids"):
            self._group_ids: dict[tuple[str, str], int] = {}
        return self._group_ids

    def _member(self, r: Record) -> tuple[int, int]:
        uai = self.uai(r.one("GARStructureUAI"), r.line)
        group = self.group_ids.get((uai, r.one("GARGroupeCode")))
        if group is None:
            raise FeedError("feed.unknown_group", r.line,
                            f"groupe absent du fichier : {r.one('GARGroupeCode')} dans {uai}")
        if not self.person_pks:
            self.person_pks = {person_id: pk for person_id, pk in self.session.execute(
                select(m.Person.person_id, m.Person.id).join(m.PersonProfile)
                .where(m.PersonProfile.uai.in_(self.covered)))}
        pk = self.person_pk(r.one("GARPersonIdentifiant"), r.line, in_file=False)
        self.kept["memberships"].add((group, pk))
        return group, pk

    def _on_GARPersonGroupe(self, r: Record) -> None:
        self._member(r)

    def _on_GAREnsGroupeMatiere(self, r: Record) -> None:
        _group, pk = self._member(r)
        uai = r.one("GARStructureUAI")
        for code in r.all("GARMatiereCode"):
            found = self.subjects().get((uai, code))
            if found is None:
                raise FeedError("feed.unknown_subject", r.line,
                                f"matière inconnue : {code} dans {uai}")
            self.links["teacher_subjects"][pk].add(found)

    _on_GAREnsClasseMatiere = _on_GAREnsGroupeMatiere

    def _finish_Groupe(self) -> None:
        for row in self.session.scalars(select(m.Group).where(m.Group.uai.in_(self.covered))):
            if (row.uai, row.code) not in self.kept["groups"]:
                self.session.delete(row)
                self.count("groups", "removed")
        self.session.flush()
        existing = {(r.group_id, r.person_pk): r for r in self.session.scalars(
            select(m.GroupMember).join(m.Group).where(m.Group.uai.in_(self.covered)))}
        self.replace("memberships", existing, self.kept["memberships"],
                     lambda k: m.GroupMember(group_id=k[0], person_pk=k[1]))
        self._teacher_subjects()

    def _teacher_subjects(self) -> None:
        """Staff subjects of covered establishments: their classes' and groups' subjects.

        A librarian (``National_doc``) teaches no class: they get their establishment's
        documentation subject (``GARMatiereLibelle`` DOCUMENTATION), a testbed choice since
        the meaning of ``P_MAT`` is unverified.
        """
        staff = self.session.execute(
            select(m.PersonProfile.person_pk, m.PersonProfile.uai, m.PersonProfile.profile)
            .where(m.PersonProfile.uai.in_(self.covered), m.PersonProfile.profile != STUDENT)
        ).all()
        documentation = {
            row.uai: row.id for row in self.session.scalars(
                select(m.Subject).where(m.Subject.uai.in_(self.covered)))
            if row.label.upper() == "DOCUMENTATION"}
        subject_uai = {sid: uai for (uai, _c), sid in self.subjects().items()}
        wanted: set[tuple[int, int]] = set()
        pks = {pk for pk, _uai, _p in staff}
        for pk, uai, profile in staff:
            wanted.update((pk, s) for s in self.links["teacher_subjects"].get(pk, set())
                          if subject_uai.get(s) == uai)
            if profile == "National_doc" and uai in documentation:
                wanted.add((pk, documentation[uai]))
        for chunk in _chunks(sorted(pks)):
            existing = {(r.person_pk, r.subject_id): r for r, uai in self.session.execute(
                select(m.PersonSubject, m.Subject.uai).join(m.Subject)
                .where(m.PersonSubject.person_pk.in_(chunk), m.Subject.uai.in_(self.covered)))}
            chunk_set = set(chunk)
            self.replace("person_subjects", existing, {w for w in wanted if w[0] in chunk_set},
                         lambda k: m.PersonSubject(person_pk=k[0], subject_id=k[1]))

    # --- RespAff --------------------------------------------------------------------------

    def _on_GARRespAff(self, r: Record) -> None:
        person_id = r.one("GARPersonIdentifiant")
        pk = self.session.scalar(select(m.Person.id).where(m.Person.person_id == person_id))
        if pk is None:
            person = m.Person(person_id=person_id, ent_id=self.ent_id,
                              last_name=r.one("GARPersonNom"), first_name=r.one("GARPersonPrenom"),
                              civility=r.opt("GARPersonCivilite"), emails=r.all("GARPersonMail"))
            self.session.add(person)
            self.session.flush()
            self.count("persons", "added")
            pk = person.id
        for uai in r.all("GARRespAffEtab"):
            self.covered.add(self.uai(uai, r.line))
            self.kept["respaff"].add((pk, uai))

    def _finish_RespAff(self) -> None:
        existing = {(r.person_pk, r.uai): r for r in self.session.scalars(
            select(m.RespAff).where(m.RespAff.uai.in_(self.covered), m.RespAff.role == "RA"))}
        others = {(pk, uai) for pk, uai in self.session.execute(
            select(m.RespAff.person_pk, m.RespAff.uai).where(
                m.RespAff.uai.in_(self.covered), m.RespAff.role != "RA"))}
        self.replace("respaff", existing, self.kept["respaff"] - others,
                     lambda k: m.RespAff(person_pk=k[0], uai=k[1], role="RA"))

