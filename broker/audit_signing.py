"""The broker's signatures over its own audit trail: purge checkpoints and seals.

Plain RSASSA-PKCS1-v1_5 with SHA-256 over the canonical JSON the chain already hashes: one
algorithm, pinned, no header to negotiate. A signature names its key by the SHA-256
fingerprint of the certificate, and verifies only against a certificate the caller trusts:
the broker's key ring read from its own disk (current, next, previous and retired keys, see
``services.keys.KeyRing.certificates``), never a certificate found in the database, so
whoever can write to the database cannot bring their own key. A key rollover therefore
leaves every earlier checkpoint and seal verifiable.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import Certificate

from services.keys import KeyPair

#: Certificates a signature may be checked with, by SHA-256 fingerprint (hex).
Trusted = Mapping[str, Certificate]


def fingerprint(certificate: Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex()


def trusted(certificates: Iterable[Certificate]) -> Trusted:
    return {fingerprint(certificate): certificate for certificate in certificates}


def sign(payload: bytes, keypair: KeyPair) -> str:
    """The base64 signature; the payload names the key (``fingerprint(keypair.certificate)``)."""
    signature = keypair.private_key.sign(payload, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def holds(payload: bytes, key_sha256: str, signature: str, keys: Trusted) -> bool:
    """True when a trusted certificate with that fingerprint verifies the signature."""
    certificate = keys.get(key_sha256)
    key = certificate.public_key() if certificate is not None else None
    if not isinstance(key, rsa.RSAPublicKey):
        return False
    try:
        key.verify(base64.b64decode(signature, validate=True), payload, padding.PKCS1v15(),
                   hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True
