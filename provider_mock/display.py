"""What the provider mock shows, whatever protocol brought the person: refusals and rows.

Its SAML, CAS and OIDC sides all end on a page listing what was received, or on a refusal
naming a stable code; one definition serves the three.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from services.attributes import CATALOGUE


@dataclass(frozen=True)
class Refusal(Exception):
    code: str
    reason: str
    status: int = 400
    detail: str | None = None


@dataclass(frozen=True)
class Row:
    code: str
    label: str
    values: list[str]


def rows(received: Iterable[tuple[str, Sequence[str]]]) -> list[Row]:
    """One row per received attribute, labelled from the catalogue (unknown codes unlabelled)."""
    return [
        Row(code, CATALOGUE[code].label if code in CATALOGUE else "", list(values))
        for code, values in received
    ]
