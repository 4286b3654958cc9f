"""Forged identity-provider Responses for the rejection tests.

The test plays a real flow up to the identity provider's login page, then answers in the
identity provider's place with a Response built here, broken in exactly one way.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from lxml import etree

from services.conformance.forge import Pending, encode, pending_from_redirect
from services.keys import KeyPair, load_or_create
from services.saml import build, signing
from services.saml.constants import NAMEID_TRANSIENT
from services.settings import Settings

__all__ = ["Pending", "encode", "pending_from_redirect"]  # shared with the harness


async def start(browser: httpx.AsyncClient, settings: Settings, slug: str) -> Pending:
    """Open a resource and stop where the broker hands over to the identity provider."""
    response = await browser.get(f"{settings.provider_base}/resource/{slug}")
    response = await browser.get(response.headers["location"])  # the broker's SSO endpoint
    assert response.status_code == 303, response.text
    return pending_from_redirect(response.headers["location"])


def idp_entity_id(settings: Settings) -> str:
    return f"{settings.idp_base}/saml/metadata"


def idp_key(settings: Settings) -> KeyPair:
    return load_or_create(settings.keys_dir, "idp")


def ent_attributes(person_id: str = "") -> dict[str, list[str]]:
    return {"idEnt": ["ENT-TESTBED"], "GARPersonIdentifiant": [person_id]}


def assertion(
    settings: Settings, pending: Pending, attributes: dict[str, list[str]], *,
    issuer: str | None = None, audience: str | None = None, recipient: str | None = None,
    in_response_to: str | None = "same", now: datetime | None = None, lifetime: int = 300,
) -> etree._Element:
    return build.assertion(
        issuer=issuer or idp_entity_id(settings),
        name_id=build.new_id(),
        name_id_format=NAMEID_TRANSIENT,
        audience=audience or f"{settings.broker_base}/saml/sp/metadata",
        recipient=recipient or pending.acs_url,
        in_response_to=pending.request_id if in_response_to == "same" else in_response_to,
        attributes=attributes,
        session_index=build.new_id(),
        lifetime_seconds=lifetime,
        now=now or datetime.now(UTC),
    )


def response(
    settings: Settings, pending: Pending, signed_assertion: etree._Element | None, *,
    issuer: str | None = None, destination: str | None = None, in_response_to: str | None = "same",
    now: datetime | None = None,
) -> etree._Element:
    return build.response(
        issuer=issuer or idp_entity_id(settings),
        destination=destination or pending.acs_url,
        in_response_to=pending.request_id if in_response_to == "same" else in_response_to,
        assertion=signed_assertion,
        now=now or datetime.now(UTC),
    )


def sign(element: etree._Element, key: KeyPair) -> etree._Element:
    return signing.sign(element, key)


PAST = datetime.now(UTC) - timedelta(hours=2)
FUTURE = datetime.now(UTC) + timedelta(hours=2)
