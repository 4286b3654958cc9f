"""Signing keys and self-signed certificates, generated on first use and loaded once.

Keys never enter git: each service gets an RSA-2048 key and a certificate under
``<data_dir>/keys`` the first time it starts, and every later start reads the same files, so
metadata fetched by a peer stays valid across restarts.

The broker's signing key rotates through a key ring (:class:`KeyRing`): the *current* key
signs; a *next* key is published ahead (``keys next``) so peers learn it before it signs
anything; ``keys rollover`` makes it current and keeps the *previous* one published until the
overlap ends, so what it signed just before still verifies. The ring's only state is a small
manifest, ``<name>.ring.json``, replaced atomically: a crash never leaves half a rollover.

A previous key whose overlap has ended loses its private key at the next rollover, but its
certificate stays (``retired`` in the manifest): what it signed for the broker's own records
(the audit trail's purge checkpoints and seals) must still verify years later, and a public
certificate kept on the broker's disk is something a database writer cannot bring.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import os
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from threading import Lock
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_lock = Lock()
_cache: dict[tuple[Path, str], KeyPair] = {}


@dataclass(frozen=True)
class KeyPair:
    """A private key with its certificate, kept parsed so requests never re-read PEM."""

    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @cached_property
    def key_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @cached_property
    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @cached_property
    def cert_b64(self) -> str:
        """DER certificate in base64, as ``ds:X509Certificate`` carries it."""
        return base64.b64encode(self.certificate.public_bytes(serialization.Encoding.DER)).decode()


def generate(common_name: str, *, days: int = 3650, hostnames: Sequence[str] = ()) -> KeyPair:
    """A self-signed RSA-2048 certificate; ``hostnames`` makes it a TLS server's (SAN, EKU)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if hostnames:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_general_name(host) for host in hostnames]),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return KeyPair(key, builder.sign(key, hashes.SHA256()))


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def load_or_create(keys_dir: Path, name: str, common_name: str | None = None,
                   *, hostnames: Sequence[str] = ()) -> KeyPair:
    """Return the key pair ``name`` from ``keys_dir``, creating it on first call.

    ``hostnames`` only shape a pair created now: an existing one is returned as it is.
    """
    cache_key = (keys_dir.resolve(), name)
    with _lock:
        if cache_key in _cache:
            return _cache[cache_key]
        pair = _read_pair(keys_dir, name)
        if pair is None:
            pair = generate(common_name or f"gar-testbed {name}", hostnames=hostnames)
            _write_pair(keys_dir, name, pair)
        _cache[cache_key] = pair
        return pair


def _read_pair(keys_dir: Path, stem: str) -> KeyPair | None:
    key_path, cert_path = keys_dir / f"{stem}.key", keys_dir / f"{stem}.crt"
    if not (key_path.exists() and cert_path.exists()):
        return None
    private_key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise ValueError(f"{key_path} is not an RSA key")
    return KeyPair(private_key, x509.load_pem_x509_certificate(cert_path.read_bytes()))


def _write_pair(keys_dir: Path, stem: str, pair: KeyPair) -> None:
    keys_dir.mkdir(parents=True, exist_ok=True)
    _write_private(keys_dir / f"{stem}.key", pair.key_pem)
    (keys_dir / f"{stem}.crt").write_bytes(pair.cert_pem)


def load_secret(keys_dir: Path, name: str, size: int = 32) -> bytes:
    """A random secret kept beside the keys (e.g. the IDO pseudonymisation key)."""
    path = keys_dir / f"{name}.secret"
    with _lock:
        if not path.exists():
            keys_dir.mkdir(parents=True, exist_ok=True)
            _write_private(path, os.urandom(size).hex().encode())
        return bytes.fromhex(path.read_text().strip())


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


# --------------------------------------------------------------------------- key ring


class KeyRingError(Exception):
    """A ring operation that cannot proceed (e.g. a rollover with no next key published)."""


@dataclass(frozen=True)
class Retired:
    """A previous key, still published until ``until`` (the end of the overlap)."""

    stem: str
    pair: KeyPair
    until: dt.datetime


@dataclass(frozen=True)
class KeyRing:
    name: str
    current_stem: str
    current: KeyPair
    next_stem: str | None
    next: KeyPair | None
    previous: tuple[Retired, ...]
    retired: tuple[x509.Certificate, ...] = ()  # overlap ended: certificate only, no key

    def published(self, now: dt.datetime) -> tuple[KeyPair, ...]:
        """Every key a verifier should accept at ``now``: current first, next, previous."""
        pairs = [self.current]
        if self.next is not None:
            pairs.append(self.next)
        pairs.extend(retired.pair for retired in self.previous if retired.until > now)
        return tuple(pairs)

    def certificates(self) -> tuple[x509.Certificate, ...]:
        """Every certificate this ring ever signed with: current, next, previous, retired.

        For verifying the broker's own long-lived signatures, not for peers: a retired key
        is no longer published.
        """
        return (self.current.certificate,
                *((self.next.certificate,) if self.next is not None else ()),
                *(entry.pair.certificate for entry in self.previous), *self.retired)


