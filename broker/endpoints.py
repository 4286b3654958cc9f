"""The broker's own entity ids and endpoint URLs, derived from its public base URL."""

from __future__ import annotations

from services.settings import Settings


def idp_entity_id(settings: Settings) -> str:
    return f"{settings.broker_base}/saml/idp/metadata"


def idp_sso_url(settings: Settings) -> str:
    return f"{settings.broker_base}/saml/idp/sso"


def sp_entity_id(settings: Settings) -> str:
    return f"{settings.broker_base}/saml/sp/metadata"


def sp_acs_url(settings: Settings) -> str:
    return f"{settings.broker_base}/saml/sp/acs"


def mediacentre_entry_url(settings: Settings) -> str:
    return f"{settings.broker_base}/domaineGar"
