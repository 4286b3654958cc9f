"""The load driver: plays the resource provider and the identity provider around the broker.

It holds their keys (the files the broker's trust registry knows them by), forges what they
would send (the provider's signed AuthnRequest, the identity provider's signed Response) and
checks the broker's answer minimally, so that only the broker is measured. Each protocol is one
flow function ``(client, peers, subject) -> Flow``, listed in :data:`FLOWS`: an OIDC flow (the
provider as relying party, the broker as OP) is one more function there, timing each broker
request the same way.

A flow's latency is the broker's part only: the sum of its HTTP round trips (SSO endpoint,
then ACS), not the time the driver spends forging messages between them (in real life the
person spends seconds at the identity provider there).
"""

from __future__ import annotations

import base64
import html
import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
from lxml import etree

from services.keys import KeyPair
from services.saml import bindings, build, signing
from services.saml.constants import NAMEID_TRANSIENT, NS


@dataclass(frozen=True)
class Peers:
    """The emulated provider and identity provider: their names, endpoints and keys."""

    broker_base: str
    sp_entity_id: str
    sp_acs_url: str
    sp_key: KeyPair
    idp_entity_id: str
    idp_key: KeyPair
    ent_id: str


@dataclass(frozen=True)
class Subject:
    """Who logs in (``GARPersonIdentifiant``) and which resource they open (its URL)."""

    person_id: str
    resource_url: str


@dataclass(frozen=True)
class Flow:
    ok: bool
    steps: tuple[float, ...]  # seconds, one per broker request
    error: str = ""

    @property
    def latency(self) -> float:
        return sum(self.steps)


_SAML_RESPONSE = re.compile(r'name="SAMLResponse" value="([^"]*)"')
_STATUS_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"


def _timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    start = time.perf_counter()
    response = call()
    return response, time.perf_counter() - start


def saml_sp_initiated(client: httpx.Client, peers: Peers, subject: Subject) -> Flow:
    """Provider → broker (AuthnRequest) → identity provider → broker (Response) → provider."""
    sso = f"{peers.broker_base}/saml/idp/sso"
    request_id = build.new_id()
    authn = build.authn_request(issuer=peers.sp_entity_id, destination=sso,
                                acs_url=peers.sp_acs_url, request_id=request_id)
    url = bindings.encode_redirect(sso, authn, kind="SAMLRequest",
                                   relay_state=subject.resource_url, keypair=peers.sp_key)
    first, t1 = _timed(lambda: client.get(url))
    if first.status_code != 303:
        return Flow(False, (t1,), f"sso {first.status_code}")
    upstream = parse_qs(urlsplit(first.headers["location"]).query)
    upstream_request = etree.fromstring(
        zlib.decompress(base64.b64decode(upstream["SAMLRequest"][0]), -15))
    acs = upstream_request.get("AssertionConsumerServiceURL")
    now = datetime.now(UTC)
    assertion = build.assertion(
        issuer=peers.idp_entity_id, name_id=build.new_id(), name_id_format=NAMEID_TRANSIENT,
        audience=upstream_request.findtext(f"{{{NS['saml']}}}Issuer") or "", recipient=acs,
        in_response_to=upstream_request.get("ID"),
        attributes={"idEnt": [peers.ent_id], "GARPersonIdentifiant": [subject.person_id]},
        session_index=build.new_id(), now=now)
    response = build.response(issuer=peers.idp_entity_id, destination=acs,
                              in_response_to=upstream_request.get("ID"),
                              assertion=signing.sign(assertion, peers.idp_key), now=now)
    form = {"SAMLResponse": base64.b64encode(etree.tostring(response)).decode(),
            "RelayState": upstream["RelayState"][0]}
    second, t2 = _timed(lambda: client.post(acs, data=form))
    if second.status_code != 200:
        return Flow(False, (t1, t2), f"acs {second.status_code}")
    problem = _check_saml_answer(second.text, peers, request_id)
    return Flow(problem is None, (t1, t2), problem or "")


def _check_saml_answer(page: str, peers: Peers, request_id: str) -> str | None:
    """Minimal checks on the broker's Response; None when it looks right."""
    found = _SAML_RESPONSE.search(page)
    if found is None:
        return "no SAMLResponse in the page"
    root = etree.fromstring(base64.b64decode(html.unescape(found.group(1))))
    status = root.find(f"{{{NS['samlp']}}}Status/{{{NS['samlp']}}}StatusCode")
    if status is None or status.get("Value") != _STATUS_SUCCESS:
        return "status is not Success"
    if root.get("InResponseTo") != request_id or root.get("Destination") != peers.sp_acs_url:
        return "InResponseTo or Destination differs"
    signed = root.find(f"{{{NS['saml']}}}Assertion/{{{NS['ds']}}}Signature")
    if signed is None:
        return "assertion not signed"
    return None


#: Protocol name → flow function. OIDC (issue 4) adds ``"oidc": oidc_code_flow`` here.
FLOWS: dict[str, Callable[[httpx.Client, Peers, Subject], Flow]] = {
    "saml": saml_sp_initiated,
}
