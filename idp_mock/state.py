"""The pending authentication request, carried through the login page in a hidden field.

The identity provider keeps no server-side session: what it checked on the AuthnRequest
(which service provider, which request id, which ACS, which RelayState) travels in the login
form, sealed with an HMAC under a secret only this service knows and with an expiry, so a
user cannot redirect the assertion elsewhere or replay an old login form.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import asdict, dataclass

from services.saml.errors import SamlError

_MAX_STATE_CHARS = 8192


@dataclass(frozen=True)
class PendingRequest:
    sp_entity_id: str
    request_id: str
    acs_url: str
    relay_state: str | None
    expires_at: int


def seal(pending: PendingRequest, secret: bytes) -> str:
    payload = json.dumps(asdict(pending), separators=(",", ":"), sort_keys=True).encode()
    body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f"{body}.{_mac(body, secret)}"


def unseal(token: str, secret: bytes, *, now: float | None = None) -> PendingRequest:
    """Return the sealed request, refusing a forged, altered, malformed or expired one."""
    if len(token) > _MAX_STATE_CHARS or token.count(".") != 1:
        raise SamlError("idp.state.malformed", "login state is not a sealed token")
    body, mac = token.split(".")
    if not hmac.compare_digest(mac, _mac(body, secret)):
        raise SamlError("idp.state.tampered", "login state signature does not match")
    try:
        raw = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        pending = PendingRequest(
            sp_entity_id=_str(raw["sp_entity_id"]),
            request_id=_str(raw["request_id"]),
            acs_url=_str(raw["acs_url"]),
            relay_state=None if raw["relay_state"] is None else _str(raw["relay_state"]),
            expires_at=int(raw["expires_at"]),
        )
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise SamlError("idp.state.malformed", "login state content is invalid") from exc
    if (time.time() if now is None else now) >= pending.expires_at:
        raise SamlError("idp.state.expired", "login state has expired")
    return pending


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _mac(body: str, secret: bytes) -> str:
    digest = hmac.new(secret, b"gar-idp-state\x00" + body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def seal_fields(fields: dict[str, object], secret: bytes) -> str:
    """Any JSON object sealed like a pending request (the OIDC side's authorisation request)."""
    payload = json.dumps(fields, separators=(",", ":"), sort_keys=True).encode()
    body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f"{body}.{_mac(body, secret)}"


def unseal_fields(token: str, secret: bytes) -> dict[str, object]:
    """The sealed object, refused when forged, altered, malformed or past ``expires_at``."""
    if len(token) > _MAX_STATE_CHARS or token.count(".") != 1:
        raise SamlError("idp.state.malformed", "login state is not a sealed token")
    body, mac = token.split(".")
    if not hmac.compare_digest(mac, _mac(body, secret)):
        raise SamlError("idp.state.tampered", "login state signature does not match")
    try:
        raw = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        expires_at = int(raw["expires_at"])
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise SamlError("idp.state.malformed", "login state content is invalid") from exc
    if not isinstance(raw, dict) or time.time() >= expires_at:
        raise SamlError("idp.state.expired", "login state has expired")
    return raw
