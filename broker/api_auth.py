"""Who is calling the broker's machine APIs: a distributor or an ENT, by token or certificate.

Two ways in, both resolved to one registered :class:`ApiClient`:

- ``Authorization: Bearer <token>``, for local use. The token is shown once, when the client
  is created; only its SHA-256 is stored, so a copy of the database lets nobody in.
- A client certificate, recognised by the SHA-256 fingerprint registered with the client:
  the one of the mutual-TLS handshake when the broker terminates TLS itself (``gar-testbed
  up`` with ``GAR_API_TLS_PORT``: the ASGI TLS extension, ``services.tls``), otherwise one a
  TLS-terminating proxy checked and forwarded URL-encoded in ``X-SSL-Client-Cert`` (nginx's
  ``$ssl_client_escaped_cert``). That header is honoured only when
  ``api_trust_proxy_cert_header`` is on: anyone can send a header, so only an operator who
  knows a proxy sets (and overwrites) it may trust it.

A client of one kind never passes for the other: an ENT's token opens nothing on the
distributors' web service.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import unquote

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from fastapi import Request
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from broker.models import ApiClientRecord
from services.web import ApiProblem

KINDS = ("distributor", "ent", "auditor")  # auditor: reads the audit trail (issue 5)
#: What the mutual-TLS port serves: the subscriptions web service, the mediacentre, the feed.
MACHINE_API_PATHS = ("/abonnements-ws", "/ressources", "/resources", "/ressourcesDiffusables",
                     "/feed/import")
DISTRIBUTOR_ID = re.compile(r"[0-9]{9}_[0-9]{16}")
CERT_HEADER = "x-ssl-client-cert"
MAX_CERT_HEADER = 16 * 1024
_IDENT_MAX = 64
_NAME_MAX = 500


@dataclass(frozen=True)
class ApiClient:
    """An authenticated caller. ``ident`` is a distributor id or the ENT's ``idENT``."""

    id: int
    kind: str
    ident: str
    name: str


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _client(record: ApiClientRecord) -> ApiClient:
    return ApiClient(id=record.id, kind=record.kind, ident=record.ident, name=record.name)


def certificate_fingerprint(cert_pem: bytes) -> str:
    """SHA-256 of the certificate's DER form, lower-case hex; ``ValueError`` if not a PEM."""
    certificate = x509.load_pem_x509_certificate(cert_pem)
    return certificate.fingerprint(hashes.SHA256()).hex()


def create_client(
    session: Session,
    *,
    kind: str,
    ident: str,
    name: str,
    cert_pem: bytes | None = None,
) -> tuple[ApiClient, str]:
    """Register a client; returns it with its plaintext token, which is never shown again.

    Raises ``ValueError`` (French message) on a bad kind, ident, name or certificate.
    """
    if kind not in KINDS:
        raise ValueError(f"type de client inconnu : {kind!r} (attendu : distributor ou ent)")
    if kind == "distributor" and not DISTRIBUTOR_ID.fullmatch(ident):
        raise ValueError(
            f"identifiant de distributeur invalide : {ident!r} "
            "(attendu : 9 chiffres, _, 16 chiffres)"
        )
    if not ident or len(ident) > _IDENT_MAX or ident.strip() != ident:
        raise ValueError(f"identifiant invalide : {ident!r}")
    if not name.strip() or len(name) > _NAME_MAX:
        raise ValueError("nom du client vide ou trop long")
    fingerprint = None
    if cert_pem is not None:
        try:
            fingerprint = certificate_fingerprint(cert_pem)
        except ValueError:
            raise ValueError("certificat illisible : un certificat X.509 PEM est attendu") from None
        taken = session.scalar(
            select(ApiClientRecord.id).where(ApiClientRecord.cert_sha256 == fingerprint)
        )
        if taken is not None:
            raise ValueError("ce certificat est déjà celui d'un autre client")
    token = secrets.token_urlsafe(32)
    record = ApiClientRecord(
        kind=kind,
        ident=ident,
        name=name.strip(),
        token_sha256=_sha256(token.encode()),
        cert_sha256=fingerprint,
        created_at=datetime.now(UTC),
    )
    session.add(record)
    session.flush()
    return _client(record), token


def list_clients(session: Session) -> list[ApiClient]:
    records = session.scalars(select(ApiClientRecord).order_by(ApiClientRecord.id))
    return [_client(record) for record in records]


Credentials = tuple[Literal["token", "cert"], str] | None


