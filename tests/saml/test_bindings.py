"""services.saml.bindings: HTTP-Redirect and HTTP-POST encodings."""

from __future__ import annotations

import base64
import html
import re
import zlib
from urllib.parse import quote_plus, urlsplit

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree

from services.keys import KeyPair
from services.saml import bindings, build
from services.saml.constants import ALG_RSA_SHA1, ALG_RSA_SHA256, NS
from services.saml.errors import SamlError
from tests.saml.conftest import ACS, NOW, SP

SSO = "https://idp.example.test/saml/sso"
LIMIT = 64 * 1024


def _request() -> etree._Element:
    return build.authn_request(issuer=SP, destination=SSO, acs_url=ACS, request_id="_r1", now=NOW)


def _query(url: str) -> str:
    return urlsplit(url).query


def _deflate_b64(data: bytes) -> str:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return base64.b64encode(compressor.compress(data) + compressor.flush()).decode()


def _decode_code(query: str, **kwargs: object) -> str:
    with pytest.raises(SamlError) as caught:
        bindings.decode_redirect(query, kind="SAMLRequest", max_bytes=LIMIT, **kwargs)  # type: ignore[arg-type]
    return caught.value.code


def test_unsigned_redirect_round_trip() -> None:
    url = bindings.encode_redirect(SSO, _request(), kind="SAMLRequest", relay_state="état 1&2")
    assert url.startswith(SSO + "?SAMLRequest=")
    message = bindings.decode_redirect(_query(url), kind="SAMLRequest", max_bytes=LIMIT)
    assert message.xml.get("ID") == "_r1"
    assert message.relay_state == "état 1&2"
    assert message.sig_alg is None
    assert message.signature_verified is False


def test_signed_redirect_round_trip(sp_keys: KeyPair) -> None:
    url = bindings.encode_redirect(
        SSO, _request(), kind="SAMLRequest", relay_state="rs", keypair=sp_keys
    )
    message = bindings.decode_redirect(
        _query(url),
        kind="SAMLRequest",
        max_bytes=LIMIT,
        certificates=[sp_keys.certificate],
        require_signature=True,
    )
    assert message.signature_verified is True
    assert message.sig_alg == ALG_RSA_SHA256
    assert message.relay_state == "rs"


def test_signed_redirect_without_relay_state_verifies(sp_keys: KeyPair) -> None:
    url = bindings.encode_redirect(SSO, _request(), kind="SAMLRequest", keypair=sp_keys)
    message = bindings.decode_redirect(
        _query(url), kind="SAMLRequest", max_bytes=LIMIT, certificates=[sp_keys.certificate]
    )
    assert message.signature_verified is True
    assert message.relay_state is None


def test_endpoint_with_a_query_string_keeps_it() -> None:
    url = bindings.encode_redirect(SSO + "?tenant=a", _request(), kind="SAMLRequest")
    assert url.startswith(SSO + "?tenant=a&SAMLRequest=")
    message = bindings.decode_redirect(_query(url), kind="SAMLRequest", max_bytes=LIMIT)
    assert message.xml.get("ID") == "_r1"


def test_redirect_signed_by_an_untrusted_key_is_refused(
    sp_keys: KeyPair, attacker_keys: KeyPair
) -> None:
    url = bindings.encode_redirect(SSO, _request(), kind="SAMLRequest", keypair=attacker_keys)
    assert _decode_code(_query(url), certificates=[sp_keys.certificate]) == "saml.signature.invalid"


def test_redirect_signature_with_no_trusted_certificate_is_refused(sp_keys: KeyPair) -> None:
    url = bindings.encode_redirect(SSO, _request(), kind="SAMLRequest", keypair=sp_keys)
    assert _decode_code(_query(url)) == "saml.signature.invalid"


def test_tampered_relay_state_breaks_the_redirect_signature(sp_keys: KeyPair) -> None:
    url = bindings.encode_redirect(
        SSO, _request(), kind="SAMLRequest", relay_state="good", keypair=sp_keys
    )
    tampered = _query(url).replace("RelayState=good", "RelayState=evil")
    assert _decode_code(tampered, certificates=[sp_keys.certificate]) == "saml.signature.invalid"


def test_unsigned_redirect_is_refused_when_a_signature_is_required(sp_keys: KeyPair) -> None:
    url = bindings.encode_redirect(SSO, _request(), kind="SAMLRequest")
    assert (
        _decode_code(_query(url), certificates=[sp_keys.certificate], require_signature=True)
        == "saml.signature.missing"
    )


def test_redirect_sha1_signature_is_refused_unless_allowed(sp_keys: KeyPair) -> None:
    payload = quote_plus(_deflate_b64(etree.tostring(_request())))
    signed = f"SAMLRequest={payload}&SigAlg={quote_plus(ALG_RSA_SHA1)}"
    signature = sp_keys.private_key.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA1())
    query = f"{signed}&Signature={quote_plus(base64.b64encode(signature).decode())}"
    assert _decode_code(query, certificates=[sp_keys.certificate]) == "saml.signature.algorithm"
    message = bindings.decode_redirect(
        query,
        kind="SAMLRequest",
        max_bytes=LIMIT,
        certificates=[sp_keys.certificate],
        allow_sha1=True,
    )
    assert message.signature_verified is True


