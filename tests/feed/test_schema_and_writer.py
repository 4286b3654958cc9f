"""The shipped XSD and the writer agree, and files follow the GAR's naming and size rules."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
from lxml import etree

from services.dataset import Dataset, build
from services.feed.names import MAX_NODES_PER_FILE, parse_name
from services.feed.schema import XS, file_schema, xsd_bytes
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


#: Every identity constraint of the shipped schemas: (variant, file kind, element, name).
KEYS = [
    ("2d", "Eleve", "GAREleve", "EleveKey"),
    ("2d", "Eleve", "GARPersonMEF", "EleveMEFKey"),
    ("2d", "Eleve", "GAREleveEnseignement", "EleveEnseignementKey"),
    ("2d", "Enseignant", "GAREnseignant", "EnseignantKey"),
    ("2d", "Enseignant", "GARPersonMEF", "EnseignantMEFKey"),
    ("2d", "RespAff", "GARRespAff", "RespAffKey"),
    ("2d", "Etab", "GAREtab", "EtabKey"),
    ("2d", "Etab", "GARMEF", "MEFKey"),
    ("2d", "Etab", "GARMatiere", "MatiereKey"),
    ("2d", "Groupe", "GARGroupe", "GroupeKey"),
    ("2d", "Groupe", "GARPersonGroupe", "PersonGroupeKey"),
    ("2d", "Groupe", "GAREnsGroupeMatiere", "EnsGroupeMatiereKey"),
    ("2d", "Groupe", "GAREnsClasseMatiere", "EnsClasseMatiereKey"),
    ("1d", "Eleve", "GAREleve", "EleveKey"),
    ("1d", "Eleve", "GARPersonMEFSTAT4", "EleveMEFSTAT4Key"),
    ("1d", "Enseignant", "GAREnseignant", "EnseignantKey"),
    ("1d", "Enseignant", "GARPersonMEFSTAT4", "EnseignantMEFSTAT4Key"),
    ("1d", "RespAff", "GARRespAff", "RespAffKey"),
    ("1d", "Etab", "GAREtab", "EtabKey"),
    ("1d", "Groupe", "GARGroupe", "GroupeKey"),
    ("1d", "Groupe", "GARPersonGroupe", "PersonGroupeKey"),
]


def test_every_key_of_the_shipped_schemas_is_tested_below() -> None:
    for variant in ("2d", "1d"):
        xsd = etree.fromstring(xsd_bytes(variant))
        declared = sorted(c.get("name") for c in xsd.iter(f"{{{XS}}}key", f"{{{XS}}}unique"))
        assert declared == sorted(name for v, _, _, name in KEYS if v == variant)


@pytest.mark.parametrize(("variant", "kind", "tag", "constraint"), KEYS,
                         ids=[f"{v}-{name}" for v, _, _, name in KEYS])
def test_the_shipped_schema_refuses_a_duplicate_of_each_key(
    academy: Dataset, variant: str, kind: str, tag: str, constraint: str
) -> None:
    marker = f"_{variant.upper()}_{kind}_"
    content = next(c for name, c in documents(academy, at=AT) if marker in name)
    root = etree.fromstring(content)
    schema = file_schema(variant)
    assert schema.validate(root), schema.error_log
    first = next(child for child in root if etree.QName(child).localname == tag)
    first.addnext(copy.deepcopy(first))  # the same element twice, in its section

    assert not schema.validate(root)
    assert f"identity-constraint '{{{etree.QName(root).namespace}}}{constraint}'" in str(
        schema.error_log), schema.error_log
