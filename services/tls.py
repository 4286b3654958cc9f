"""Mutual TLS terminated by the testbed itself, for the broker's machine APIs.

The real GAR authenticates distributors and ENTs by their client certificate (GAR_REFERENCE
§2, §3). ``gar-testbed up`` can serve those APIs on a port of their own where the handshake
requires a client certificate (:func:`server_context`); the application then recognises the
certificate by the fingerprint its client registered (``broker.api_auth``).

uvicorn does not hand the peer certificate to the application: :class:`ClientCertProtocol`
puts it in the request scope where the ASGI TLS extension says it goes,
``scope["extensions"]["tls"]["client_cert_chain"]`` (PEM, the client's certificate first).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from uvicorn.protocols.http.h11_impl import H11Protocol

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

# ASGI TLS extension: tls_version is the protocol's number as on the wire.
_TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


def server_context(cert_file: Path, key_file: Path, client_ca_file: Path) -> ssl.SSLContext:
    """A TLS 1.2+ server context that refuses a handshake without a trusted client certificate.

    ``client_ca_file`` holds the CAs of the clients' certificates, or the clients'
    certificates themselves: partial chains are accepted, so a certificate listed there is
    trusted on its own (pinned), self-signed or not.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cafile=client_ca_file)
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    return context


def tls_extension(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> dict[str, Any]:
    """The ASGI TLS extension's scope entry for a connection (its peer certificate, version)."""
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    chain, name = [], None
    if der:
        chain = [ssl.DER_cert_to_PEM_cert(der)]
        name = x509.load_der_x509_certificate(der).subject.rfc4514_string()
    version = ssl_object.version() if ssl_object is not None else None
    return {
        "server_cert": None,
        "client_cert_chain": chain,  # Python's ssl exposes the peer's own certificate only
        "client_cert_name": name,
        "client_cert_error": None,  # a certificate that failed verification ended the handshake
        "tls_version": _TLS_VERSIONS.get(version or ""),
        "cipher_suite": None,  # Python's ssl gives the suite's name, not its number
    }


class ClientCertProtocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, adding the ASGI TLS extension to every request's scope."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        extension = tls_extension(transport.get_extra_info("ssl_object"))
        inner = self.app

        async def with_tls(scope: Scope, receive: Receive, send: Send) -> None:
            scope["extensions"] = {**(scope.get("extensions") or {}), "tls": extension}
            await inner(scope, receive, send)

        self.app = with_tls


def only_paths(app: ASGIApp, prefixes: Sequence[str]) -> ASGIApp:
    """``app`` for paths under ``prefixes``; anything else a 404 ``application/problem+json``."""
    from services.web import problem

    refused = problem(404, "tls.not_served", "Non servi ici",
                      "Ce port ne sert que les API des distributeurs et des ENT "
                      "(abonnements, médiacentre, annuaire).")

    async def filtered(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or any(
                path == prefix or path.startswith(prefix.rstrip("/") + "/")
                for prefix in prefixes):
            await app(scope, receive, send)
        else:
            await refused(scope, receive, send)

    return filtered
