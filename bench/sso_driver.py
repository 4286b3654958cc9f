"""The load driver: plays the resource provider and the identity provider around the broker.

It holds their keys and secrets (the files the broker's trust registry knows them by), forges
what they would send (the provider's signed AuthnRequest or OIDC authorisation request, the
identity provider's signed Response) and checks the broker's answer minimally, so that only
the broker is measured. Each downstream protocol is one flow function
``(client, peers, subject) -> Flow``, listed in :data:`FLOWS`; the identity provider side is
SAML in both (the ENT's protocol, GAR_REFERENCE §4a).

A flow's latency is the broker's part only: the sum of its HTTP round trips (SAML: SSO
endpoint, then ACS; OIDC: authorize, ACS, token, userinfo), not the time the driver spends
forging messages between them (in real life the person spends seconds at the identity
provider there).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, quote, urlencode, urlsplit

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
    oidc_client_id: str = ""  # the provider as an OIDC relying party (client_secret_basic)
    oidc_client_secret: str = ""
    oidc_redirect_uri: str = ""


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
    second, t2 = _identity_provider_answers(client, peers, subject, first.headers["location"])
    if second.status_code != 200:
        return Flow(False, (t1, t2), f"acs {second.status_code}")
    problem = _check_saml_answer(second.text, peers, request_id)
    return Flow(problem is None, (t1, t2), problem or "")


def _identity_provider_answers(
    client: httpx.Client, peers: Peers, subject: Subject, location: str
) -> tuple[httpx.Response, float]:
    """The identity provider's part: a signed Response to the broker's AuthnRequest, posted."""
    upstream = parse_qs(urlsplit(location).query)
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
    return _timed(lambda: client.post(acs, data=form))


def oidc_code_flow(client: httpx.Client, peers: Peers, subject: Subject) -> Flow:
    """Provider (relying party) → broker (authorize) → identity provider (SAML) → broker (ACS)
    → provider (code) → broker (token, userinfo): the code flow with PKCE S256, as the
    provider mock runs it."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    query = urlencode({
        "response_type": "code", "client_id": peers.oidc_client_id,
        "redirect_uri": peers.oidc_redirect_uri, "scope": "openid scope.gar", "state": state,
        "nonce": nonce, "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256", "resource": subject.resource_url})
    first, t1 = _timed(lambda: client.get(f"{peers.broker_base}/oidc/authorize?{query}"))
    if first.status_code != 303:
        return Flow(False, (t1,), f"authorize {first.status_code}")
    second, t2 = _identity_provider_answers(client, peers, subject, first.headers["location"])
    back = parse_qs(urlsplit(second.headers.get("location", "")).query)
    if second.status_code != 303 or back.get("state") != [state] or "code" not in back:
        return Flow(False, (t1, t2), f"acs {second.status_code}")
    third, t3 = _timed(lambda: client.post(
        f"{peers.broker_base}/oidc/token",
        headers={"Authorization": _basic(peers.oidc_client_id, peers.oidc_client_secret)},
        data={"grant_type": "authorization_code", "code": back["code"][0],
              "redirect_uri": peers.oidc_redirect_uri, "code_verifier": verifier}))
    if third.status_code != 200:
        return Flow(False, (t1, t2, t3), f"token {third.status_code}")
    tokens = third.json()
    payload = tokens["id_token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    if claims.get("nonce") != nonce or claims.get("aud") != peers.oidc_client_id:
        return Flow(False, (t1, t2, t3), "ID token nonce or audience differs")
    fourth, t4 = _timed(lambda: client.get(
        f"{peers.broker_base}/oidc/userinfo",
        headers={"Authorization": f"Bearer {tokens['access_token']}"}))
    steps = (t1, t2, t3, t4)
    if fourth.status_code != 200 or fourth.json().get("sub") != claims.get("sub"):
        return Flow(False, steps, f"userinfo {fourth.status_code}")
    return Flow(True, steps)


def _basic(client_id: str, secret: str) -> str:
    """client_secret_basic: both parts form-encoded first (RFC 6749 §2.3.1)."""
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return "Basic " + base64.b64encode(raw).decode()


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


#: What ``floor_flow`` sends: the sizes of a SAML login's query string and posted form.
FLOOR_QUERY = ("SAMLRequest=" + "A" * 1100 + "&RelayState=" + "R" * 60 + "&SigAlg=x&Signature="
               + "B" * 344)
FLOOR_FORM = {"SAMLResponse": "D" * 7600, "RelayState": "S" * 43}


def floor_flow(client: httpx.Client, peers: Peers, subject: Subject) -> Flow:
    """``http_floor.py``'s app in the broker's place: two requests shaped as the SSO and ACS
    requests, answered with nothing behind them (the subject is not used)."""
    first, t1 = _timed(lambda: client.get(f"{peers.broker_base}/sso?{FLOOR_QUERY}"))
    if first.status_code != 303:
        return Flow(False, (t1,), f"sso {first.status_code}")
    second, t2 = _timed(lambda: client.post(f"{peers.broker_base}/acs", data=FLOOR_FORM))
    ok = second.status_code == 200
    return Flow(ok, (t1, t2), "" if ok else f"acs {second.status_code}")


#: The broker requests each flow times, in order.
STEPS: dict[str, tuple[str, ...]] = {
    "saml": ("SSO", "ACS"),
    "oidc": ("authorize", "ACS", "token", "userinfo"),
    "floor": ("SSO", "ACS"),
}

#: Downstream protocol name → flow function ("floor": not the broker, see floor_flow).
FLOWS: dict[str, Callable[[httpx.Client, Peers, Subject], Flow]] = {
    "saml": saml_sp_initiated,
    "oidc": oidc_code_flow,
    "floor": floor_flow,
}
