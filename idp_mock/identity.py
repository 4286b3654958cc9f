"""What the identity provider says about a person, in the two shapes the broker accepts.

ENT-style providers send only who the person is in the directory feed (``idEnt`` +
``GARPersonIdentifiant``); ÉduConnect sends ``FrEduCtRefId`` values whose ``{AAF}`` one
carries the join key into the academic directory. The "talkative" option adds what a careless
provider sends anyway (names, birth date, e-mail, INE): the broker must never pass it on.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Literal

from broker.directory import educonnect_ref_id
from services.dataset import Dataset, Person

Shape = Literal["ent", "educonnect"]
SHAPES: tuple[Shape, ...] = ("ent", "educonnect")

#: Attribute names a talkative provider adds (never to be released by the broker).
TALKATIVE_NAMES: tuple[str, ...] = ("nom", "prenom", "civilite", "dateNaissance", "mail", "ine")


def parse_shape(value: str | None, default: str) -> Shape:
    for shape in SHAPES:
        if value == shape:
            return shape
    return "educonnect" if default == "educonnect" else "ent"


def attributes(
    dataset: Dataset,
    person: Person,
    *,
    shape: Shape,
    talkative: bool,
    sp_entity_id: str,
    secret: bytes,
) -> dict[str, list[str]]:
    if shape == "ent":
        values: dict[str, list[str]] = {
            "idEnt": [dataset.ent_id],
            "GARPersonIdentifiant": [person.person_id],
        }
    else:
        educonnect_id = _pseudonym(secret, "ect", person.person_id)[:16].upper()
        values = {
            # Several values, as ÉduConnect sends; only the {AAF} one carries the join key
            # (the "{ECT}" prefix of the other is illustrative, not from a public source).
            "FrEduCtRefId": [
                f"{{ECT}}{educonnect_id}",
                educonnect_ref_id(dataset.academy, person.join_key),
            ],
            "FrEduCtId": [educonnect_id],
            # Pairwise, as ÉduConnect computes an opaque id per service provider.
            "FrEduCtOpaqueId": [_pseudonym(secret, "opaque", sp_entity_id, person.person_id)],
        }
    if talkative:
        values.update(_talkative(person))
    return values


def _talkative(person: Person) -> dict[str, list[str]]:
    extra: dict[str, list[str]] = {
        "nom": [person.last_name],
        "prenom": [person.first_name],
    }
    if person.civility:
        extra["civilite"] = [person.civility]
    if person.birth_date is not None:
        extra["dateNaissance"] = [person.birth_date.isoformat()]
    emails: Sequence[str] = person.emails
    if emails:
        extra["mail"] = list(emails)
    if person.ine:
        extra["ine"] = [person.ine]
    return extra


def _pseudonym(secret: bytes, purpose: str, *parts: str) -> str:
    message = "\x00".join((purpose, *parts)).encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()
