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

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import JSON, Table, bindparam, delete, insert, select, text, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from broker import models as m
from broker.feed_parse import FeedError, Record
from broker.feed_stage import Stage
from services.attributes import normalise_profile
from services.uai import is_valid_uai

STUDENT = "National_elv"
CHUNK = 500
#: What each kind of file may change, so a report lists every entity, even untouched.
ENTITIES: dict[str, tuple[str, ...]] = {
    "Etab": ("establishments", "mefs", "subjects"),
    "Eleve": ("persons", "profiles", "person_mefs", "person_subjects", "levels", "memberships"),
    "Enseignant": ("persons", "profiles", "person_mefs", "levels", "disciplines",
                   "person_subjects", "memberships"),
    "Groupe": ("groups", "memberships", "person_subjects"),
    "RespAff": ("persons", "respaff"),
}


#: Links keyed (UAI, person, code) whose duplicates are found in SQL among the staged rows,
#: not one key at a time: by staged entity, the element it comes from.
_LINK_TAGS = {"person_mefs": "GARPersonMEF", "person_subjects": "GAREleveEnseignement",
              "member": "GARPersonGroupe", "levels": "GARPersonMEFSTAT4",
              "taught_group": "GAREnsGroupeMatiere", "taught_class": "GAREnsClasseMatiere"}
KEYED_IN_SQL = frozenset(_LINK_TAGS.values())
_KEYED_ENTITIES = ", ".join(f"'{entity}'" for entity in _LINK_TAGS)
PERSONS = m.table(m.Person)
PROFILES = m.table(m.PersonProfile)
DISCIPLINES = m.table(m.PersonDiscipline)
GROUPS = m.table(m.Group)
_PERSON_FIELDS = ("person_id", "ent_id", "join_key", "last_name", "first_name", "civility",
                  "birth_date", "emails")
_PERSON_COLUMNS = (PERSONS.c.id, *(PERSONS.c[name] for name in _PERSON_FIELDS))


def _update_by_id(table: Table, key: str, names: tuple[str, ...]) -> Any:
    """An executemany UPDATE by primary key (``b_``-prefixed parameters)."""
    return (update(table).where(table.c.id == bindparam(f"b_{key}"))
            .values({name: bindparam(f"b_{name}", type_=table.c[name].type) for name in names}))


