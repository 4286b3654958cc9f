"""Writing a dataset's people side as directory-feed files, the way an ENT exporter does.

Files are named as ENT exporters name them, hold at most ``MAX_NODES_PER_FILE`` top-level
elements, and never split an establishment — nor a group of establishments that share a
person — across two files of one kind: each file is the complete snapshot of the
establishments it covers, which is how the broker applies it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any

from lxml import etree

from services.dataset import Dataset, Person
from services.feed.names import KINDS, MAX_NODES_PER_FILE, VARIANTS, children, file_name

STUDENT = "National_elv"
Node = tuple[str, list[tuple[str, object]]]  # tag, children (leaf text or nested Node)


def _components(data: Dataset) -> dict[str, str]:
    """Each UAI's representative: establishments sharing a person end up together."""
    parent = {e.uai: e.uai for e in data.establishments}

    def find(uai: str) -> str:
        while parent.setdefault(uai, uai) != uai:
            uai = parent[uai]
        return uai

    for person in data.persons:
        uais = [u for u, _p in person.profiles] + list(person.establishments)
        for other in uais[1:]:
            parent[find(other)] = find(uais[0])
    return {uai: find(uai) for uai in list(parent)}


def _variants(data: Dataset, group_of: dict[str, str]) -> dict[str, str]:
    """Each establishment group's variant: primary (1d) when all its establishments are."""
    kinds: dict[str, set[str | None]] = defaultdict(set)
    for est in data.establishments:
        kinds[group_of[est.uai]].add(est.kind)
    return {group: "1d" if found == {"ecole"} else "2d" for group, found in kinds.items()}


def _person_nodes(person: Person, kind: str, data: Dataset, variant: str = "2d") -> list[Node]:
    children: list[tuple[str, object]] = [("GARPersonIdentifiant", person.person_id)]
    for uai, profile in person.profiles:
        children.append(("GARPersonProfils", [("GARStructureUAI", uai),
                                              ("GARPersonProfil", profile)]))
    children += [("GARPersonIdSecondaire", person.join_key), ("GARPersonNom", person.last_name),
                 ("GARPersonPrenom", person.first_name),
                 ("GARPersonAutresPrenoms", person.first_name)]
    if person.civility:
        children.append(("GARPersonCivilite", person.civility))
    children += [("GARPersonEtab", uai) for uai in person.establishments]
    if person.birth_date:
        children.append(("GARPersonDateNaissance", person.birth_date.isoformat()))
    if kind == "Enseignant":
        by_uai: dict[str, list[str]] = defaultdict(list)
        for uai, code in person.disciplines:
            by_uai[uai].append(code)
        block, leaf = (("GAREnsSpecialitesPostes", "GAREnsSpecialitePosteCode")
                       if variant == "1d" else
                       ("GAREnsDisciplinesPostes", "GAREnsDisciplinePosteCode"))
        for uai, codes in by_uai.items():
            children.append((block, [("GARStructureUAI", uai)] + [(leaf, c) for c in codes]))
        children += [("GARPersonMail", mail) for mail in person.emails]
    return [("GAREleve" if kind == "Eleve" else "GAREnseignant", children)]


def _mefs_of(person: Person, data: Dataset) -> list[tuple[str, str]]:
    """A person's MEFs; a teacher's levels (MEFSTAT4) become the MEFs that carry them."""
    mefs = list(person.mef)
    for uai, level in person.levels:
        for mef in data.mefs:
            if mef.uai == uai and mef.mefstat4 == level and (uai, mef.code) not in mefs:
                mefs.append((uai, mef.code))
                break
    return mefs


def _triple(tag: str, uai: str, person_id: str, name: str, value: str) -> Node:
    return (tag, [("GARStructureUAI", uai), ("GARPersonIdentifiant", person_id), (name, value)])


