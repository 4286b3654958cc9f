"""CAS 3.0 validation answers, in XML (the default) or JSON (``format=JSON``).

XML is built with lxml, never from string templates, so a value can never change the
document's structure. Each attribute code is one ``cas:<CODE>`` element per value (``UAI``
repeated when the person has several establishments). In JSON an attribute with one value is
a string and one with several an array, as the specification's example shows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from enum import StrEnum

from lxml import etree

CAS_NS = "http://www.yale.edu/tp/cas"
_NSMAP = {"cas": CAS_NS}


class Format(StrEnum):
    XML = "XML"
    JSON = "JSON"


XML_TYPE = "application/xml; charset=utf-8"
JSON_TYPE = "application/json"


def _tag(name: str) -> str:
    return f"{{{CAS_NS}}}{name}"


def success(user: str, attributes: Mapping[str, Sequence[str]], fmt: Format) -> bytes:
    if fmt is Format.JSON:
        body: dict[str, object] = {"user": user}
        if attributes:
            body["attributes"] = {
                code: values[0] if len(values) == 1 else list(values)
                for code, values in attributes.items()
            }
        return _json({"serviceResponse": {"authenticationSuccess": body}})
    root = etree.Element(_tag("serviceResponse"), nsmap=_NSMAP)
    ok = etree.SubElement(root, _tag("authenticationSuccess"))
    etree.SubElement(ok, _tag("user")).text = user
    if attributes:
        holder = etree.SubElement(ok, _tag("attributes"))
        for code, values in attributes.items():
            for value in values:
                etree.SubElement(holder, _tag(code)).text = value
    return _xml(root)


def failure(code: str, description: str, fmt: Format) -> bytes:
    if fmt is Format.JSON:
        return _json(
            {"serviceResponse": {"authenticationFailure": {"code": code,
                                                           "description": description}}}
        )
    root = etree.Element(_tag("serviceResponse"), nsmap=_NSMAP)
    failed = etree.SubElement(root, _tag("authenticationFailure"), code=code)
    failed.text = description
    return _xml(root)


def media_type(fmt: Format) -> str:
    return JSON_TYPE if fmt is Format.JSON else XML_TYPE


def _xml(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _json(document: object) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode("utf-8")