def _presented(request: Request, trust_cert_header: bool) -> Credentials:
    """The credential the request carries, as a digest to look up; ``None`` if none.

    ``ValueError`` when a credential is present but malformed (it is then invalid, not absent).
    A certificate of the TLS handshake comes first: it is proven, a token is only presented.
    """
    handshake = _handshake_certificate(request)
    if handshake is not None:
        return "cert", certificate_fingerprint(handshake.encode())
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ValueError("not a bearer token")
        return "token", _sha256(token.strip().encode())
    header = request.headers.get(CERT_HEADER) if trust_cert_header else None
    if header:
        if len(header) > MAX_CERT_HEADER:
            raise ValueError("certificate header too long")
        return "cert", certificate_fingerprint(unquote(header).encode())
    return None


def _handshake_certificate(request: Request) -> str | None:
    """The client's certificate (PEM) from the ASGI TLS extension, when TLS ends here."""
    tls = (request.scope.get("extensions") or {}).get("tls") or {}
    chain = tls.get("client_cert_chain") or ()
    return str(chain[0]) if chain else None


def _lookup(session: Session, credentials: tuple[str, str]) -> ApiClient | None:
    how, digest = credentials
    row = session.execute(_BY_TOKEN if how == "token" else _BY_CERT, {"digest": digest}).first()
    return ApiClient(id=row.id, kind=row.kind, ident=row.ident, name=row.name) if row else None


# Built once (see broker.trust): every machine request looks its caller up, and building the
# statement cost more than running it.
_CLIENT_COLUMNS = (ApiClientRecord.id, ApiClientRecord.kind, ApiClientRecord.ident,
                   ApiClientRecord.name)
_BY_TOKEN = select(*_CLIENT_COLUMNS).where(ApiClientRecord.token_sha256 == bindparam("digest"))
_BY_CERT = select(*_CLIENT_COLUMNS).where(ApiClientRecord.cert_sha256 == bindparam("digest"))


def _trusts_cert_header(request: Request) -> bool:
    broker = getattr(request.app.state, "broker", None)
    return bool(getattr(getattr(broker, "settings", None), "api_trust_proxy_cert_header", False))


def carries_credentials(request: Request) -> bool:
    """Whether the request presents a machine credential at all: a bearer token, or a client
    certificate header this broker was configured to trust."""
    return request.headers.get("authorization") is not None or bool(
        _trusts_cert_header(request) and request.headers.get(CERT_HEADER))


def authenticate(session: Session, request: Request, kind: str) -> ApiClient | None:
    """The client of ``kind`` the request proves to be, or ``None`` (absent or invalid)."""
    try:
        credentials = _presented(request, _trusts_cert_header(request))
    except ValueError:
        return None
    if credentials is None:
        return None
    client = _lookup(session, credentials)
    return client if client is not None and client.kind == kind else None


_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="gar-testbed"'}


def require_client(session: Session, request: Request, kind: str) -> ApiClient:
    """The calling :class:`ApiClient` of ``kind``, looked up in ``session``; or a 401 problem.

    ``auth.required`` when no credential came, ``auth.invalid`` when one came and matches no
    client of this kind (unknown token, unknown or unreadable certificate, wrong kind).
    A handler that needs the database anyway passes its own session: one connection
    checkout (and its liveness ping) per request instead of two.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown client kind {kind!r}")
    try:
        credentials = _presented(request, _trusts_cert_header(request))
    except ValueError:
        credentials = ("token", "")  # malformed: matches nothing, so "invalid" below
    if credentials is None:
        raise ApiProblem(
            401,
            "auth.required",
            "Authentification requise",
            "Présentez un jeton (Authorization: Bearer) ou un certificat client.",
            headers=_CHALLENGE,
        )
    client = _lookup(session, credentials) if credentials[1] else None
    if client is None or client.kind != kind:
        raise ApiProblem(
            401,
            "auth.invalid",
            "Authentification refusée",
            "Le jeton ou le certificat présenté ne correspond à aucun client autorisé ici.",
            headers=_CHALLENGE,
        )
    return client


def client_dependency(kind: str) -> Callable[[Request], ApiClient]:
    """A FastAPI dependency: :func:`require_client` in a session of its own."""
    if kind not in KINDS:
        raise ValueError(f"unknown client kind {kind!r}")

    def dependency(request: Request) -> ApiClient:
        with request.app.state.broker.sessions() as session:
            return require_client(session, request, kind)

    return dependency
