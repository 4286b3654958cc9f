"""HTTP-Redirect and HTTP-POST bindings (SAML 2.0 bindings §3.4 and §3.5).

Redirect signatures cover the query string *as received* (§3.4.4.1), so decoding works on
the raw, still URL-encoded query and never on a framework's re-encoded dict. Inflation is
bounded, because a few kilobytes of DEFLATE can expand to gigabytes.
"""

from __future__ import annotations

import base64
import binascii
import html
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote_plus, unquote_plus

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from services.keys import KeyPair
from services.saml.constants import ALG_RSA_SHA1, ALG_RSA_SHA256, ALG_RSA_SHA384, ALG_RSA_SHA512
from services.saml.errors import SamlError
from services.saml.xml import parse, to_bytes

Kind = Literal["SAMLRequest", "SAMLResponse"]

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    ALG_RSA_SHA256: hashes.SHA256,
    ALG_RSA_SHA384: hashes.SHA384,
    ALG_RSA_SHA512: hashes.SHA512,
    ALG_RSA_SHA1: hashes.SHA1,
}
_SAML_PARAMS = frozenset({"SAMLRequest", "SAMLResponse", "RelayState", "SigAlg", "Signature"})


@dataclass(frozen=True)
class RedirectMessage:
    xml: etree._Element
    relay_state: str | None
    sig_alg: str | None
    signature_verified: bool


def encode_redirect(
    endpoint: str,
    message: etree._Element,
    *,
    kind: Kind,
    relay_state: str | None = None,
    keypair: KeyPair | None = None,
) -> str:
    """The full URL carrying ``message``, signed with RSA-SHA256 when ``keypair`` is given."""
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    deflated = compressor.compress(to_bytes(message)) + compressor.flush()
    query = f"{kind}={quote_plus(base64.b64encode(deflated).decode('ascii'))}"
    if relay_state is not None:
        query += f"&RelayState={quote_plus(relay_state)}"
    if keypair is not None:
        query += f"&SigAlg={quote_plus(ALG_RSA_SHA256)}"
        signature = keypair.private_key.sign(
            query.encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
        )
        query += f"&Signature={quote_plus(base64.b64encode(signature).decode('ascii'))}"
    separator = "&" if "?" in endpoint else "?"
    return f"{endpoint}{separator}{query}"


def _split_query(raw_query: str, max_bytes: int) -> dict[str, str]:
    """Map each SAML parameter to its raw (still encoded) value; duplicates are an attack."""
    if len(raw_query) > 4 * max_bytes:
        raise SamlError("saml.binding.invalid", "query string too long")
    params: dict[str, str] = {}
    for part in raw_query.split("&"):
        if not part:
            continue
        raw_name, _, raw_value = part.partition("=")
        name = unquote_plus(raw_name)
        if name not in _SAML_PARAMS:
            continue
        if name in params:
            raise SamlError("saml.binding.invalid", f"duplicate parameter {name}")
        params[name] = raw_value
    return params