def _manifest_path(keys_dir: Path, name: str) -> Path:
    return keys_dir / f"{name}.ring.json"


def load_ring(keys_dir: Path, name: str, common_name: str | None = None) -> KeyRing:
    """The ring ``name``; on first use it adopts ``<name>.key`` (created if missing) as current."""
    with _lock:
        manifest = _read_manifest(keys_dir, name)
        if manifest is None:
            manifest = {"current": name, "next": None, "previous": []}
            if _read_pair(keys_dir, name) is None:
                _write_pair(keys_dir, name, generate(common_name or f"gar-testbed {name}"))
            _write_manifest(keys_dir, name, manifest)
        return _ring(keys_dir, name, manifest)


def publish_next(keys_dir: Path, name: str, now: dt.datetime,
                 common_name: str | None = None) -> KeyRing:
    """Generate the next key (if none is waiting) so metadata publishes it ahead of use."""
    load_ring(keys_dir, name, common_name)
    with _lock:
        manifest = _read_manifest(keys_dir, name)
        assert manifest is not None
        if manifest["next"] is None:
            stem = f"{name}-{now.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(4)}"
            _write_pair(keys_dir, stem, generate(common_name or f"gar-testbed {name}"))
            manifest["next"] = stem
            _write_manifest(keys_dir, name, manifest)
        return _ring(keys_dir, name, manifest)


def rollover(keys_dir: Path, name: str, now: dt.datetime, overlap: dt.timedelta) -> KeyRing:
    """Next becomes current; current stays published ``overlap`` longer; expired ones go."""
    load_ring(keys_dir, name)
    with _lock:
        manifest = _read_manifest(keys_dir, name)
        assert manifest is not None
        if manifest["next"] is None:
            raise KeyRingError(
                "aucune clé suivante publiée : lancez d'abord « keys next », attendez que les "
                "partenaires aient relu les métadonnées, puis « keys rollover »"
            )
        previous = [{"stem": manifest["current"], "until": (now + overlap).isoformat()}]
        expired: list[str] = []
        for entry in manifest["previous"]:
            if dt.datetime.fromisoformat(entry["until"]) > now:
                previous.append(entry)
            else:
                expired.append(entry["stem"])
        retired = [*manifest.get("retired", []), *expired]
        manifest = {"current": manifest["next"], "next": None, "previous": previous}
        if retired:
            manifest["retired"] = retired
        _write_manifest(keys_dir, name, manifest)  # the commit point
        for stem in expired:  # a retired private key has no use left; its certificate stays
            (keys_dir / f"{stem}.key").unlink(missing_ok=True)
        return _ring(keys_dir, name, manifest)


def _ring(keys_dir: Path, name: str, manifest: dict[str, Any]) -> KeyRing:
    def pair(stem: str) -> KeyPair:
        found = _read_pair(keys_dir, stem)
        if found is None:
            raise KeyRingError(f"la clé {stem} du trousseau {name} est introuvable dans {keys_dir}")
        return found

    next_stem = manifest["next"]
    return KeyRing(
        name=name,
        current_stem=manifest["current"],
        current=pair(manifest["current"]),
        next_stem=next_stem,
        next=pair(next_stem) if next_stem is not None else None,
        previous=tuple(
            Retired(entry["stem"], pair(entry["stem"]), dt.datetime.fromisoformat(entry["until"]))
            for entry in manifest["previous"]
        ),
        retired=tuple(_retired_certificates(keys_dir, manifest.get("retired", []))),
    )


def _retired_certificates(keys_dir: Path, stems: list[str]) -> Iterator[x509.Certificate]:
    """The retired certificates still on disk (one removed by hand only stops verifying what
    it signed: that is for ``audit verify`` to report, not a reason to refuse to start)."""
    for stem in stems:
        path = keys_dir / f"{stem}.crt"
        if path.exists():
            yield x509.load_pem_x509_certificate(path.read_bytes())


def _read_manifest(keys_dir: Path, name: str) -> dict[str, Any] | None:
    path = _manifest_path(keys_dir, name)
    if not path.exists():
        return None
    manifest = json.loads(path.read_text())
    if not isinstance(manifest, dict) or not isinstance(manifest.get("current"), str):
        raise KeyRingError(f"{path} n'est pas un trousseau de clés valide")
    return manifest


def _write_manifest(keys_dir: Path, name: str, manifest: dict[str, Any]) -> None:
    keys_dir.mkdir(parents=True, exist_ok=True)
    path = _manifest_path(keys_dir, name)
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(temporary, path)
