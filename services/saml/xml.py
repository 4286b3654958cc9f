"""The only way untrusted XML enters the testbed, and the only way values leave it.

SAML messages arrive from browsers, so every byte is hostile: no DTD (billion laughs,
external entities reading local files or the network), no processing instructions, a size
limit checked before the parser runs, and the document is always decoded as UTF-8 so that a
declared exotic encoding (UTF-7, UTF-16) cannot hide a ``<!DOCTYPE`` from the raw check.
Values are read with :func:`text_of` because ``.text`` stops at the first comment, which is
how ``user@evil.org<!---->.trusted.org`` would be read as ``user@evil.org`` by one party and
as the whole string by another.
"""

from __future__ import annotations

import re

from lxml import etree

from services.saml.errors import SamlError

_FORBIDDEN = re.compile(rb"<!DOCTYPE|<!ENTITY|<!ELEMENT|<!ATTLIST|<!NOTATION", re.IGNORECASE)
_XML_DECL = re.compile(rb"\A<\?xml[ \t\r\n][^?]*\?>")


def _parser() -> etree.XMLParser:
    # A fresh parser per call: lxml parser objects keep state and are not shareable across threads.
    return etree.XMLParser(
        encoding="utf-8",
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
        remove_pis=False,
        remove_blank_text=False,
        collect_ids=False,
    )


def parse(data: bytes | str, *, max_bytes: int) -> etree._Element:
    """Parse untrusted XML into an element, or raise a ``saml.xml.*`` error."""
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if len(raw) > max_bytes:
        raise SamlError("saml.xml.too_large", f"{len(raw)} bytes, limit {max_bytes}")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SamlError("saml.xml.malformed", "not UTF-8") from exc
    if _FORBIDDEN.search(raw):
        raise SamlError("saml.xml.dtd_forbidden", "document type declarations are refused")
    if b"<?" in _XML_DECL.sub(b"", raw.lstrip(), count=1):
        raise SamlError("saml.xml.dtd_forbidden", "processing instructions are refused")
    try:
        root = etree.fromstring(raw, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise SamlError("saml.xml.malformed", str(exc)[:200]) from exc
    if root is None:
        raise SamlError("saml.xml.malformed", "empty document")
    _refuse_dtd_remnants(root)
    return root


def _refuse_dtd_remnants(root: etree._Element) -> None:
    """Second line of defence, on what the parser actually built."""
    docinfo = root.getroottree().docinfo
    if (
        getattr(docinfo, "doctype", "")
        or docinfo.internalDTD is not None
        or docinfo.externalDTD is not None
    ):
        raise SamlError("saml.xml.dtd_forbidden", "document type declarations are refused")
    siblings = [*root.itersiblings(preceding=True), *root.itersiblings()]
    for node in [*siblings, *root.iter()]:
        if isinstance(node, etree._Entity):
            raise SamlError("saml.xml.dtd_forbidden", "entity references are refused")
        if isinstance(node, etree._ProcessingInstruction):
            raise SamlError("saml.xml.dtd_forbidden", "processing instructions are refused")


def text_of(el: etree._Element) -> str:
    """All the text inside ``el`` with comments and processing instructions left out."""
    parts: list[str] = []
    _collect_text(el, parts)
    return "".join(parts)


def _collect_text(el: etree._Element, parts: list[str]) -> None:
    if isinstance(el.tag, str) and el.text:
        parts.append(el.text)
    for child in el:
        if isinstance(child.tag, str):
            _collect_text(child, parts)
        if child.tail:
            parts.append(child.tail)


def to_bytes(el: etree._Element) -> bytes:
    """Serialise ``el`` alone (no tail text), UTF-8, without an XML declaration."""
    return etree.tostring(el, encoding="UTF-8", xml_declaration=False, with_tail=False)