def test_signature_without_sigalg_is_refused(sp_keys: KeyPair) -> None:
    url = bindings.encode_redirect(SSO, _request(), kind="SAMLRequest", keypair=sp_keys)
    query = re.sub(r"&SigAlg=[^&]*", "", _query(url))
    assert _decode_code(query, certificates=[sp_keys.certificate]) == "saml.binding.invalid"


def test_missing_message_parameter_is_refused() -> None:
    assert _decode_code("RelayState=x") == "saml.binding.invalid"


def test_duplicate_redirect_parameter_is_refused() -> None:
    query = _query(bindings.encode_redirect(SSO, _request(), kind="SAMLRequest"))
    assert _decode_code(f"{query}&{query}") == "saml.binding.invalid"


def test_duplicate_parameter_hidden_by_percent_encoding_is_refused() -> None:
    query = _query(bindings.encode_redirect(SSO, _request(), kind="SAMLRequest"))
    assert _decode_code(f"{query}&{query.replace('SAMLRequest', 'SAML%52equest')}") == (
        "saml.binding.invalid"
    )


def test_bad_base64_in_redirect_is_refused() -> None:
    assert _decode_code("SAMLRequest=%21%21not-base64%21%21") == "saml.binding.invalid"


def test_non_deflate_payload_is_refused() -> None:
    garbage = quote_plus(base64.b64encode(b"\xff" * 40).decode())
    assert _decode_code(f"SAMLRequest={garbage}") == "saml.binding.invalid"


def test_deflate_bomb_is_refused_without_inflating_it_all() -> None:
    bomb = _deflate_b64(b"<a>" + b" " * (50 * 1024 * 1024) + b"</a>")
    assert len(bomb) < 100 * 1024
    assert _decode_code(f"SAMLRequest={quote_plus(bomb)}") == "saml.binding.invalid"


def test_doctype_inside_a_redirect_message_is_refused() -> None:
    payload = quote_plus(_deflate_b64(b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>'))
    assert _decode_code(f"SAMLRequest={payload}") == "saml.xml.dtd_forbidden"


def test_peek_reads_the_claimed_issuer_without_checking_the_signature(
    attacker_keys: KeyPair,
) -> None:
    url = bindings.encode_redirect(SSO, _request(), kind="SAMLRequest", keypair=attacker_keys)
    root = bindings.peek_redirect(_query(url), kind="SAMLRequest", max_bytes=LIMIT)
    assert root.findtext("saml:Issuer", namespaces=NS) == SP


def test_peek_still_refuses_a_deflate_bomb() -> None:
    bomb = _deflate_b64(b"<a>" + b" " * (2 * LIMIT) + b"</a>")
    with pytest.raises(SamlError) as caught:
        bindings.peek_redirect(
            f"SAMLRequest={quote_plus(bomb)}", kind="SAMLRequest", max_bytes=LIMIT
        )
    assert caught.value.code == "saml.binding.invalid"


def _form_value(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match is not None
    return html.unescape(match.group(1))


def test_post_form_is_a_french_self_submitting_page() -> None:
    page = bindings.post_form(ACS, kind="SAMLResponse", message=_request(), relay_state="rs")
    assert page.startswith("<!DOCTYPE html>")
    assert '<html lang="fr">' in page
    assert 'id="saml-post"' in page
    assert f'action="{ACS}"' in page
    assert re.search(r"<noscript>.*Continuer.*</noscript>", page, re.S)
    assert 'getElementById("saml-post").submit()' in page


def test_post_form_escapes_every_value() -> None:
    evil = '"><script>alert(1)</script>'
    page = bindings.post_form(
        'https://sp.example.test/acs?"x"', kind="SAMLResponse", message=_request(), relay_state=evil
    )
    assert "<script>alert" not in page
    assert 'acs?"x"' not in page
    assert _form_value(page, "RelayState") == evil


def test_post_round_trip() -> None:
    page = bindings.post_form(ACS, kind="SAMLRequest", message=_request(), relay_state=None)
    assert 'name="RelayState"' not in page
    root = bindings.decode_post(_form_value(page, "SAMLRequest"), max_bytes=LIMIT)
    assert root.get("ID") == "_r1"


def test_post_value_with_line_breaks_is_accepted() -> None:
    encoded = base64.encodebytes(etree.tostring(_request())).decode()
    assert "\n" in encoded
    assert bindings.decode_post(encoded, max_bytes=LIMIT).get("ID") == "_r1"


def test_bad_base64_in_post_is_refused() -> None:
    with pytest.raises(SamlError) as caught:
        bindings.decode_post("PHNhbWw+*garbage*", max_bytes=LIMIT)
    assert caught.value.code == "saml.binding.invalid"


def test_oversized_post_is_refused() -> None:
    value = base64.b64encode(b"<a>" + b"x" * LIMIT + b"</a>").decode()
    with pytest.raises(SamlError) as caught:
        bindings.decode_post(value, max_bytes=LIMIT)
    assert caught.value.code == "saml.xml.too_large"
