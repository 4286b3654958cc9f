"""A catalogue resource's mediacentre description: checked, then stored as plain columns.

The seed (and any later catalogue import) writes descriptions through these two functions,
so a term outside the broker's vocabularies (``services.scolomfr``) never reaches the store.
"""

from __future__ import annotations

from typing import Any

from services.dataset import Resource
from services.scolomfr import VOCABULARIES, check_presentation, check_terms


def check_description(resource: Resource) -> list[str]:
    """Problems with the resource's presentation type and terms (French); empty when sound."""
    problems = check_presentation(resource.presentation)
    for field in VOCABULARIES:
        problems += check_terms(field, getattr(resource, field))
    return problems


def mediacentre_description(resource: Resource) -> dict[str, Any]:
    """The ``broker.models.Resource`` column values describing it in the mediacentre."""
    return {
        "thumbnail_url": resource.thumbnail_url,
        **{field: list(getattr(resource, field)) for field in VOCABULARIES},
    }
