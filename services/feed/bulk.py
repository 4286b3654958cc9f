"""Feed files of any size for the importer's benchmark and memory test: four big files.

One file of each kind (``etab``, ``eleves``, ``enseignants``, ``groupes``) for ``people``
people, 500 students per collège by default, one teacher per two classes, 25 students per
class, written as strings straight to disk: deliberately past the 10,000-node packaging limit,
so that an importer whose memory grew with the file would show it, and fast enough for a
million people (``services.feed.writer`` writes the synthetic academy through lxml instead).
"""

from __future__ import annotations

from pathlib import Path
from typing import IO

from services.uai import make_uai

NS = "http://data.education.fr/ns/gar"
CLASS_SIZE = 25
LEVELS = (("6", "10010012110", "6EME", "21110010000"), ("5", "10110001110", "5EME", "21120010000"),
          ("4", "10210001110", "4EME", "21130010000"), ("3", "10310019110", "3EME", "21140010000"))
SUBJECTS = (("061300", "MATHEMATIQUES"), ("020100", "FRANCAIS"), ("030201", "ANGLAIS LV1"),
            ("040300", "HISTOIRE-GEOGRAPHIE"), ("000100", "DOCUMENTATION"))


def _open(path: Path, kind: str) -> IO[str]:
    out = path.open("w", encoding="utf-8", buffering=1 << 20)
    out.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<GAR-ENT-{kind} xmlns="{NS}" '
              'Version="1.7">\n')
    return out