_UPDATE_PERSON = _update_by_id(PERSONS, "pk", _PERSON_FIELDS)
_UPDATE_PROFILE = _update_by_id(PROFILES, "id", ("profile",))
_UPDATE_GROUP = _update_by_id(GROUPS, "id", ("label", "status", "divisions"))
#: The staged persons: all of them, those the file names, those it left out; covered UAIs.
_ALL = "SELECT pk FROM feed_stage_people"
_IN = "SELECT pk FROM feed_stage_people WHERE in_file = 1"
_OUT = "SELECT pk FROM feed_stage_people WHERE in_file = 0"
_UAIS = "SELECT uai FROM feed_stage_uais"


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
                 stage: Stage) -> None:
        self.session = session
        #: The file's persons and wanted links live here (temporary tables), not in memory.
        #: On PostgreSQL it also keeps the import's statements unprepared until the caller
        #: closes it (see :class:`Stage`): the caller owns it, so that it is always closed.
        self.stage = stage
        self.kind = kind
        self.ent_id = ent_id
        self.strict = strict
        self.out = Outcome()
        for entity in ENTITIES[kind]:
            self.out.counts[entity] = Counts()
        self.uais: set[str] = set(session.scalars(select(m.Establishment.uai)))
        self.covered: set[str] = set()
        self.kept: dict[str, set[Any]] = defaultdict(set)
        self.pending: list[Record] = []
        self._mefs: dict[tuple[str, str], tuple[int, str | None]] | None = None
        self._subjects: dict[tuple[str, str], int] | None = None
        self._warned: set[str] = set()
        self._checked: set[str] = set()
        self._known: dict[Any, dict[tuple[str, str], Any]] = {}

    # --- shared checks ------------------------------------------------------------------

    def uai(self, value: str, line: int, *, known: bool = True) -> str:
        if value in self._checked:  # known, and its check letter seen, earlier in this file
            return value
        if not is_valid_uai(value[:8]) and value not in self._warned:
            message = f"ligne {line} : UAI {value} à la lettre de contrôle fausse"
            if self.strict:
                raise FeedError("feed.uai_check_letter", line, message.split(" : ", 1)[1])
            self._warned.add(value)
            self.out.warnings.append(message)
        if known and value not in self.uais:
            raise FeedError("feed.unknown_uai", line, f"établissement inconnu : {value}")
        if known:
            self._checked.add(value)
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

    def _insert_rows(self, table: Table, rows: list[dict[str, Any]],
                     returning: tuple[Any, ...] = ()) -> Any:
        """Many rows in one statement. PostgreSQL: one ``unnest`` of one array per column
        (psycopg parses a long multi-row VALUES statement anew each time, and that was most
        of the import's CPU); SQLite: the driver's executemany."""
        if not self.stage.postgres:
            statement = insert(table).returning(*returning) if returning else insert(table)
            return self.session.execute(statement, rows)
        dialect = self.session.get_bind().dialect
        names = list(rows[0])
        if not returning and not any(isinstance(table.c[name].type, JSON) for name in names):
            self.stage.copy(table.name, names, [tuple(row[name] for name in names)
                                                for row in rows])
            return None
        arrays, selected, params = [], [], {}
        for i, name in enumerate(names):
            column = table.c[name]
            values = [row[name] for row in rows]
            if isinstance(column.type, JSON):
                values = [json.dumps(value) for value in values]
                arrays.append(f"CAST(:p{i} AS TEXT[])")
                selected.append(f"CAST(u.c{i} AS JSON)")
            else:
                arrays.append(f"CAST(:p{i} AS {column.type.compile(dialect=dialect)}[])")
                selected.append(f"u.c{i}")
            params[f"p{i}"] = values
        aliases = ", ".join(f"c{i}" for i in range(len(names)))
        sql = (f"INSERT INTO {table.name} ({', '.join(names)}) "  # noqa: S608 - model names
               f"SELECT {', '.join(selected)} FROM unnest({', '.join(arrays)}) AS u({aliases})")
        if returning:
            sql += " RETURNING " + ", ".join(column.name for column in returning)
        return self.session.execute(text(sql), params)

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
        if m.Establishment not in self._known:
            self._known[m.Establishment] = {
                (row.uai, ""): row for row in self.session.scalars(select(m.Establishment))}
        known = self._known[m.Establishment]
        row = known.get((uai, ""))
        values = {"name": r.one("GARStructureNomCourant"), "ent_id": self.ent_id}
        if row is None:
            known[(uai, "")] = m.Establishment(uai=uai, **values)
            self.session.add(known[(uai, "")])
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
        """Create or update by natural key; the table is read once (an Etab file's rows are
        a few per establishment), not once per element with an autoflush each time."""
        if model not in self._known:
            self._known[model] = {(row.uai, row.code): row
                                  for row in self.session.scalars(select(model))}
        known = self._known[model]
        row = known.get((key["uai"], key["code"]))
        if row is None:
            row = model(**key, **values)
            self.session.add(row)
            known[(key["uai"], key["code"])] = row
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
        """A batch of person elements in a few set-based statements (Core, not the ORM)."""
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        ids = [r.one("GARPersonIdentifiant") for r in batch]
        existing = {row.person_id: row for row in self.session.execute(
            select(*_PERSON_COLUMNS).where(PERSONS.c.person_id.in_(ids)))}
        pks = [row.id for row in existing.values()]
        profiles: dict[int, dict[str, tuple[int, str]]] = defaultdict(dict)
        disciplines: dict[int, dict[tuple[str, str], int]] = defaultdict(dict)
        if pks:
            for pid, pk, uai, profile in self.session.execute(select(
                    PROFILES.c.id, PROFILES.c.person_pk, PROFILES.c.uai, PROFILES.c.profile)
                    .where(PROFILES.c.person_pk.in_(pks))):
                profiles[pk][uai] = (pid, profile)
            if self.kind == "Enseignant":
                for did, pk, uai, code in self.session.execute(select(
                        DISCIPLINES.c.id, DISCIPLINES.c.person_pk, DISCIPLINES.c.uai,
                        DISCIPLINES.c.code).where(DISCIPLINES.c.person_pk.in_(pks))):
                    disciplines[pk][(uai, code)] = did
        new: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        wanted: dict[str, dict[str, str]] = {}
        for r in batch:
            values, wanted[r.one("GARPersonIdentifiant")] = self._person_values(r)
            row = existing.get(values["person_id"])
            if row is None:
                new.append(values)
            elif any(getattr(row, name) != value for name, value in values.items()):
                changed.append({f"b_{name}": value for name, value in values.items()}
                               | {"b_pk": row.id})
        pk_of = {row.person_id: row.id for row in existing.values()}
        if new:
            for pk, person_id in self._insert_rows(
                    PERSONS, new, (PERSONS.c.id, PERSONS.c.person_id)):
                pk_of[person_id] = pk
            self.count("persons", "added", len(new))
        if changed:
            self.session.execute(_UPDATE_PERSON, changed)
            self.count("persons", "changed", len(changed))
        rows: dict[str, list[Any]] = defaultdict(list)
        for r in batch:
            person_id = r.one("GARPersonIdentifiant")
            pk = pk_of[person_id]
            self.stage.add_person(pk)
            self._person_links(r, pk, wanted[person_id], profiles.get(pk, {}),
                               disciplines.get(pk, {}), rows)
        if rows["profile_changed"]:
            self.session.execute(_UPDATE_PROFILE, rows["profile_changed"])
        for table, key in ((PROFILES, "profile_gone"), (DISCIPLINES, "discipline_gone")):
            for chunk in _chunks(rows[key]):
                self.session.execute(delete(table).where(table.c.id.in_(chunk)))
        for table, key in ((PROFILES, "profile_new"), (DISCIPLINES, "discipline_new")):
            if rows[key]:
                self._insert_rows(table, rows[key])

    def _person_values(self, r: Record) -> tuple[dict[str, Any], dict[str, str]]:
        """The person's columns, and its wanted profiles (uai -> profile)."""
        wanted: dict[str, str] = {}
        for block in r.nested.get("GARPersonProfils", []):
            uai = self.uai(block["GARStructureUAI"][0], r.line)
            wanted[uai] = normalise_profile(block["GARPersonProfil"][0])
        for uai in r.all("GARPersonEtab"):
            self.uai(uai, r.line)
        born = r.opt("GARPersonDateNaissance")
        values: dict[str, Any] = {
            "person_id": r.one("GARPersonIdentifiant"),
            "ent_id": self.ent_id, "join_key": r.opt("GARPersonIdSecondaire"),
            "last_name": r.one("GARPersonNom"), "first_name": r.one("GARPersonPrenom"),
            "civility": r.opt("GARPersonCivilite"),
            "birth_date": date.fromisoformat(born[:10]) if born else None,
            "emails": r.all("GARPersonMail"),
        }
        self.covered.update(wanted)
        return values, wanted

    def _person_links(self, r: Record, pk: int, wanted: dict[str, str],
                      profiles: dict[str, tuple[int, str]],
                      disciplines: dict[tuple[str, str], int],
                      rows: dict[str, list[Any]]) -> None:
        """Profiles (and a teacher's disciplines) set to exactly what the element says."""
        for uai, (pid, profile) in profiles.items():
            if uai in wanted:
                if profile != wanted[uai]:
                    rows["profile_changed"].append({"b_id": pid, "b_profile": wanted[uai]})
                    self.count("profiles", "changed")
            elif self._is_kind(profile):
                rows["profile_gone"].append(pid)
                self.count("profiles", "removed")
        for uai in wanted.keys() - profiles.keys():
            rows["profile_new"].append({"person_pk": pk, "uai": uai, "profile": wanted[uai]})
            self.count("profiles", "added")
        if self.kind == "Enseignant":
            # Secondary: disciplines; primary schools: specialities, the same domain.
            want = {(self.uai(b["GARStructureUAI"][0], r.line), code)
                    for b in (*r.nested.get("GAREnsDisciplinesPostes", []),
                              *r.nested.get("GAREnsSpecialitesPostes", []))
                    for code in (*b.get("GAREnsDisciplinePosteCode", []),
                                 *b.get("GAREnsSpecialitePosteCode", []))}
            for key, did in disciplines.items():
                if key not in want:
                    rows["discipline_gone"].append(did)
                    self.count("disciplines", "removed")
            for uai, code in sorted(want - disciplines.keys()):
                rows["discipline_new"].append({"person_pk": pk, "uai": uai, "code": code})
                self.count("disciplines", "added")

    def _link(self, r: Record, entity: str, target: int | None, code: str | None = None) -> None:
        """Stage a link the file names by person id; resolved to the file's persons at the end."""
        self.stage.add("feed_stage_raw", (entity, r.one("GARStructureUAI"),
                                          r.one("GARPersonIdentifiant"), code, target, r.line))

    def _on_GARPersonMEF(self, r: Record) -> None:
        uai = self.uai(r.one("GARStructureUAI"), r.line)
        found = self.mefs().get((uai, r.one("GARMEFCode")))
        if found is None:
            raise FeedError("feed.unknown_mef", r.line, f"MEF inconnu : {r.one('GARMEFCode')}"
                            f" dans {uai}")
        self._link(r, "person_mefs", found[0], r.one("GARMEFCode"))

    def _on_GAREleveEnseignement(self, r: Record) -> None:
        uai = self.uai(r.one("GARStructureUAI"), r.line)
        found = self.subjects().get((uai, r.one("GARMatiereCode")))
        if found is None:
            raise FeedError("feed.unknown_subject", r.line,
                            f"matière inconnue : {r.one('GARMatiereCode')} dans {uai}")
        self._link(r, "person_subjects", found, r.one("GARMatiereCode"))

    def _on_GARPersonMEFSTAT4(self, r: Record) -> None:
        """Primary schools: a level (MEFSTAT4) instead of a MEF."""
        self.uai(r.one("GARStructureUAI"), r.line)
        self._link(r, "levels", None, r.one("GARMEFSTAT4"))

    def _stage_covered(self) -> None:
        for uai in sorted(self.covered):
            self.stage.add("feed_stage_uais", (uai,))
        self.stage.flush()

    def _unknown(self, sql: str, where: str) -> FeedError | None:
        found = self.session.execute(text(sql + " ORDER BY r.line LIMIT 1")).first()
        if found is None:
            return None
        return FeedError("feed.unknown_person", int(found[0]),
                         f"personne inconnue {where} : {found[1]}")

    def _duplicate(self) -> FeedError | None:
        """The first staged link whose key an earlier one of the file already had."""
        self.stage.flush()
        found = self.session.execute(text(
            "SELECT r.line, r.entity, r.uai, r.person_id, r.code FROM feed_stage_raw r "  # noqa: S608 - constant names
            "JOIN (SELECT entity, uai, person_id, code, MIN(line) AS first "
            "FROM feed_stage_raw GROUP BY entity, uai, person_id, code HAVING COUNT(*) > 1) d "
            "ON d.entity = r.entity AND d.uai = r.uai AND d.person_id = r.person_id "
            "AND d.code = r.code AND r.line > d.first "
            f"WHERE r.entity IN ({_KEYED_ENTITIES}) "
            "ORDER BY r.line LIMIT 1")).first()
        if found is None:
            return None
        line, entity, uai, person_id, code = found
        return FeedError("feed.duplicate_key", int(line),
                         f"clé en double dans {_LINK_TAGS[entity]} : {uai} / {person_id} / {code}")

    @staticmethod
    def _first(*errors: FeedError | None) -> None:
        """Raise the error found earliest in the file, if any."""
        found = [e for e in errors if e is not None]
        if found:
            raise min(found, key=lambda e: e.line)

    def _finish_people(self) -> None:
        """The file's persons get exactly its links; the persons of this kind the covered
        establishments held and the file left out lose what they had there. All in SQL
        against the staged rows: no per-person set in memory."""
        run, kind = self.stage.run, self._kind_sql()
        self._stage_covered()
        self._first(self._duplicate(), self._unknown(
            "SELECT r.line, r.person_id FROM feed_stage_raw r WHERE NOT EXISTS ("
            "SELECT 1 FROM persons p JOIN feed_stage_people s ON s.pk = p.id "
            "AND s.in_file = 1 WHERE p.person_id = r.person_id)", "dans ce fichier"))
        run("INSERT INTO feed_stage_links (entity, pk, target, uai, code) "
            "SELECT r.entity, p.id, r.target, r.uai, r.code FROM feed_stage_raw r "
            "JOIN persons p ON p.person_id = r.person_id")
        if self.kind == "Enseignant":  # a teacher's levels: their MEFs' (a student's: none)
            run("INSERT INTO feed_stage_links (entity, pk, uai, code) "
                "SELECT DISTINCT 'want_levels', l.pk, mf.uai, mf.mefstat4 "
                "FROM feed_stage_links l JOIN mefs mf ON mf.id = l.target "
                "WHERE l.entity = 'person_mefs' AND mf.mefstat4 IS NOT NULL")
        # Primary schools name the levels themselves (GARPersonMEFSTAT4), whatever the profile.
        run("INSERT INTO feed_stage_links (entity, pk, uai, code) "
            "SELECT DISTINCT 'want_levels', l.pk, l.uai, l.code FROM feed_stage_links l "
            "WHERE l.entity = 'levels'")
        # NOT EXISTS, not NOT IN: PostgreSQL turns a NOT IN over more rows than work_mem
        # holds into a scan per row (hours at a million people).
        self.stage.analyze()
        run("INSERT INTO feed_stage_people (pk, in_file) SELECT DISTINCT pp.person_pk, 0 "  # noqa: S608 - constant fragments
            f"FROM person_profiles pp WHERE pp.uai IN ({_UAIS}) AND {kind} "
            "AND NOT EXISTS (SELECT 1 FROM feed_stage_people s WHERE s.pk = pp.person_pk)",
            student=STUDENT)
        self.stage.analyze()
        self.count("profiles", "removed", run(
            f"DELETE FROM person_profiles WHERE person_pk IN ({_OUT}) AND uai IN ({_UAIS}) "  # noqa: S608 - constant fragments
            f"AND {kind.replace('pp.', '')}", student=STUDENT))
        self._sync("person_mefs", "mef_id", "(SELECT uai FROM mefs WHERE mefs.id = t.mef_id)")
        subject_uai = "(SELECT uai FROM subjects WHERE subjects.id = t.subject_id)"
        if self.kind == "Eleve":
            self._sync("person_subjects", "subject_id", subject_uai)
        else:
            self._drop_outside("person_subjects", subject_uai)
            self._drop_outside("person_disciplines", "t.uai", entity="disciplines")
        if "levels" in self.out.counts:
            self._sync_levels()
        self._drop_outside("group_members",
                           "(SELECT uai FROM groups WHERE groups.id = t.group_id)",
                           entity="memberships")

    def _kind_sql(self) -> str:
        return "pp.profile = :student" if self.kind == "Eleve" else "pp.profile <> :student"

    def _outside(self) -> str:
        """A row (alias ``t``, its uai ``{uai}``) where its person no longer has a profile."""
        return ("NOT EXISTS (SELECT 1 FROM person_profiles pp WHERE pp.person_pk = t.person_pk "
                "AND pp.uai = {uai})")

    def _drop_outside(self, table: str, uai: str, *, entity: str | None = None,
                      among: str = _ALL) -> None:
        self.count(entity or table, "removed", self.stage.run(
            f"DELETE FROM {table} WHERE id IN (SELECT t.id FROM {table} t "  # noqa: S608
            f"WHERE t.person_pk IN ({among}) AND {self._outside().format(uai=uai)})"))

    def _sync(self, table: str, target: str, uai: str) -> None:
        """File persons: exactly the file's links; others: none where they no longer are."""
        run = self.stage.run
        removed = run(
            f"DELETE FROM {table} WHERE id IN (SELECT t.id FROM {table} t "  # noqa: S608
            f"WHERE t.person_pk IN ({_IN}) AND NOT EXISTS (SELECT 1 FROM feed_stage_links l "
            f"WHERE l.entity = '{table}' AND l.pk = t.person_pk AND l.target = t.{target}))")
        self.count(table, "removed", removed)
        self._drop_outside(table, uai, among=_OUT)
        self.count(table, "added", run(
            f"INSERT INTO {table} (person_pk, {target}) SELECT l.pk, l.target "  # noqa: S608
            f"FROM feed_stage_links l WHERE l.entity = '{table}' AND NOT EXISTS (SELECT 1 "
            f"FROM {table} x WHERE x.person_pk = l.pk AND x.{target} = l.target)"))

    def _sync_levels(self) -> None:
        run = self.stage.run
        self.count("levels", "removed", run(
            "DELETE FROM person_levels WHERE id IN (SELECT t.id FROM person_levels t "  # noqa: S608 - constant fragments
            f"WHERE t.person_pk IN ({_IN}) AND NOT EXISTS (SELECT 1 FROM feed_stage_links l "
            "WHERE l.entity = 'want_levels' AND l.pk = t.person_pk AND l.uai = t.uai "
            "AND l.code = t.mefstat4))"))
        self._drop_outside("person_levels", "t.uai", entity="levels", among=_OUT)
        self.count("levels", "added", run(
            "INSERT INTO person_levels (person_pk, uai, mefstat4) SELECT l.pk, l.uai, l.code "
            "FROM feed_stage_links l WHERE l.entity = 'want_levels' AND NOT EXISTS (SELECT 1 "
            "FROM person_levels x WHERE x.person_pk = l.pk AND x.uai = l.uai "
            "AND x.mefstat4 = l.code)"))

    _finish_Eleve = _finish_people
    _finish_Enseignant = _finish_people

    # --- Groupe ---------------------------------------------------------------------------

    def _on_GARGroupe(self, r: Record) -> None:
        self.covered.add(self.uai(r.one("GARStructureUAI"), r.line))
        self.pending.append(r)
        if len(self.pending) >= CHUNK:
            self._flush_groups()

    def _flush_groups(self) -> None:
        """A batch of groups created or updated, and staged (id, uai, code)."""
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        uais = sorted({r.one("GARStructureUAI") for r in batch})
        existing = {(row.uai, row.code): row for row in self.session.execute(
            select(GROUPS.c.id, GROUPS.c.uai, GROUPS.c.code, GROUPS.c.label, GROUPS.c.status,
                   GROUPS.c.divisions).where(GROUPS.c.uai.in_(uais)))}
        new: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        for r in batch:
            values = {"uai": r.one("GARStructureUAI"), "code": r.one("GARGroupeCode"),
                      "label": r.one("GARGroupeLibelle"), "status": r.one("GARGroupeStatut"),
                      "divisions": r.all("GARGroupeDivAppartenance")}
            row = existing.get((values["uai"], values["code"]))
            if row is None:
                new.append(values)
                continue
            self.stage.add("feed_stage_groups", (row.id, row.uai, row.code))
            if any(getattr(row, name) != value for name, value in values.items()):
                changed.append({"b_id": row.id, "b_label": values["label"],
                                "b_status": values["status"], "b_divisions": values["divisions"]})
        if new:
            for gid, uai, code in self._insert_rows(
                    GROUPS, new, (GROUPS.c.id, GROUPS.c.uai, GROUPS.c.code)):
                self.stage.add("feed_stage_groups", (gid, uai, code))
            self.count("groups", "added", len(new))
        if changed:
            self.session.execute(_UPDATE_GROUP, changed)
            self.count("groups", "changed", len(changed))

    def _member(self, r: Record, entity: str) -> None:
        self._flush_groups()
        self.uai(r.one("GARStructureUAI"), r.line)
        self._link(r, entity, None, r.one("GARGroupeCode"))

    def _on_GARPersonGroupe(self, r: Record) -> None:
        self._member(r, "member")

    def _on_GAREnsGroupeMatiere(self, r: Record) -> None:
        self._member(r, "taught_group" if r.tag == "GAREnsGroupeMatiere" else "taught_class")
        uai = r.one("GARStructureUAI")
        for code in r.all("GARMatiereCode"):
            found = self.subjects().get((uai, code))
            if found is None:
                raise FeedError("feed.unknown_subject", r.line,
                                f"matière inconnue : {code} dans {uai}")
            self._link(r, "teacher_subject", found, r.one("GARGroupeCode"))

    _on_GAREnsClasseMatiere = _on_GAREnsGroupeMatiere

    def _finish_Groupe(self) -> None:
        """Groups, memberships and staff subjects of the covered establishments replaced,
        all diffed in SQL against the staged rows."""
        run = self.stage.run
        self._flush_groups()
        self._stage_covered()
        group = self.session.execute(text(
            "SELECT r.line, r.code, r.uai FROM feed_stage_raw r WHERE NOT EXISTS (SELECT 1 "
            "FROM feed_stage_groups g WHERE g.uai = r.uai AND g.code = r.code) "
            "ORDER BY r.line LIMIT 1")).first()
        person = self.session.execute(text(
            "SELECT r.line, r.person_id FROM feed_stage_raw r WHERE NOT EXISTS (SELECT 1 "
            "FROM persons p WHERE p.person_id = r.person_id) ORDER BY r.line LIMIT 1")).first()
        self._first(
            self._duplicate(),
            None if group is None else FeedError(
                "feed.unknown_group", int(group[0]),
                f"groupe absent du fichier : {group[1]} dans {group[2]}"),
            None if person is None or (group is not None and group[0] <= person[0])
            else FeedError("feed.unknown_person", int(person[0]),
                           f"personne inconnue dans l'annuaire : {person[1]}"))
        self.count("groups", "removed", run(
            f"DELETE FROM groups WHERE uai IN ({_UAIS}) AND NOT EXISTS "  # noqa: S608 - constant fragments
            "(SELECT 1 FROM feed_stage_groups g WHERE g.id = groups.id)"))
        run("INSERT INTO feed_stage_links (entity, pk, target) "
            "SELECT DISTINCT 'member', p.id, g.id FROM feed_stage_raw r "
            "JOIN feed_stage_groups g ON g.uai = r.uai AND g.code = r.code "
            "JOIN persons p ON p.person_id = r.person_id")
        self._teacher_subjects()
        self.stage.analyze()
        self.count("memberships", "removed", run(
            "DELETE FROM group_members WHERE id IN (SELECT t.id FROM group_members t "
            "JOIN feed_stage_groups g ON g.id = t.group_id WHERE NOT EXISTS (SELECT 1 "
            "FROM feed_stage_links l WHERE l.entity = 'member' AND l.pk = t.person_pk "
            "AND l.target = t.group_id))"))
        self.count("memberships", "added", run(
            "INSERT INTO group_members (group_id, person_pk) SELECT l.target, l.pk "
            "FROM feed_stage_links l WHERE l.entity = 'member' AND NOT EXISTS (SELECT 1 "
            "FROM group_members x WHERE x.group_id = l.target AND x.person_pk = l.pk)"))
        staff = (f"SELECT pp.person_pk FROM person_profiles pp WHERE pp.uai IN ({_UAIS}) "  # noqa: S608 - constant fragments
                 "AND pp.profile <> :student")
        self.count("person_subjects", "removed", run(
            "DELETE FROM person_subjects WHERE id IN (SELECT t.id FROM person_subjects t "  # noqa: S608 - constant fragments
            f"WHERE t.person_pk IN ({staff}) AND t.subject_id IN (SELECT s.id FROM subjects s "
            f"WHERE s.uai IN ({_UAIS})) AND NOT EXISTS (SELECT 1 FROM feed_stage_links l "
            "WHERE l.entity = 'staff_subjects' AND l.pk = t.person_pk "
            "AND l.target = t.subject_id))", student=STUDENT))
        self.count("person_subjects", "added", run(
            "INSERT INTO person_subjects (person_pk, subject_id) SELECT l.pk, l.target "
            "FROM feed_stage_links l WHERE l.entity = 'staff_subjects' AND NOT EXISTS "
            "(SELECT 1 FROM person_subjects x WHERE x.person_pk = l.pk "
            "AND x.subject_id = l.target)"))

    def _teacher_subjects(self) -> None:
        """Staff subjects of covered establishments: their classes' and groups' subjects.

        A librarian (``National_doc``) teaches no class: they get their establishment's
        documentation subject (``GARMatiereLibelle`` DOCUMENTATION), a testbed choice since
        the meaning of ``P_MAT`` is unverified.
        """
        self.stage.run(
            "INSERT INTO feed_stage_links (entity, pk, target) "  # noqa: S608 - constant fragments
            "SELECT DISTINCT 'staff_subjects', p.id, r.target FROM feed_stage_raw r "
            "JOIN persons p ON p.person_id = r.person_id "
            "JOIN subjects s ON s.id = r.target "
            "JOIN person_profiles pp ON pp.person_pk = p.id AND pp.uai = s.uai "
            "AND pp.profile <> :student WHERE r.entity = 'teacher_subject' "
            "UNION SELECT 'staff_subjects', pp.person_pk, s.id FROM person_profiles pp "
            "JOIN subjects s ON s.uai = pp.uai AND UPPER(s.label) = 'DOCUMENTATION' "
            f"WHERE pp.uai IN ({_UAIS}) AND pp.profile = 'National_doc'", student=STUDENT)

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

