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
from services.feed.names import CHILDREN, KINDS, MAX_NODES_PER_FILE, NAMESPACE, VERSION, file_name

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


def _person_nodes(person: Person, kind: str, data: Dataset) -> list[Node]:
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
        for uai, codes in by_uai.items():
            children.append(("GAREnsDisciplinesPostes", [("GARStructureUAI", uai)] + [
                ("GAREnsDisciplinePosteCode", c) for c in codes]))
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
    out: dict[str, dict[str, dict[str, list[Node]]]] = {
        kind: defaultdict(lambda: defaultdict(list)) for kind in KINDS}

    def put(kind: str, uai: str, node: Node) -> None:
        out[kind][group_of[uai]][node[0]].append(node)

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
        for node in _person_nodes(person, kind, data):
            put(kind, home, node)
        for uai, code in _mefs_of(person, data):
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
    return {kind: {group: [n for tag in CHILDREN[kind] for n in sections[tag]]
                   for group, sections in groups.items()}
            for kind, groups in out.items()}


def _files(nodes: dict[str, list[Node]], kind: str) -> Iterator[list[Node]]:
    """Whole establishment groups packed into files of at most MAX_NODES_PER_FILE nodes."""
    batch: list[Node] = []
    for group in sorted(nodes):
        block = nodes[group]
        if batch and len(batch) + len(block) > MAX_NODES_PER_FILE:
            yield _ordered(batch, kind)
            batch = []
        batch.extend(block)
    yield _ordered(batch, kind)


def _ordered(batch: list[Node], kind: str) -> list[Node]:
    rank = {tag: i for i, tag in enumerate(CHILDREN[kind])}
    return sorted(batch, key=lambda node: rank[node[0]])  # stable: keeps each section's order


def _element(node: Node, parent: etree._Element | None = None) -> etree._Element:
    tag, children = node
    qualified = f"{{{NAMESPACE}}}{tag}"
    namespaces: Any = {None: NAMESPACE}
    element = (etree.Element(qualified, nsmap=namespaces) if parent is None
               else etree.SubElement(parent, qualified))
    for name, value in children:
        if isinstance(value, list):
            _element((name, value), element)
        else:
            etree.SubElement(element, f"{{{NAMESPACE}}}{name}").text = str(value)
    return element


def render(kind: str, nodes: list[Node]) -> bytes:
    out = BytesIO()
    with etree.xmlfile(out, encoding="UTF-8") as xf:
        xf.write_declaration()
        namespaces: Any = {None: NAMESPACE}
        with xf.element(f"{{{NAMESPACE}}}GAR-ENT-{kind}", {"Version": VERSION},
                        nsmap=namespaces):
            for node in nodes:
                xf.write("\n")
                xf.write(_element(node))
            xf.write("\n")
    return out.getvalue()


def documents(data: Dataset, *, at: datetime) -> list[tuple[str, bytes]]:
    """The feed files of a dataset's people side, in import order: (file name, content)."""
    result: list[tuple[str, bytes]] = []
    for kind, groups in nodes_by_kind(data).items():
        for sequence, batch in enumerate(_files(groups, kind)):
            result.append((file_name(data.ent_id, kind, at, sequence), render(kind, batch)))
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