def generate(folder: Path, people: int, per_establishment: int) -> dict[str, int]:
    """The four files, written as streams (students, their teachers: one per two classes)."""
    teachers = max(1, per_establishment // CLASS_SIZE // 2)
    count = max(1, round(people / (per_establishment + teachers)))
    uais = [make_uai(3_600_000 + i) for i in range(count)]
    classes = max(1, -(-per_establishment // CLASS_SIZE))
    with _open(folder / "etab.xml", "Etab") as out:
        for i, uai in enumerate(uais):
            out.write(f"<GAREtab><GARStructureUAI>{uai}</GARStructureUAI><GARStructureNomCourant>"
                      f"Collège synthétique n° {i + 1}</GARStructureNomCourant></GAREtab>\n")
        for uai in uais:
            for _l, code, label, stat in LEVELS:
                out.write(f"<GARMEF><GARStructureUAI>{uai}</GARStructureUAI><GARMEFCode>{code}"
                          f"</GARMEFCode><GARMEFLibelle>{label}</GARMEFLibelle><GARMEFSTAT11>"
                          f"{stat}</GARMEFSTAT11></GARMEF>\n")
        for uai in uais:
            for code, label in SUBJECTS:
                out.write(f"<GARMatiere><GARStructureUAI>{uai}</GARStructureUAI><GARMatiereCode>"
                          f"{code}</GARMatiereCode><GARMatiereLibelle>{label}</GARMatiereLibelle>"
                          "</GARMatiere>\n")
        out.write("</GAR-ENT-Etab>\n")

    def student(e: int, k: int) -> str:
        return f"elv-{e:05d}-{k:04d}"

    def teacher(e: int, t: int) -> str:
        return f"ens-{e:05d}-{t:03d}"

    def division(c: int) -> str:
        return f"{LEVELS[c % 4][0]}{chr(65 + c // 4 % 26)}{c // 104 or ''}"

    with _open(folder / "eleves.xml", "Eleve") as out:
        for e, uai in enumerate(uais):
            for k in range(per_establishment):
                out.write(
                    f"<GAREleve><GARPersonIdentifiant>{student(e, k)}</GARPersonIdentifiant>"
                    f"<GARPersonProfils><GARStructureUAI>{uai}</GARStructureUAI><GARPersonProfil>"
                    "National_elv</GARPersonProfil></GARPersonProfils><GARPersonIdSecondaire>"
                    f"{e * 10_000 + k}</GARPersonIdSecondaire><GARPersonNom>Martin</GARPersonNom>"
                    "<GARPersonPrenom>Léa</GARPersonPrenom><GARPersonAutresPrenoms>Léa"
                    "</GARPersonAutresPrenoms><GARPersonCivilite>Mme</GARPersonCivilite>"
                    f"<GARPersonEtab>{uai}</GARPersonEtab><GARPersonDateNaissance>2012-0"
                    f"{1 + k % 9}-1{k % 10}</GARPersonDateNaissance></GAREleve>\n")
        for e, uai in enumerate(uais):
            for k in range(per_establishment):
                out.write(f"<GARPersonMEF><GARStructureUAI>{uai}</GARStructureUAI>"
                          f"<GARPersonIdentifiant>{student(e, k)}</GARPersonIdentifiant>"
                          f"<GARMEFCode>{LEVELS[k // CLASS_SIZE % 4][1]}</GARMEFCode>"
                          "</GARPersonMEF>\n")
        for e, uai in enumerate(uais):
            for k in range(per_establishment):
                for subject in ("061300", "020100"):
                    out.write(f"<GAREleveEnseignement><GARStructureUAI>{uai}</GARStructureUAI>"
                              f"<GARPersonIdentifiant>{student(e, k)}</GARPersonIdentifiant>"
                              f"<GARMatiereCode>{subject}</GARMatiereCode>"
                              "</GAREleveEnseignement>\n")
        out.write("</GAR-ENT-Eleve>\n")
    with _open(folder / "enseignants.xml", "Enseignant") as out:
        for e, uai in enumerate(uais):
            for t in range(teachers):
                out.write(
                    f"<GAREnseignant><GARPersonIdentifiant>{teacher(e, t)}</GARPersonIdentifiant>"
                    f"<GARPersonProfils><GARStructureUAI>{uai}</GARStructureUAI><GARPersonProfil>"
                    "National_ens</GARPersonProfil></GARPersonProfils><GARPersonIdSecondaire>"
                    f"t{e * 1_000 + t}</GARPersonIdSecondaire><GARPersonNom>Durand</GARPersonNom>"
                    "<GARPersonPrenom>Paul</GARPersonPrenom><GARPersonAutresPrenoms>Paul"
                    "</GARPersonAutresPrenoms><GARPersonCivilite>M.</GARPersonCivilite>"
                    f"<GARPersonEtab>{uai}</GARPersonEtab><GAREnsDisciplinesPostes>"
                    f"<GARStructureUAI>{uai}</GARStructureUAI><GAREnsDisciplinePosteCode>L1300"
                    "</GAREnsDisciplinePosteCode></GAREnsDisciplinesPostes><GARPersonMail>"
                    f"{teacher(e, t)}@ac-rennes.fr</GARPersonMail></GAREnseignant>\n")
        for e, uai in enumerate(uais):
            for t in range(teachers):
                out.write(f"<GARPersonMEF><GARStructureUAI>{uai}</GARStructureUAI>"
                          f"<GARPersonIdentifiant>{teacher(e, t)}</GARPersonIdentifiant>"
                          f"<GARMEFCode>{LEVELS[t % 4][1]}</GARMEFCode></GARPersonMEF>\n")
        out.write("</GAR-ENT-Enseignant>\n")
    with _open(folder / "groupes.xml", "Groupe") as out:
        for uai in uais:
            for c in range(classes):
                out.write(f"<GARGroupe><GARGroupeCode>{division(c)}</GARGroupeCode><GARStructureUAI>"
                          f"{uai}</GARStructureUAI><GARGroupeLibelle>{division(c)}</GARGroupeLibelle>"
                          "<GARGroupeStatut>DIVISION</GARGroupeStatut></GARGroupe>\n")
        for e, uai in enumerate(uais):
            for k in range(per_establishment):
                out.write(f"<GARPersonGroupe><GARStructureUAI>{uai}</GARStructureUAI>"
                          f"<GARPersonIdentifiant>{student(e, k)}</GARPersonIdentifiant>"
                          f"<GARGroupeCode>{division(k // CLASS_SIZE)}</GARGroupeCode>"
                          "</GARPersonGroupe>\n")
        for e, uai in enumerate(uais):
            for t in range(teachers):
                for c in (2 * t, 2 * t + 1):
                    if c < classes:
                        out.write(
                            f"<GAREnsClasseMatiere><GARStructureUAI>{uai}</GARStructureUAI>"
                            f"<GARPersonIdentifiant>{teacher(e, t)}</GARPersonIdentifiant>"
                            f"<GARGroupeCode>{division(c)}</GARGroupeCode><GARMatiereCode>"
                            f"{SUBJECTS[t % 4][0]}</GARMatiereCode></GAREnsClasseMatiere>\n")
        out.write("</GAR-ENT-Groupe>\n")
    return {"establishments": count, "students": count * per_establishment,
            "teachers": count * teachers}
