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


def xsd_bytes() -> bytes:
    return resources.files("services.feed").joinpath("gar-ent.xsd").read_bytes()


def _xsd_tree() -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.fromstring(xsd_bytes(), parser=parser)


@cache
def file_schema() -> etree.XMLSchema:
    """The schema of the five kinds of file."""
    return etree.XMLSchema(_xsd_tree())


@cache
def stream_schema() -> etree.XMLSchema:
    """The file schema without its keys, for libxml2 to validate a whole stream in C.

    libxml2 holds every ``xs:key``/``xs:unique`` value it checks until the document ends
    (+69 MiB for 20,000 students): the importer checks the same keys in its staging table.
    """
    tree = _xsd_tree()
    for constraint in tree.iter(f"{{{XS}}}key", f"{{{XS}}}unique"):
        parent = constraint.getparent()
        if parent is not None:
            parent.remove(constraint)
    return etree.XMLSchema(tree)


@cache
def element_schema() -> etree.XMLSchema:
    """The same types, with each top-level child of a root declared as a global element."""
    tree = copy.deepcopy(_xsd_tree())
    for name, type_name in _ELEMENT_TYPES.items():
        etree.SubElement(tree, f"{{{XS}}}element", name=name, type=type_name)
    return etree.XMLSchema(tree)
