"""A national-size academy on request: more colleges, their classes, students and teachers.

Deterministic from the seed, and separate from the fixed academy: it only appends (new
UAIs in department 036, new ids numbered after the fixed persons), so asking for no extra
establishment leaves :func:`services.dataset.build` unchanged. Used to try the feed at
scale (``gar-testbed seed --establishments N --students-per-establishment M
[--teachers-per-establishment T]``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from services.dataset import (
    ACADEMY,
    PASSWORD,
    Establishment,
    Group,
    Mef,
    Person,
    Subject,
)
from services.uai import make_uai

CLASS_SIZE = 25
_LEVELS = (("6", "10010012110", "6EME", "2111", 2014), ("5", "10110001110", "5EME", "2112", 2013),
           ("4", "10210001110", "4EME", "2113", 2012), ("3", "10310019110", "3EME", "2114", 2011))
_SUBJECTS = (("061300", "MATHEMATIQUES"), ("020100", "FRANCAIS"), ("030201", "ANGLAIS LV1"),
             ("040300", "HISTOIRE-GEOGRAPHIE"), ("000100", "DOCUMENTATION"))
_FIRST = ("Léa", "Chloé", "Manon", "Inès", "Jade", "Lucas", "Hugo", "Louis", "Gabriel", "Arthur")
_LAST = ("Le Gall", "Morel", "Fournier", "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine",
         "Rousseau", "Vincent", "Muller", "Lefèvre", "Faure", "André", "Mercier", "Blanc")


@dataclass(frozen=True)
class National:
    establishments: tuple[Establishment, ...]
    groups: tuple[Group, ...]
    mefs: tuple[Mef, ...]
    subjects: tuple[Subject, ...]
    persons: tuple[Person, ...]


def national(*, establishments: int, students: int, seed: int, first_number: int,
             teachers: int | None = None) -> National:
    """``establishments`` colleges of ``students`` students each, ids from ``first_number``.

    ``teachers`` per college (default: one per two classes), each teaching one class, in
    turn; the first one is the college's assignment officer.
    """
    rng = random.Random(f"{seed}-national")  # noqa: S311 - test data
    ests: list[Establishment] = []
    groups: list[Group] = []
    mefs: list[Mef] = []
    subjects: list[Subject] = []
    persons: list[Person] = []
    n = first_number
    for i in range(establishments):
        uai = make_uai(3_600_000 + i)
        ests.append(Establishment(uai, f"Collège synthétique n° {i + 1}", "college", ACADEMY,
                                  "Rennes"))
        mefs += [Mef(uai, code, label, stat) for _l, code, label, stat, _y in _LEVELS]
        subjects += [Subject(uai, code, label) for code, label in _SUBJECTS]
        classes = max(1, -(-students // CLASS_SIZE))
        codes = []
        for c in range(classes):
            level = _LEVELS[c % len(_LEVELS)]
            code = f"{level[0]}{chr(ord('A') + c // len(_LEVELS) % 26)}{c // 104 or ''}"
            codes.append((code, level))
            groups.append(Group(uai, code, code, "DIVISION"))
        for k in range(students):
            n += 1
            code, level = codes[k // CLASS_SIZE]
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            persons.append(Person(
                person_id=f"elv-{n:06d}", login=f"eleve.{uai}.{k + 1}", password=PASSWORD,
                last_name=last, first_name=first, civility=rng.choice(("M.", "Mme")),
                birth_date=date(level[4], 1, 1) + timedelta(days=rng.randrange(365)),
                emails=(), join_key=f"{1_000_000 + n}", ine=None,
                profiles=((uai, "National_elv"),), establishments=(uai,),
                divisions=((uai, code, code),), mef=((uai, level[1]),),
                subjects=((uai, "061300"), (uai, "020100"))))
        for t in range(len(codes[::2]) if teachers is None else teachers):
            code, level = codes[2 * t % len(codes)]
            n += 1
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            subject = _SUBJECTS[t % 4][0]
            persons.append(Person(
                person_id=f"ens-{n:06d}", login=f"enseignant.{uai}.{t + 1}", password=PASSWORD,
                last_name=last, first_name=first, civility=rng.choice(("M.", "Mme")),
                birth_date=None, emails=(f"ens-{n:06d}@ac-rennes.fr",),
                join_key=f"{1_000_000 + n}", ine=None, profiles=((uai, "National_ens"),),
                establishments=(uai,), divisions=((uai, code, code),),
                subjects=((uai, subject),), levels=((uai, level[3]),),
                respaff=(uai,) if t == 0 else ()))
    return National(tuple(ests), tuple(groups), tuple(mefs), tuple(subjects), tuple(persons))