def _b64decode(value: str, what: str, *, line_breaks: bool = False) -> bytes:
    compact = "".join(value.split()) if line_breaks else value
    try:
        return base64.b64decode(compact.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise SamlError("saml.binding.invalid", f"{what} is not valid base64") from exc


def _inflate(data: bytes, max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(-15)
    try:
        out = inflater.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise SamlError("saml.binding.invalid", "not a DEFLATE stream") from exc
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise SamlError("saml.binding.invalid", f"inflates beyond {max_bytes} bytes")
    if not inflater.eof:
        raise SamlError("saml.binding.invalid", "truncated DEFLATE stream")
    return out


def _message(params: dict[str, str], kind: Kind, max_bytes: int) -> etree._Element:
    if kind not in params:
        raise SamlError("saml.binding.invalid", f"{kind} is missing")
    payload = _b64decode(unquote_plus(params[kind]), kind)
    return parse(_inflate(payload, max_bytes), max_bytes=max_bytes)


def peek_redirect(raw_query: str, *, kind: Kind, max_bytes: int) -> etree._Element:
    """Decode a Redirect-bound message WITHOUT checking its signature.

    Only for learning who claims to have sent it (its Issuer), to choose the certificates for
    :func:`decode_redirect`; nothing read from the result may be trusted.
    """
    return _message(_split_query(raw_query, max_bytes), kind, max_bytes)


def decode_redirect(
    raw_query: str,
    *,
    kind: Kind,
    max_bytes: int,
    certificates: Sequence[x509.Certificate] = (),
    require_signature: bool = False,
    allow_sha1: bool = False,
) -> RedirectMessage:
    """Decode (and, if signed, verify) a Redirect-bound message from the raw query string."""
    params = _split_query(raw_query, max_bytes)
    root = _message(params, kind, max_bytes)
    relay_state = unquote_plus(params["RelayState"]) if "RelayState" in params else None

    sig_alg = unquote_plus(params["SigAlg"]) if "SigAlg" in params else None
    if "Signature" not in params:
        if require_signature:
            raise SamlError("saml.signature.missing", f"{kind} is not signed")
        return RedirectMessage(root, relay_state, sig_alg, signature_verified=False)
    if sig_alg is None:
        raise SamlError("saml.binding.invalid", "Signature without SigAlg")
    if sig_alg not in _HASHES or (sig_alg == ALG_RSA_SHA1 and not allow_sha1):
        raise SamlError("saml.signature.algorithm", f"algorithm not allowed: {sig_alg}")
    signed = f"{kind}={params[kind]}"
    if "RelayState" in params:
        signed += f"&RelayState={params['RelayState']}"
    signed += f"&SigAlg={params['SigAlg']}"
    signature = _b64decode(unquote_plus(params["Signature"]), "Signature")
    if not _verify_any(signed.encode("utf-8"), signature, _HASHES[sig_alg](), certificates):
        raise SamlError("saml.signature.invalid", "the query signature matches no trusted key")
    return RedirectMessage(root, relay_state, sig_alg, signature_verified=True)


def _verify_any(
    data: bytes,
    signature: bytes,
    algorithm: hashes.HashAlgorithm,
    certificates: Sequence[x509.Certificate],
) -> bool:
    for certificate in certificates:
        key = certificate.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            continue
        try:
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        except InvalidSignature:
            continue
        return True
    return False


def post_form(
    endpoint: str,
    *,
    kind: Kind,
    message: etree._Element,
    relay_state: str | None,
) -> str:
    """A self-submitting HTML page carrying ``message`` to ``endpoint`` (HTTP-POST binding)."""
    encoded = base64.b64encode(to_bytes(message)).decode("ascii")
    relay = (
        f'\n<input type="hidden" name="RelayState" value="{html.escape(relay_state, quote=True)}">'
        if relay_state is not None
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Redirection en cours…</title>
</head>
<body>
<p>Redirection en cours…</p>
<form id="saml-post" method="post" action="{html.escape(endpoint, quote=True)}">
<input type="hidden" name="{kind}" value="{html.escape(encoded, quote=True)}">{relay}
<noscript>
<p>JavaScript est désactivé dans votre navigateur : cliquez sur « Continuer » pour poursuivre.</p>
<button type="submit">Continuer</button>
</noscript>
</form>
<script>document.getElementById("saml-post").submit();</script>
</body>
</html>
"""


def decode_post(value: str, *, max_bytes: int) -> etree._Element:
    """Decode a POST-bound message. Line breaks some senders insert in base64 are tolerated;
    any other character outside the base64 alphabet is refused."""
    if len(value) > 2 * max_bytes + 1024:
        raise SamlError("saml.xml.too_large", "encoded message exceeds the size limit")
    return parse(_b64decode(value, "message", line_breaks=True), max_bytes=max_bytes)
