"""Mutual TLS terminated by the broker itself (``GAR_API_TLS_PORT``), over a real socket.

The listener is built by ``services.cli.api_tls_context`` and ``api_tls_service``, as
``gar-testbed up`` builds it, and served the same way, on the package's database. Clients
present their certificate in the handshake (an ``ssl.SSLContext`` with ``load_cert_chain``,
as httpx wants it); the handshake requires one trusted by ``GAR_API_TLS_CLIENT_CA_FILE`` (a
test CA, and one client certificate listed on its own: pinned, its issuer unknown), and the
broker recognises it by the fingerprint its client registered.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from broker.api_auth import create_client
from services.keys import KeyPair, generate
from services.settings import Settings
from tests.subscriptions import wire
from tests.subscriptions.conftest import NS, OWN, Live, serve_in_thread

TLS_DISTRIBUTOR = "222222222_0000000000000002"
TLS_ENT = "ENT-TLS"


def _issue(common_name: str, issuer: KeyPair | None, *, ca: bool = False) -> KeyPair:
    """A certificate signed by ``issuer`` (self-signed when None)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    return KeyPair(key, builder.sign(issuer.private_key if issuer else key, hashes.SHA256()))


@dataclass(frozen=True)
class TlsLive:
    base: str  # https://127.0.0.1:<port>
    server_cert: Path
    folder: Path

    def context(self, pair: KeyPair | None) -> ssl.SSLContext:
        """A client context trusting the broker's certificate, presenting ``pair``'s."""
        context = ssl.create_default_context(cafile=self.server_cert)
        if pair is not None:
            stem = self.folder / f"client-{pair.certificate.serial_number}"
            stem.with_suffix(".crt").write_bytes(pair.cert_pem)
            stem.with_suffix(".key").write_bytes(pair.key_pem)
            context.load_cert_chain(stem.with_suffix(".crt"), stem.with_suffix(".key"))
        return context

    def client(self, pair: KeyPair | None, *, headers: dict[str, str] | None = None
               ) -> httpx.Client:
        return httpx.Client(base_url=self.base, verify=self.context(pair),
                            headers=headers or {}, timeout=20)


@dataclass(frozen=True)
class Certificates:
    authority: KeyPair  # the test CA, in the CA file
    registered: KeyPair  # issued by the CA, registered for TLS_DISTRIBUTOR
    unregistered: KeyPair  # issued by the CA, registered for nobody
    pinned_ent: KeyPair  # issued by a CA the file does not hold, listed in it on its own
    stranger: KeyPair  # self-signed, trusted by nothing


@pytest.fixture(scope="module")
def certificates() -> Certificates:
    authority = _issue("Autorité de test des clients", None, ca=True)
    return Certificates(
        authority=authority,
        registered=_issue("distributeur-tls.example", authority),
        unregistered=_issue("inconnu.example", authority),
        pinned_ent=_issue("ent-tls.example", _issue("Autorité de l'ENT", None, ca=True)),
        stranger=generate("etranger.example"),
    )


@pytest.fixture(scope="module")
def tls_live(
    live: Live, database_url: str, certificates: Certificates,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TlsLive]:
    from broker.app import create_app
    from services.cli import api_tls_context, api_tls_service, bind

    folder = tmp_path_factory.mktemp("mtls")
    bundle = folder / "clients-ca.pem"
    bundle.write_bytes(certificates.authority.cert_pem + certificates.pinned_ent.cert_pem)
    with live.sessions.begin() as session:
        create_client(session, kind="distributor", ident=TLS_DISTRIBUTOR, name="Par TLS",
                      cert_pem=certificates.registered.cert_pem)
        create_client(session, kind="ent", ident=TLS_ENT, name="ENT par TLS",
                      cert_pem=certificates.pinned_ent.cert_pem)
    settings = Settings(data_dir=folder / "data", host="127.0.0.1", DATABASE_URL=database_url,
                        api_tls_port=0, api_tls_client_ca_file=bundle)
    sock = bind("127.0.0.1", 0)
    service = api_tls_service(create_app(settings), sock, api_tls_context(settings))
    for _ in serve_in_thread([service]):
        yield TlsLive(f"https://127.0.0.1:{sock.getsockname()[1]}",
                      settings.keys_dir / "api-tls.crt", folder)


@pytest.fixture(scope="module")
def registered(tls_live: TlsLive, certificates: Certificates) -> Iterator[httpx.Client]:
    with tls_live.client(certificates.registered) as client:
        yield client


def _listed_ids(answer: httpx.Response) -> list[str]:
    root = etree.fromstring(answer.content)
    return [e.text or "" for e in root.iter(f"{{{NS}}}idAbonnement")]


