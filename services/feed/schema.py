"""The shipped XSD, loaded once: the whole-file schema and a per-element one for line numbers.

libxml2 validating a stream reports its errors without a line. So each top-level element is
also validated on its own, as soon as it ends, against the same types declared as global
elements: the refusal then names the element's line.
"""

from __future__ import annotations

import copy
from functools import cache
from importlib import resources

from lxml import etree

XS = "http://www.w3.org/2001/XMLSchema"
_ELEMENT_TYPES = {
    "GAREleve": "gar:Eleve", "GAREnseignant": "gar:Enseignant", "GARPersonMEF": "gar:PersonMEF",
    "GAREleveEnseignement": "gar:EleveEnseignement", "GARRespAff": "gar:RespAff",
    "GAREtab": "gar:Etab", "GARMEF": "gar:MEF", "GARMatiere": "gar:Matiere",
    "GARGroupe": "gar:Groupe", "GARPersonGroupe": "gar:PersonGroupe",
    "GAREnsGroupeMatiere": "gar:EnsGroupeMatiere", "GAREnsClasseMatiere": "gar:EnsGroupeMatiere",
}
_ELEMENT_TYPES_1D = {
    "GAREleve": "gar:Eleve", "GAREnseignant": "gar:Enseignant",
    "GARPersonMEFSTAT4": "gar:PersonMEFSTAT4", "GARRespAff": "gar:RespAff",
    "GAREtab": "gar:Etab", "GARGroupe": "gar:Groupe", "GARPersonGroupe": "gar:PersonGroupe",
}
#: Variant -> the shipped XSD (secondary schools; primary schools, "premier degré").
_FILES = {"2d": "gar-ent.xsd", "1d": "gar-ent-1d.xsd"}


def xsd_bytes(variant: str = "2d") -> bytes:
    return resources.files("services.feed").joinpath(_FILES[variant]).read_bytes()


def _xsd_tree(variant: str = "2d") -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.fromstring(xsd_bytes(variant), parser=parser)


@cache
def file_schema(variant: str = "2d") -> etree.XMLSchema:
    """The schema of the five kinds of file."""
    return etree.XMLSchema(_xsd_tree(variant))


@cache
def stream_schema(variant: str = "2d") -> etree.XMLSchema:
    """The file schema without its keys, for libxml2 to validate a whole stream in C.

    libxml2 holds every ``xs:key``/``xs:unique`` value it checks until the document ends
    (+69 MiB for 20,000 students): the importer checks the same keys in its staging table.
    """
    tree = _xsd_tree(variant)
    for constraint in tree.iter(f"{{{XS}}}key", f"{{{XS}}}unique"):
        parent = constraint.getparent()
        if parent is not None:
            parent.remove(constraint)
    return etree.XMLSchema(tree)


@cache
def element_schema(variant: str = "2d") -> etree.XMLSchema:
    """The same types, with each top-level child of a root declared as a global element."""
    tree = copy.deepcopy(_xsd_tree(variant))
    types = _ELEMENT_TYPES_1D if variant == "1d" else _ELEMENT_TYPES
    for name, type_name in types.items():
        etree.SubElement(tree, f"{{{XS}}}element", name=name, type=type_name)
    return etree.XMLSchema(tree)
