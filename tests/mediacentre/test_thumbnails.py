"""The broker's SVG thumbnails: well-formed, escaped, nothing active."""

from __future__ import annotations

from lxml import etree

from broker.thumbnails import initials, svg
from services.saml.xml import parse

SVG = "{http://www.w3.org/2000/svg}"


def test_a_thumbnail_is_a_well_formed_svg_titled_after_the_resource() -> None:
    root = parse(svg("Atlas de géographie", "DIC"), max_bytes=10_000)
    assert root.tag == f"{SVG}svg"
    assert root.findtext(f"{SVG}title") == "Atlas de géographie"


def test_markup_in_a_title_stays_text() -> None:
    root = parse(svg('</title><script>alert(1)</script>"', "MAN"), max_bytes=10_000)
    assert not [e for e in root.iter() if etree.QName(e).localname == "script"]
    assert root.findtext(f"{SVG}title") == '</title><script>alert(1)</script>"'


def test_initials_skip_small_words() -> None:
    assert initials("Atlas de géographie") == "AG"
    assert initials("Dictionnaire de la langue française") == "DL"
    assert initials("  ") == "?"
