"""The trust registry: the identity providers and providers the broker talks to.

Peers enter only through their SAML metadata (a file or a URL), so a real ENT or a real
publisher replaces a mock by registering its own metadata. Metadata is parsed once per
distinct document and kept in process (keyed by digest), never per request.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from threading import Lock

from cryptography import x509
from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from broker.models import Peer, table
from services.saml.metadata import EntityMetadata, parse_metadata

MAX_METADATA_BYTES = 1_048_576
IDP_ROLES = ("idp", "idp+sp")
_parsed: dict[str, EntityMetadata] = {}
_parsed_lock = Lock()
# Built once: a login reads a peer twice, and building the statement (and its cache key)
# cost more than running it.
_PEERS = table(Peer).c
_PEER = select(_PEERS.metadata_xml, _PEERS.allow_sha1).where(
    _PEERS.entity_id == bindparam("entity_id")
)


def parse_cached(xml: bytes) -> EntityMetadata:
    digest = hashlib.sha256(xml).hexdigest()
    with _parsed_lock:
        found = _parsed.get(digest)
    if found is None:
        found = parse_metadata(xml, max_bytes=MAX_METADATA_BYTES)
        with _parsed_lock:
            _parsed[digest] = found
    return found


def role_of(metadata: EntityMetadata) -> str:
    if metadata.idp and metadata.sp:
        return "idp+sp"
    return "idp" if metadata.idp else "sp"


def register(
    session: Session, xml: bytes, *, source: str, allow_sha1: bool | None = None
) -> EntityMetadata:
    """Add or replace a peer from its metadata; the caller commits.

    ``allow_sha1`` lets this one peer sign with RSA-SHA1 (a widely deployed ENT still does);
    None keeps what was set before (off for a new peer).
    """
    metadata = parse_cached(xml)
    if metadata.idp is None and metadata.sp is None:
        from services.saml.errors import SamlError

        raise SamlError("saml.metadata.invalid", "neither an IdP nor an SP role")
    session.info.pop("gar_peers", None)  # rows read before this change are not reused
    # A source describes one peer: what it described before (another entity id, e.g. the
    # mocks on other ports) is no longer trusted.
    session.execute(
        delete(Peer).where(Peer.source == source, Peer.entity_id != metadata.entity_id)
    )
    peer = session.get(Peer, metadata.entity_id)
    text = xml.decode("utf-8")
    if peer is None:
        peer = Peer(
            entity_id=metadata.entity_id,
            role=role_of(metadata),
            metadata_xml=text,
            source=source,
            registered_at=datetime.now(UTC),
        )
        session.add(peer)
    else:
        peer.role, peer.metadata_xml, peer.source = role_of(metadata), text, source
        peer.registered_at = datetime.now(UTC)
    if allow_sha1 is not None:
        peer.allow_sha1 = allow_sha1
    session.flush()
    return metadata


def _peer(session: Session, entity_id: str) -> tuple[EntityMetadata, bool] | None:
    """The peer's parsed metadata and SHA-1 allowance, read once per session.

    Kept in ``session.info``: the metadata read to check a message also answers
    ``allows_sha1`` in the same request without a second SELECT.
    """
    peer = _held(session).get(entity_id)
    if peer is None:
        row = session.execute(_PEER, {"entity_id": entity_id}).first()
        if row is not None:
            peer = hold(session, entity_id, row.metadata_xml, row.allow_sha1)
    return peer


def _held(session: Session) -> dict[str, tuple[EntityMetadata, bool]]:
    held: dict[str, tuple[EntityMetadata, bool]] = session.info.setdefault("gar_peers", {})
    return held


def hold(
    session: Session, entity_id: str, metadata_xml: str, allow_sha1: bool | None
) -> tuple[EntityMetadata, bool]:
    """Keep, for this session, a peer's row that another statement read along with its own.

    The login path reads a peer's row inside statements it needs anyway (the identity
    provider listing, the ACS's consumption of the login state) instead of one SELECT more;
    ``find``, ``find_idp`` and ``allows_sha1`` then answer from it, as after their own read.
    The row is the database's, as ``_PEER`` would have returned it: the metadata is still
    parsed (once per distinct document) and trusted only for ``entity_id``.
    """
    peer = _held(session)[entity_id] = (parse_cached(metadata_xml.encode("utf-8")),
                                        bool(allow_sha1))
    return peer


def find(session: Session, entity_id: str) -> EntityMetadata | None:
    peer = _peer(session, entity_id)
    return None if peer is None else peer[0]


def find_idp(session: Session, entity_id: str) -> EntityMetadata | None:
    metadata = find(session, entity_id)
    return metadata if metadata is not None and metadata.idp is not None else None


def find_sp(session: Session, entity_id: str) -> EntityMetadata | None:
    metadata = find(session, entity_id)
    return metadata if metadata is not None and metadata.sp is not None else None


def allows_sha1(session: Session, entity_id: str) -> bool:
    peer = _peer(session, entity_id)
    return bool(peer and peer[1])


def peers(session: Session) -> list[tuple[str, str, str]]:
    rows = session.scalars(select(Peer).order_by(Peer.entity_id)).all()
    return [(p.entity_id, p.role, p.source) for p in rows]


def idp_certificates(session: Session) -> Callable[[str], Sequence[x509.Certificate] | None]:
    """The lookup `validate_response` wants: an issuer's signing certificates, or None."""

    def lookup(issuer: str) -> Sequence[x509.Certificate] | None:
        metadata = find_idp(session, issuer)
        return (
            None if metadata is None or metadata.idp is None else metadata.idp.signing_certificates
        )

    return lookup
