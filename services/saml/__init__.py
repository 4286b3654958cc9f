"""SAML 2.0 toolkit shared by the three services; it knows nothing of GAR.

Parsing (hardened), building, signing and verifying, bindings, metadata and validation of
the Web Browser SSO profile. Every refusal is a :class:`SamlError` with a stable code.
"""

from services.saml.bindings import (
    RedirectMessage,
    decode_post,
    decode_redirect,
    encode_redirect,
    peek_redirect,
    post_form,
)
from services.saml.build import assertion, authn_request, instant, new_id, parse_instant, response
from services.saml.errors import SamlError
from services.saml.metadata import (
    Endpoint,
    EntityMetadata,
    IdPRole,
    SPRole,
    idp_metadata,
    parse_metadata,
    sp_metadata,
)
from services.saml.signing import sign, verify
from services.saml.validate import (
    AuthnRequestInfo,
    ValidatedAssertion,
    validate_authn_request,
    validate_response,
)
from services.saml.xml import parse, text_of, to_bytes

__all__ = [
    "AuthnRequestInfo",
    "Endpoint",
    "EntityMetadata",
    "IdPRole",
    "RedirectMessage",
    "SPRole",
    "SamlError",
    "ValidatedAssertion",
    "assertion",
    "authn_request",
    "decode_post",
    "decode_redirect",
    "encode_redirect",
    "idp_metadata",
    "instant",
    "new_id",
    "parse",
    "parse_instant",
    "parse_metadata",
    "peek_redirect",
    "post_form",
    "response",
    "sign",
    "sp_metadata",
    "text_of",
    "to_bytes",
    "validate_authn_request",
    "validate_response",
    "verify",
]
