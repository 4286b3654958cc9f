"""services.saml.xml: the hardened parser every untrusted SAML byte goes through."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from services.saml.errors import SamlError
from services.saml.xml import _parser, parse, text_of, to_bytes

LIMIT = 64 * 1024


def _code(data: bytes | str, limit: int = LIMIT) -> str:
    with pytest.raises(SamlError) as caught:
        parse(data, max_bytes=limit)
    return caught.value.code


def test_well_formed_document_is_parsed() -> None:
    root = parse(b'<?xml version="1.0" encoding="UTF-8"?><a x="1"><b>ok</b></a>', max_bytes=LIMIT)
    assert root.tag == "a"
    assert root.findtext("b") == "ok"


def test_text_input_is_parsed_like_bytes() -> None:
    assert parse("<a>é</a>", max_bytes=LIMIT).text == "é"


def test_oversized_document_is_refused_before_parsing() -> None:
    assert _code(b"<a>" + b"x" * 100 + b"</a>", limit=50) == "saml.xml.too_large"


def test_malformed_document_is_refused() -> None:
    assert _code(b"<a><b></a>") == "saml.xml.malformed"


def test_empty_document_is_refused() -> None:
    assert _code(b"") == "saml.xml.malformed"


def test_non_utf8_document_is_refused() -> None:
    assert _code("<a>é</a>".encode("utf-16")) == "saml.xml.malformed"


def test_doctype_is_refused() -> None:
    assert _code(b'<!DOCTYPE a SYSTEM "http://example.test/a.dtd"><a/>') == "saml.xml.dtd_forbidden"


def test_internal_entity_expansion_billion_laughs_is_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
            for i in range(1, 10)
        )
        + b"]><lolz>&lol9;</lolz>"
    )
    assert _code(bomb) == "saml.xml.dtd_forbidden"


def test_external_entity_is_refused_and_the_file_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    doc = f'<!DOCTYPE a [<!ENTITY x SYSTEM "file://{secret}">]><a>&x;</a>'
    with pytest.raises(SamlError) as caught:
        parse(doc.encode(), max_bytes=LIMIT)
    assert caught.value.code == "saml.xml.dtd_forbidden"
    assert "TOP-SECRET" not in str(caught.value)


def test_parser_itself_never_resolves_external_entities(tmp_path: Path) -> None:
    """Defence in depth: even past the raw DOCTYPE check, the parser does not read files."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    doc = f'<!DOCTYPE a [<!ENTITY x SYSTEM "file://{secret}">]><a>&x;</a>'.encode()
    root = etree.fromstring(doc, parser=_parser())
    assert "TOP-SECRET" not in etree.tostring(root).decode()
    assert "TOP-SECRET" not in "".join(str(t) for t in root.itertext())


def test_external_etc_passwd_entity_is_refused() -> None:
    doc = b'<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>'
    with pytest.raises(SamlError) as caught:
        parse(doc, max_bytes=LIMIT)
    assert caught.value.code == "saml.xml.dtd_forbidden"
    assert "root:" not in str(caught.value)


def test_lowercase_doctype_is_refused() -> None:
    assert _code(b"<!doctype a><a/>") == "saml.xml.dtd_forbidden"


def test_processing_instruction_is_refused() -> None:
    assert _code(b'<a><?evil data="1"?></a>') == "saml.xml.dtd_forbidden"


def test_processing_instruction_before_root_is_refused() -> None:
    assert _code(b'<?xml-stylesheet href="x.xsl"?><a/>') == "saml.xml.dtd_forbidden"


def test_declared_utf7_encoding_cannot_smuggle_a_doctype() -> None:
    doc = b'<?xml version="1.0" encoding="UTF-7"?><a>+ADw-!DOCTYPE</a>'
    root = parse(doc, max_bytes=LIMIT)
    assert text_of(root) == "+ADw-!DOCTYPE"


def test_text_of_reads_across_comments() -> None:
    root = parse(b"<NameID>user@x<!---->.evil</NameID>", max_bytes=LIMIT)
    assert root.text == "user@x"  # what a naive reader would trust
    assert text_of(root) == "user@x.evil"


def test_text_of_ignores_comment_content() -> None:
    root = parse(b"<v>a<!--hidden-->b</v>", max_bytes=LIMIT)
    assert text_of(root) == "ab"


def test_to_bytes_omits_tail_text() -> None:
    root = parse(b"<a><b>x</b>tail</a>", max_bytes=LIMIT)
    assert to_bytes(root[0]) == b"<b>x</b>"
