"""Benchmark: RSA-2048 signatures and verifications per second, the cost floor of a flow.

A SAML flow through the broker costs it three RSA-2048 signatures (the AuthnRequest it sends
upstream, the assertion and the Response it issues) and two verifications (the provider's
AuthnRequest, the identity provider's Response): these figures bound the flows per CPU-second
whatever the rest of the code does. One thread, PKCS#1 v1.5 with SHA-256 (RSA-SHA256), as the
broker signs; the OpenSSL build is printed with the figures.

    python bench/rsa_floor.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import time

from benchlib import machine


def rate(operation: object, seconds: float) -> float:
    """Operations per second over about ``seconds`` (median of three runs)."""
    runs = []
    for _ in range(3):
        count, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds / 3:
            for _ in range(20):
                operation()  # type: ignore[operator]
            count += 20
        runs.append(count / elapsed)
    return sorted(runs)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="per operation")
    args = parser.parse_args()

    from cryptography.hazmat.backends.openssl.backend import backend
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key()
    message = b"<ds:SignedInfo>" + b"x" * 400 + b"</ds:SignedInfo>"
    signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())

    signs = rate(lambda: key.sign(message, padding.PKCS1v15(), hashes.SHA256()), args.seconds)
    verifies = rate(
        lambda: public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256()),
        args.seconds,
    )
    print(machine())
    print(f"crypto: {backend.openssl_version_text()}, one thread, RSA-2048 PKCS#1 v1.5 SHA-256")
    print(f"sign:   {signs:,.0f} /s ({1e3 / signs:.3f} ms each)")
    print(f"verify: {verifies:,.0f} /s ({1e6 / verifies:.1f} µs each)")
    floor = 1 / (3 / signs + 2 / verifies)
    print(f"summary: a SAML flow's RSA work (3 signatures + 2 verifications) caps one CPU at "
          f"{floor:,.0f} flows/s")


if __name__ == "__main__":
    main()
