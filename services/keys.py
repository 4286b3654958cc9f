"""Signing keys and self-signed certificates, generated on first use and loaded once.

Keys never enter git: each service gets an RSA-2048 key and a certificate under
``<data_dir>/keys`` the first time it starts, and every later start reads the same files, so
metadata fetched by a peer stays valid across restarts.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from threading import Lock

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

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


def generate(common_name: str, *, days: int = 3650) -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(key, cert)


def load_or_create(keys_dir: Path, name: str, common_name: str | None = None) -> KeyPair:
    """Return the key pair ``name`` from ``keys_dir``, creating it on first call."""
    cache_key = (keys_dir.resolve(), name)
    with _lock:
        if cache_key in _cache:
            return _cache[cache_key]
        key_path, cert_path = keys_dir / f"{name}.key", keys_dir / f"{name}.crt"
        if key_path.exists() and cert_path.exists():
            private_key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            if not isinstance(private_key, rsa.RSAPrivateKey):
                raise ValueError(f"{key_path} is not an RSA key")
            pair = KeyPair(private_key, x509.load_pem_x509_certificate(cert_path.read_bytes()))
        else:
            pair = generate(common_name or f"gar-testbed {name}")
            keys_dir.mkdir(parents=True, exist_ok=True)
            _write_private(key_path, pair.key_pem)
            cert_path.write_bytes(pair.cert_pem)
        _cache[cache_key] = pair
        return pair


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
