"""services.saml.metadata: what we publish, and what we accept about peers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree

from services.keys import KeyPair
from services.saml import build
from services.saml.constants import BINDING_POST, BINDING_REDIRECT, NS
from services.saml.errors import SamlError
from services.saml.metadata import idp_metadata, parse_metadata, sp_metadata
from tests.saml.conftest import ACS, IDP, SP

SSO = "https://idp.example.test/saml/sso"


def _code(data: bytes) -> str:
    with pytest.raises(SamlError) as caught:
        parse_metadata(data)
    return caught.value.code


def _with_valid_until(data: bytes, when: datetime) -> bytes:
    root = etree.fromstring(data)
    root.set("validUntil", build.instant(when))
    return etree.tostring(root)


def test_sp_metadata_round_trip(sp_keys: KeyPair, attacker_keys: KeyPair) -> None:
    data = sp_metadata(
        entity_id=SP,
        acs_url=ACS,
        keypairs=[sp_keys, attacker_keys],
        requested_attributes=["IDO", "PRE", "IDO"],
        organization="Éditeur exemple",
    )
    entity = parse_metadata(data)
    assert entity.entity_id == SP
    assert entity.idp is None
    assert entity.sp is not None
    assert entity.acs_url() == ACS
    assert entity.acs_url(BINDING_REDIRECT) is None
    assert entity.sp.signing_certificates == (sp_keys.certificate, attacker_keys.certificate)
    assert entity.sp.authn_requests_signed is True
    assert entity.sp.want_assertions_signed is True
    assert entity.sp.requested_attributes == ("IDO", "PRE")
    assert entity.valid_until is None


def test_sp_metadata_flags_are_published(sp_keys: KeyPair) -> None:
    data = sp_metadata(
        entity_id=SP,
        acs_url=ACS,
        keypairs=[sp_keys],
        authn_requests_signed=False,
        want_assertions_signed=False,
    )
    entity = parse_metadata(data)
    assert entity.sp is not None
    assert (entity.sp.authn_requests_signed, entity.sp.want_assertions_signed) == (False, False)
    assert entity.sp.requested_attributes == ()


def test_idp_metadata_round_trip(idp_keys: KeyPair) -> None:
    data = idp_metadata(entity_id=IDP, sso_url=SSO, keypairs=[idp_keys], organization="ENT")
    root = etree.fromstring(data)
    formats = root.findall("md:IDPSSODescriptor/md:NameIDFormat", NS)
    assert len(formats) == 2
    entity = parse_metadata(data)
    assert entity.entity_id == IDP
    assert entity.sp is None
    assert entity.idp is not None
    assert entity.sso_url(BINDING_REDIRECT) == SSO
    assert entity.sso_url(BINDING_POST) == SSO
    assert entity.idp.signing_certificates == (idp_keys.certificate,)
    assert entity.idp.want_authn_requests_signed is True


def test_future_valid_until_is_accepted(idp_keys: KeyPair) -> None:
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    data = _with_valid_until(idp_metadata(entity_id=IDP, sso_url=SSO, keypairs=[idp_keys]), when)
    assert parse_metadata(data).valid_until == when


def test_metadata_past_valid_until_is_refused(idp_keys: KeyPair) -> None:
    data = idp_metadata(entity_id=IDP, sso_url=SSO, keypairs=[idp_keys])
    stale = _with_valid_until(data, datetime.now(UTC) - timedelta(minutes=1))
    assert _code(stale) == "saml.metadata.invalid"


def test_entities_descriptor_with_one_entity_is_accepted(idp_keys: KeyPair) -> None:
    inner = idp_metadata(entity_id=IDP, sso_url=SSO, keypairs=[idp_keys])
    wrapper = etree.Element(f"{{{NS['md']}}}EntitiesDescriptor", nsmap={"md": NS["md"]})
    wrapper.append(etree.fromstring(inner))
    assert parse_metadata(etree.tostring(wrapper)).entity_id == IDP


def test_entities_descriptor_with_two_entities_is_refused(
    idp_keys: KeyPair, sp_keys: KeyPair
) -> None:
    wrapper = etree.Element(f"{{{NS['md']}}}EntitiesDescriptor", nsmap={"md": NS["md"]})
    wrapper.append(etree.fromstring(idp_metadata(entity_id=IDP, sso_url=SSO, keypairs=[idp_keys])))
    wrapper.append(etree.fromstring(sp_metadata(entity_id=SP, acs_url=ACS, keypairs=[sp_keys])))
    assert _code(etree.tostring(wrapper)) == "saml.metadata.invalid"


def test_past_valid_until_on_the_enclosing_group_is_refused(idp_keys: KeyPair) -> None:
    wrapper = etree.Element(
        f"{{{NS['md']}}}EntitiesDescriptor",
        nsmap={"md": NS["md"]},
        validUntil=build.instant(datetime.now(UTC) - timedelta(days=1)),
    )
    wrapper.append(etree.fromstring(idp_metadata(entity_id=IDP, sso_url=SSO, keypairs=[idp_keys])))
    assert _code(etree.tostring(wrapper)) == "saml.metadata.invalid"


def test_unexpected_root_is_refused() -> None:
    assert _code(b'<md:Other xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"/>') == (
        "saml.metadata.invalid"
    )


def test_entity_without_saml2_role_is_refused() -> None:
    data = b'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>'
    assert _code(data) == "saml.metadata.invalid"


def test_unreadable_certificate_is_refused(idp_keys: KeyPair) -> None:
    data = idp_metadata(entity_id=IDP, sso_url=SSO, keypairs=[idp_keys])
    broken = data.replace(idp_keys.cert_b64.encode()[:40], b"AAAA" * 10)
    assert _code(broken) == "saml.metadata.invalid"


def test_encryption_only_keys_are_not_signing_keys(idp_keys: KeyPair) -> None:
    data = idp_metadata(entity_id=IDP, sso_url=SSO, keypairs=[idp_keys])
    entity = parse_metadata(data.replace(b'use="signing"', b'use="encryption"'))
    assert entity.idp is not None
    assert entity.idp.signing_certificates == ()


def test_metadata_with_a_doctype_is_refused() -> None:
    assert _code(b'<!DOCTYPE x [<!ENTITY e "v">]><x>&e;</x>') == "saml.xml.dtd_forbidden"
