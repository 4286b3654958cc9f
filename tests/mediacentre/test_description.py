"""Resource descriptions: seeded as ScoLOMFR term ids, unknown terms refused before writing."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broker.mediacentre_wire import accepts_gzip
from broker.models import Resource
from broker.seed import seed, validate
from services.dataset import Dataset
from services.scolomfr import LEVELS, check_terms, terms


def test_the_seed_stores_each_resources_description(session: Session) -> None:
    maths = session.get(Resource, "ark:/99999/r10001")
    assert maths is not None
    assert maths.levels == ["scolomfr-voc-022-num-021"]
    assert maths.thumbnail_url == "/vignettes/manuel-maths-4e.svg"
    assert maths.pedagogical_types and maths.document_types and maths.subjects


def test_seeding_twice_changes_no_description(session: Session, academy: Dataset) -> None:
    summary = seed(session, academy)
    assert summary.updated == 0 and summary.created == 0


@pytest.mark.parametrize(("field", "value"), [
    ("levels", ("scolomfr-voc-022-num-999",)),
    ("subjects", ("inconnu",)),
    ("pedagogical_types", ("scolomfr-voc-022-num-021",)),  # a level is not a pedagogical type
    ("document_types", ("",)),
    ("presentation", "XYZ"),
])
def test_an_unknown_term_or_presentation_is_refused_before_any_write(
    session: Session, academy: Dataset, field: str, value: object
) -> None:
    bad = replace(academy.resources[0], **{field: value})  # type: ignore[arg-type]
    dataset = replace(academy, resources=(bad, *academy.resources[1:]))
    before = session.scalar(select(func.count()).select_from(Resource))
    with pytest.raises(ValueError, match="ark:/99999/r10001"):
        validate(dataset)
    with pytest.raises(ValueError):
        seed(session, dataset)
    assert session.scalar(select(func.count()).select_from(Resource)) == before


def test_a_term_the_vocabulary_dropped_is_shown_by_its_id() -> None:
    assert [t.label for t in terms(LEVELS, ["scolomfr-voc-022-num-021", "x"])] == ["4e", "x"]
    assert check_terms("levels", ["x"]) == ["Terme inconnu du vocabulaire (levels) : x"]


@pytest.mark.parametrize(("header", "expected"), [
    ("gzip, deflate", True), ("deflate, GZIP;q=0.5", True), ("x-gzip", True),
    ("gzip;q=0", False), ("gzip; q=0.0", False), ("identity", False), ("", False),
    (None, False), ("br, zstd", False),
])
def test_gzip_is_used_only_when_accepted(header: str | None, expected: bool) -> None:
    assert accepts_gzip(header) is expected