def test_the_server_certificate_is_generated_for_the_loopback_names(tls_live: TlsLive) -> None:
    certificate = x509.load_pem_x509_certificate(tls_live.server_cert.read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


def test_a_registered_distributors_certificate_authenticates_and_sees_only_its_own(
    registered: httpx.Client, client_for: Callable[..., httpx.Client], new_id: str
) -> None:
    body = wire.abonnement(new_id, idDistributeurCom=TLS_DISTRIBUTOR)
    assert registered.put(f"/abonnements-ws/{new_id}", content=body,
                          headers=wire.XML_HEADERS).status_code == 201
    listed = registered.request("GET", "/abonnements-ws/abonnements",
                                params={"debut": 0, "fin": 1000})
    assert listed.status_code == 200
    assert _listed_ids(listed) == [new_id]
    mine = _listed_ids(client_for("own").request(
        "GET", "/abonnements", params={"debut": 0, "fin": 1000}))
    assert mine and new_id not in mine  # OWN's subscriptions exist, and the TLS client sees none


def test_the_handshake_certificate_outranks_a_token_of_another_client(
    tls_live: TlsLive, certificates: Certificates, live: Live, new_id: str
) -> None:
    headers = {"Authorization": f"Bearer {live.tokens['own']}"}
    with tls_live.client(certificates.registered, headers=headers) as client:
        body = wire.abonnement(new_id, idDistributeurCom=OWN)
        answer = client.put(f"/abonnements-ws/{new_id}", content=body,
                            headers=wire.XML_HEADERS)
    assert answer.status_code == 403
    assert answer.json()["code"] == "subscription.distributor_mismatch"


def test_a_certificate_the_ca_issued_but_nobody_registered_is_refused(
    tls_live: TlsLive, certificates: Certificates
) -> None:
    with tls_live.client(certificates.unregistered) as client:
        answer = client.request("GET", "/abonnements-ws/abonnements")
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "auth.invalid"


def test_a_certificate_pinned_in_the_ca_file_opens_the_ents_mediacentre_list_only(
    tls_live: TlsLive, certificates: Certificates
) -> None:
    with tls_live.client(certificates.pinned_ent) as client:
        as_ent = client.get("/ressourcesDiffusables")
        as_distributor = client.request("GET", "/abonnements-ws/abonnements")
    assert as_ent.status_code == 200
    assert b"listeRessourcesDiffusables" in as_ent.content
    assert as_distributor.status_code == 401
    assert as_distributor.json()["code"] == "auth.invalid"


def test_the_feed_import_reaches_the_importer_with_the_ents_certificate(
    tls_live: TlsLive, certificates: Certificates
) -> None:
    with tls_live.client(certificates.pinned_ent) as client:
        answer = client.post("/feed/import", params={"nom": "flux.xml"}, content=b"<pas-un-flux/>",
                             headers={"Content-Type": "application/xml"})
    assert answer.status_code == 422  # authenticated, then refused by the importer
    assert answer.json()["code"] == "feed.unknown_root"


def _handshake(tls_live: TlsLive, pair: KeyPair | None) -> str:
    """How a TLS 1.2 handshake ends (in 1.2 the server judges the client's certificate before
    the handshake completes; in 1.3 the client would only notice on its first read)."""
    context = tls_live.context(pair)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    host, port = urlsplit(tls_live.base).hostname, urlsplit(tls_live.base).port
    assert host is not None and port is not None
    with socket.create_connection((host, port), timeout=20) as raw:
        try:
            with context.wrap_socket(raw, server_hostname=host):
                return "completed"
        except (ssl.SSLError, ConnectionError) as error:
            return f"failed: {error!r}"


@pytest.mark.parametrize("who", ["none", "stranger"])
def test_the_handshake_fails_without_a_trusted_client_certificate(
    tls_live: TlsLive, certificates: Certificates, who: str
) -> None:
    pair = None if who == "none" else certificates.stranger
    with tls_live.client(pair) as client, pytest.raises(httpx.TransportError):
        client.request("GET", "/abonnements-ws/abonnements")
    assert _handshake(tls_live, pair).startswith("failed")


def test_the_same_handshake_completes_with_a_trusted_certificate(
    tls_live: TlsLive, certificates: Certificates
) -> None:
    assert _handshake(tls_live, certificates.registered) == "completed"


def test_pages_are_not_served_on_the_mutual_tls_port(registered: httpx.Client) -> None:
    answer = registered.get("/console/")
    assert answer.status_code == 404
    assert answer.json()["code"] == "tls.not_served"
