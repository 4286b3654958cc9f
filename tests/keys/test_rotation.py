"""Key rollover as a peer sees it: through the broker's published SAML metadata and keys.

A peer verifies with the certificates the broker's metadata lists. The next key is listed
before it signs anything; after a rollover, what the previous key signed still verifies
during the overlap, and no longer after it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import lxml.html
import pytest
from cryptography import x509
from typer.testing import CliRunner

from broker import endpoints, saml_idp
from broker.app import broker_ring, create_app, idp_metadata_xml, sp_metadata_xml
from services.cli import app as cli
from services.keys import KeyPair, publish_next, rollover
from services.saml import bindings
from services.saml.errors import SamlError
from services.saml.metadata import parse_metadata
from services.saml.validate import ValidatedAssertion, validate_response
from services.settings import Settings

SP, ACS = "https://publisher.example/saml/metadata", "https://publisher.example/saml/acs"
OVERLAP = timedelta(hours=168)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'b.sqlite3'}")


def signed_response(settings: Settings, keypair: KeyPair, now: datetime) -> str:
    page = saml_idp.issue_response(
        settings, keypair, sp_entity_id=SP, acs_url=ACS, in_response_to=None, relay_state=None,
        attributes={"IDO": ("a" * 128,)}, assertion_id="_rotation", now=now)
    fields = {i.get("name"): i.get("value") for i in lxml.html.fromstring(page).xpath("//input")}
    return str(fields["SAMLResponse"])


def verify_at_peer(settings: Settings, response: str, metadata: bytes,
                   now: datetime) -> ValidatedAssertion:
    """What a publisher does: trust exactly the certificates the broker's metadata lists."""
    idp = parse_metadata(metadata).idp
    assert idp is not None
    return validate_response(
        bindings.decode_post(response, max_bytes=settings.max_xml_bytes),
        certificates_for=lambda issuer: list(idp.signing_certificates),
        sp_entity_id=SP, acs_url=ACS, expected_issuer=endpoints.idp_entity_id(settings),
        allow_unsolicited=True, now=now)


def test_the_next_key_is_in_metadata_before_it_signs_anything(settings: Settings) -> None:
    now = datetime.now(UTC)
    ring = publish_next(settings.keys_dir, "broker", now)
    assert ring.next is not None
    for metadata in (idp_metadata_xml(settings), sp_metadata_xml(settings)):
        assert ring.next.certificate in _signing_certificates(metadata)
    app = create_app(settings)
    broker = app.state.broker
    assert broker.keypair.cert_pem == ring.current.cert_pem  # the signer is still current
    assert [k.cert_pem for k in broker.verification_keys()] == [
        ring.current.cert_pem, ring.next.cert_pem]
    response = signed_response(settings, broker.keypair, now)
    only_current = idp_metadata_xml(settings, [ring.current])
    verify_at_peer(settings, response, only_current, now)  # signed by current, not by next
    broker.sessions.kw["bind"].dispose()


def test_after_rollover_the_previous_keys_signature_verifies_during_the_overlap(
    settings: Settings,
) -> None:
    now = datetime.now(UTC)
    publish_next(settings.keys_dir, "broker", now)
    old_signer = broker_ring(settings).current
    response = signed_response(settings, old_signer, now)
    rollover(settings.keys_dir, "broker", now, OVERLAP)
    new_metadata = idp_metadata_xml(settings)  # fetched by the peer after the rollover
    assert verify_at_peer(settings, response, new_metadata, now).assertion_id == "_rotation"


def test_after_the_overlap_the_previous_keys_signature_no_longer_verifies(
    settings: Settings,
) -> None:
    now = datetime.now(UTC)
    publish_next(settings.keys_dir, "broker", now)
    response = signed_response(settings, broker_ring(settings).current, now)
    ring = rollover(settings.keys_dir, "broker", now, OVERLAP)
    metadata_after_overlap = idp_metadata_xml(settings, ring.published(now + OVERLAP))
    with pytest.raises(SamlError) as refused:
        verify_at_peer(settings, response, metadata_after_overlap, now)
    assert refused.value.code == "saml.signature.invalid"


def test_after_rollover_the_broker_signs_with_the_new_key_and_publishes_both(
    settings: Settings,
) -> None:
    now = datetime.now(UTC)
    previous = broker_ring(settings).current
    upcoming = publish_next(settings.keys_dir, "broker", now).next
    assert upcoming is not None
    rollover(settings.keys_dir, "broker", now, OVERLAP)
    app = create_app(settings)  # a restart reads the ring
    broker = app.state.broker
    assert broker.keypair.cert_pem == upcoming.cert_pem
    assert [k.cert_pem for k in broker.verification_keys()] == [upcoming.cert_pem,
                                                                  previous.cert_pem]
    broker.sessions.kw["bind"].dispose()


def test_cli_publishes_next_then_rolls_over(tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--data-dir", str(tmp_path)]
    refused = runner.invoke(cli, [*base, "keys", "rollover"])
    assert refused.exit_code == 1 and "keys next" in refused.output
    published = runner.invoke(cli, [*base, "keys", "next"])
    assert published.exit_code == 0, published.output
    shown = runner.invoke(cli, [*base, "keys"])
    assert "clé suivante, publiée d'avance" in shown.output
    rolled = runner.invoke(cli, [*base, "keys", "rollover", "--overlap-hours", "24"])
    assert rolled.exit_code == 0, rolled.output
    assert "Clé précédente publiée jusqu'au" in rolled.output


def _signing_certificates(metadata: bytes) -> tuple[x509.Certificate, ...]:
    entity = parse_metadata(metadata)
    role = entity.idp or entity.sp
    assert role is not None
    return tuple(role.signing_certificates)


def test_after_rollover_the_jwks_serves_both_keys_and_a_token_of_the_previous_one_verifies(
    settings: Settings,
) -> None:
    """The OIDC side of the overlap, checked with PyJWT (not the broker's own JOSE library)."""
    import jwt
    from fastapi.testclient import TestClient

    from services.oidc import jose

    now = datetime.now(UTC)
    previous = broker_ring(settings).current
    signed_before = jose.sign({"iss": "gar", "aud": "rp", "sub": "x",
                               "exp": int(now.timestamp()) + 60}, previous)
    publish_next(settings.keys_dir, "broker", now)
    rollover(settings.keys_dir, "broker", now, OVERLAP)
    app = create_app(settings)
    with TestClient(app) as client:
        keys = jwt.PyJWKSet.from_dict(client.get("/oidc/jwks").json())
    assert {key.key_id for key in keys.keys} == {
        jose.kid(previous), jose.kid(app.state.broker.keypair)}
    verifying = keys[jwt.get_unverified_header(signed_before)["kid"]]
    claims = jwt.decode(signed_before, verifying.key, algorithms=["RS256"], audience="rp")
    assert claims["sub"] == "x"
    app.state.broker.sessions.kw["bind"].dispose()
