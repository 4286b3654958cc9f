"""The shipped XSD and the writer agree, and files follow the GAR's naming and size rules."""

from __future__ import annotations

from datetime import UTC, datetime

from lxml import etree

from services.dataset import Dataset, build
from services.feed.names import MAX_NODES_PER_FILE, parse_name
from services.feed.schema import file_schema
from services.feed.writer import documents
from tests.feed.conftest import AT


def test_the_xsd_accepts_every_file_the_writer_writes(academy: Dataset) -> None:
    for name, content in documents(academy, at=AT):
        document = etree.fromstring(content)
        schema = file_schema("1d" if "_1D_" in name else "2d")
        assert schema.validate(document), (name, schema.error_log)


def test_files_carry_the_gar_names_and_the_ent_id(academy: Dataset) -> None:
    names = [name for name, _ in documents(academy, at=AT)]
    parsed = [parse_name(name) for name in names]
    kinds = ["Etab", "Eleve", "Enseignant", "Groupe", "RespAff"]
    assert [p.kind for p in parsed if p and p.degree == "2D"] == kinds
    assert [p.kind for p in parsed if p and p.degree == "1D"] == kinds  # the école
    assert names[0] == "ENT-TESTBED_GAR-ENT_Complet_20260901_080000_2D_Etab_0000.xml"
    assert names[1] == "ENT-TESTBED_GAR-ENT_Complet_20260901_080000_1D_Etab_0000.xml"


def test_a_national_size_academy_is_split_into_files_of_at_most_ten_thousand_nodes() -> None:
    data = build(provider_base="http://p", establishments=30, students_per_establishment=300,
                 today=datetime(2026, 9, 1, tzinfo=UTC).date())
    files = documents(data, at=AT)
    eleves = [content for name, content in files if "_2D_Eleve_" in name]
    assert len(eleves) > 1
    for content in eleves:
        root = etree.fromstring(content)
        assert len(root) <= MAX_NODES_PER_FILE
        assert file_schema().validate(root)


def test_the_default_academy_does_not_change_with_the_size_parameters() -> None:
    today = datetime(2026, 9, 1, tzinfo=UTC).date()
    assert build(provider_base="http://p", today=today) == build(
        provider_base="http://p", today=today, establishments=0, students_per_establishment=0)
