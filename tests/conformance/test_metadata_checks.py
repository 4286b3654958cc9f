"""The static checks on a service provider's and an identity provider's metadata."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from services.conformance import checks
from services.keys import KeyPair, generate
from services.saml import metadata

KEY = generate("sp")


def _expired() -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "expired")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=400))
            .not_valid_after(now - dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    return KeyPair(key, cert)


def _sp(acs: str = "https://editeur.example.org/saml/acs", keys: list[KeyPair] | None = None,
        requested: tuple[str, ...] = ("IDO", "UAI")) -> bytes:
    return metadata.sp_metadata(entity_id="https://editeur.example.org/sp", acs_url=acs,
                                keypairs=[KEY] if keys is None else keys,
                                requested_attributes=requested)


def _levels(raw: bytes) -> dict[str, str]:
    return {c.id: c.level for c in checks.service_provider(raw)[1]}


def test_a_sound_service_provider_passes_every_check() -> None:
    assert set(_levels(_sp()).values()) == {"ok"}


def test_a_missing_signing_certificate_is_an_error() -> None:
    assert _levels(_sp(keys=[]))["metadata.certificate.present"] == "error"


def test_an_expired_certificate_is_an_error() -> None:
    assert _levels(_sp(keys=[_expired()]))["metadata.certificate.1.valid"] == "error"


def test_plain_http_is_an_error_outside_loopback() -> None:
    assert _levels(_sp(acs="http://editeur.example.org/acs"))["metadata.acs.1.https"] == "error"


def test_plain_http_on_loopback_is_a_warning() -> None:
    assert _levels(_sp(acs="http://127.0.0.1:9000/acs"))["metadata.acs.1.https"] == "warning"


def test_an_attribute_outside_the_catalogue_is_an_error() -> None:
    found = checks.service_provider(_sp(requested=("IDO", "dateNaissance")))[1]
    check = next(c for c in found if c.id == "metadata.attributes.catalogue")
    assert (check.level, check.seen) == ("error", "dateNaissance")


def test_unreadable_metadata_is_one_error() -> None:
    entity, found = checks.service_provider(b"<!DOCTYPE x><x/>")
    assert entity is None
    assert [(c.id, c.level) for c in found] == [("metadata.readable", "error")]


def test_identity_provider_metadata_without_redirect_sso_is_an_error() -> None:
    raw = metadata.sp_metadata(entity_id="https://ent.example.org", acs_url="https://x/acs",
                               keypairs=[KEY])
    found = checks.identity_provider(raw)[1]
    assert ("metadata.idp", "error") in [(c.id, c.level) for c in found]


def test_a_sound_identity_provider_passes() -> None:
    raw = metadata.idp_metadata(entity_id="https://ent.example.org/idp",
                                sso_url="https://ent.example.org/sso", keypairs=[KEY])
    assert all(c.level == "ok" for c in checks.identity_provider(raw)[1])


def _with_logout(raw: bytes, url: str) -> bytes:
    from lxml import etree

    root = etree.fromstring(raw)
    md = "urn:oasis:names:tc:SAML:2.0:metadata"
    role = root.find(f"{{{md}}}SPSSODescriptor")
    assert role is not None
    logout = etree.Element(f"{{{md}}}SingleLogoutService", Location=url,
                           Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect")
    key = role.findall(f"{{{md}}}KeyDescriptor")[-1]
    key.addnext(logout)
    return etree.tostring(root)


def test_plain_http_on_the_logout_endpoint_is_an_error_too() -> None:
    levels = _levels(_with_logout(_sp(), "http://editeur.example.org/saml/slo"))
    assert levels["metadata.singlelogoutservice.1.https"] == "error"


def test_an_https_logout_endpoint_passes() -> None:
    levels = _levels(_with_logout(_sp(), "https://editeur.example.org/saml/slo"))
    assert levels["metadata.singlelogoutservice.1.https"] == "ok"


def test_an_entity_id_other_than_the_metadata_url_is_an_error() -> None:
    found = checks.service_provider(_sp(), fetched_from="https://editeur.example.org/meta.xml")[1]
    check = next(c for c in found if c.id == "metadata.entity_id.url")
    assert check.level == "error"
    assert "https://editeur.example.org/sp" in check.seen and check.fix


def test_an_entity_id_equal_to_the_metadata_url_passes() -> None:
    found = checks.service_provider(_sp(), fetched_from="https://editeur.example.org/sp")[1]
    assert ("metadata.entity_id.url", "ok") in [(c.id, c.level) for c in found]


def test_metadata_read_from_a_file_has_no_entity_id_check() -> None:
    assert "metadata.entity_id.url" not in _levels(_sp())
