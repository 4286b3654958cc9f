"""Shared actors for the SAML toolkit specifications: an IdP, an SP, and an attacker.

Keys are generated once per test session (RSA generation dominates the run time otherwise)
and never written to disk.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography import x509
from lxml import etree
from signxml.signer import XMLSigner

from services.keys import KeyPair, generate
from services.saml import build, signing
from services.saml.constants import NAMEID_TRANSIENT

IDP = "https://idp.example.test/saml/metadata"
SP = "https://sp.example.test/saml/metadata"
ACS = "https://sp.example.test/saml/acs"
REQUEST_ID = "_request0123456789"
NOW = datetime(2026, 11, 23, 15, 0, 0, tzinfo=UTC)
ATTRIBUTES: Mapping[str, Sequence[str]] = {
    "urn:oid:0.9.2342.19200300.100.1.3": ["eleve@college.example.test"],
    "profile": ["National_elv", "National_ens"],
}

MakeResponse = Callable[..., etree._Element]


class LegacySigner(XMLSigner):
    """signxml refuses to produce SHA-1 signatures; the tests need them to emulate old ENTs.

    (The broker's own signer makes RSA-SHA1 signatures itself; this is signxml's, for the
    specifications that compare with it or need a SHA-1 digest, which the broker never makes.)
    """

    def check_deprecated_methods(self) -> None:
        return None


@pytest.fixture(scope="session")
def idp_keys() -> KeyPair:
    return generate("test idp")


@pytest.fixture(scope="session")
def attacker_keys() -> KeyPair:
    return generate("attacker")


@pytest.fixture(scope="session")
def sp_keys() -> KeyPair:
    return generate("test sp")


@pytest.fixture
def trust(idp_keys: KeyPair) -> Callable[[str], Sequence[x509.Certificate] | None]:
    """The SP's trust registry: only IDP is known, with its one certificate."""

    def certificates_for(issuer: str) -> Sequence[x509.Certificate] | None:
        return [idp_keys.certificate] if issuer == IDP else None

    return certificates_for


@pytest.fixture
def make_response(idp_keys: KeyPair) -> MakeResponse:
    """Build a Response as IDP would, with every field overridable to inject one defect."""

    def make(
        *,
        keys: KeyPair | None = None,
        sign_response: bool = True,
        sign_assertion: bool = True,
        issuer: str = IDP,
        response_issuer: str | None = None,
        destination: str = ACS,
        response_in_response_to: str | None = REQUEST_ID,
        **assertion_overrides: Any,
    ) -> etree._Element:
        signer = keys or idp_keys
        fields: dict[str, Any] = {
            "issuer": issuer,
            "name_id": "_transient42",
            "name_id_format": NAMEID_TRANSIENT,
            "audience": SP,
            "recipient": ACS,
            "in_response_to": REQUEST_ID,
            "attributes": ATTRIBUTES,
            "session_index": "_session1",
            "now": NOW,
        }
        fields.update(assertion_overrides)
        assertion = build.assertion(**fields)
        if sign_assertion:
            assertion = signing.sign(assertion, signer)
        response = build.response(
            issuer=response_issuer or issuer,
            destination=destination,
            in_response_to=response_in_response_to,
            assertion=assertion,
            now=NOW,
        )
        return signing.sign(response, signer) if sign_response else response

    return make