def nodes_by_kind(data: Dataset) -> dict[str, dict[str, list[Node]]]:
    """For each kind, the top-level nodes of each establishment group (in documented order)."""
    group_of = _components(data)
    variant_of = _variants(data, group_of)
    out: dict[str, dict[str, dict[str, list[Node]]]] = {
        kind: defaultdict(lambda: defaultdict(list)) for kind in KINDS}

    def put(kind: str, uai: str, node: Node) -> None:
        if node[0] in children(kind, variant_of[group_of[uai]]):  # 1d: fewer sections
            out[kind][group_of[uai]][node[0]].append(node)

    def primary(uai: str) -> bool:
        return variant_of[group_of[uai]] == "1d"

    stat4 = {(mef.uai, mef.code): mef.mefstat4 for mef in data.mefs}

    for est in data.establishments:
        put("Etab", est.uai, ("GAREtab", [("GARStructureUAI", est.uai),
                                          ("GARStructureNomCourant", est.name)]))
    for mef in data.mefs:
        put("Etab", mef.uai, ("GARMEF", [("GARStructureUAI", mef.uai), ("GARMEFCode", mef.code),
                                         ("GARMEFLibelle", mef.label),
                                         ("GARMEFSTAT11", mef.mefstat4.ljust(11, "0"))]))
    for subject in data.subjects:
        put("Etab", subject.uai, ("GARMatiere", [
            ("GARStructureUAI", subject.uai), ("GARMatiereCode", subject.code),
            ("GARMatiereLibelle", subject.label)]))
    for group in data.groups:
        put("Groupe", group.uai, ("GARGroupe", [
            ("GARGroupeCode", group.code), ("GARStructureUAI", group.uai),
            ("GARGroupeLibelle", group.label), ("GARGroupeStatut", group.status),
            *[("GARGroupeDivAppartenance", d) for d in group.divisions]]))
    statuses = {(g.uai, g.code): g.status for g in data.groups}
    for person in data.persons:
        student = any(p.lower() == STUDENT.lower() for _u, p in person.profiles)
        kind = "Eleve" if student else "Enseignant"
        home = (person.establishments or tuple(u for u, _p in person.profiles))[0]
        for node in _person_nodes(person, kind, data, "1d" if primary(home) else "2d"):
            put(kind, home, node)
        if primary(home):  # levels as MEFSTAT4: a student's MEF's, a teacher's own
            levels = dict.fromkeys([(u, stat4[(u, c)]) for u, c in person.mef
                                    if stat4.get((u, c))] + list(person.levels))
            for uai, level in levels:
                put(kind, home, _triple("GARPersonMEFSTAT4", uai, person.person_id,
                                        "GARMEFSTAT4", level))
        for uai, code in _mefs_of(person, data) if not primary(home) else ():
            put(kind, home, _triple("GARPersonMEF", uai, person.person_id, "GARMEFCode", code))
        if student:
            for uai, code in person.subjects:
                put(kind, home, _triple("GAREleveEnseignement", uai, person.person_id,
                                        "GARMatiereCode", code))
        for uai, code, _label in (*person.divisions, *person.groups):
            taught = [c for u, c in person.subjects if u == uai] if not student else []
            if taught:
                tag = ("GAREnsClasseMatiere" if statuses.get((uai, code)) == "DIVISION"
                       else "GAREnsGroupeMatiere")
                put("Groupe", uai, (tag, [("GARStructureUAI", uai),
                                          ("GARPersonIdentifiant", person.person_id),
                                          ("GARGroupeCode", code),
                                          *[("GARMatiereCode", c) for c in taught]]))
            else:
                put("Groupe", uai, _triple("GARPersonGroupe", uai, person.person_id,
                                           "GARGroupeCode", code))
        if person.respaff:
            put("RespAff", person.respaff[0], ("GARRespAff", [
                ("GARPersonIdentifiant", person.person_id), ("GARPersonNom", person.last_name),
                ("GARPersonPrenom", person.first_name),
                *([("GARPersonCivilite", person.civility)] if person.civility else []),
                *[("GARPersonMail", mail) for mail in person.emails],
                *[("GARRespAffEtab", uai) for uai in person.respaff]]))
    return {kind: {group: [n for tag in children(kind, variant_of[group]) for n in sections[tag]]
                   for group, sections in groups.items()}
            for kind, groups in out.items()}


def variants_by_group(data: Dataset) -> dict[str, str]:
    """The variant (``1d`` primary, ``2d`` secondary) of each group of :func:`nodes_by_kind`."""
    return _variants(data, _components(data))


def _files(nodes: dict[str, list[Node]], kind: str,
           variant: str = "2d") -> Iterator[list[Node]]:
    """Whole establishment groups packed into files of at most MAX_NODES_PER_FILE nodes."""
    batch: list[Node] = []
    for group in sorted(nodes):
        block = nodes[group]
        if batch and len(batch) + len(block) > MAX_NODES_PER_FILE:
            yield _ordered(batch, kind, variant)
            batch = []
        batch.extend(block)
    yield _ordered(batch, kind, variant)


def _ordered(batch: list[Node], kind: str, variant: str = "2d") -> list[Node]:
    rank = {tag: i for i, tag in enumerate(children(kind, variant))}
    return sorted(batch, key=lambda node: rank[node[0]])  # stable: keeps each section's order


def _element(node: Node, parent: etree._Element | None = None,
             namespace: str = VARIANTS["2d"][0]) -> etree._Element:
    tag, items = node
    qualified = f"{{{namespace}}}{tag}"
    namespaces: Any = {None: namespace}
    element = (etree.Element(qualified, nsmap=namespaces) if parent is None
               else etree.SubElement(parent, qualified))
    for name, value in items:
        if isinstance(value, list):
            _element((name, value), element, namespace)
        else:
            etree.SubElement(element, f"{{{namespace}}}{name}").text = str(value)
    return element


def render(kind: str, nodes: list[Node], variant: str = "2d") -> bytes:
    namespace, version, _degree = VARIANTS[variant]
    out = BytesIO()
    with etree.xmlfile(out, encoding="UTF-8") as xf:
        xf.write_declaration()
        namespaces: Any = {None: namespace}
        with xf.element(f"{{{namespace}}}GAR-ENT-{kind}", {"Version": version},
                        nsmap=namespaces):
            for node in nodes:
                xf.write("\n")
                xf.write(_element(node, None, namespace))
            xf.write("\n")
    return out.getvalue()


def documents(data: Dataset, *, at: datetime) -> list[tuple[str, bytes]]:
    """The feed files of a dataset's people side, in import order: (file name, content)."""
    result: list[tuple[str, bytes]] = []
    variant_of = variants_by_group(data)
    for kind, groups in nodes_by_kind(data).items():
        for variant in VARIANTS:  # secondary files first, then primary schools'
            mine = {g: nodes for g, nodes in groups.items() if variant_of[g] == variant}
            if not mine and (variant == "1d" or not groups):
                continue
            for sequence, batch in enumerate(_files(mine, kind, variant)):
                result.append((file_name(data.ent_id, kind, at, sequence, variant),
                               render(kind, batch, variant)))
    return result


def write(data: Dataset, directory: Path, *, at: datetime) -> list[Path]:
    """Write the feed files into ``directory`` (created); returns their paths, import order."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, content in documents(data, at=at):
        path = directory / name
        path.write_bytes(content)
        paths.append(path)
    return paths
