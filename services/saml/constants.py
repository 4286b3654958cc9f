"""SAML 2.0 and XML-DSig identifiers, spelled once so a typo cannot become a silent mismatch."""

from __future__ import annotations

from typing import Final

NS: Final[dict[str, str]] = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
    "xs": "http://www.w3.org/2001/XMLSchema",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
NS_XML: Final = "http://www.w3.org/XML/1998/namespace"

BINDING_REDIRECT: Final = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
BINDING_POST: Final = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"

NAMEID_TRANSIENT: Final = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
NAMEID_PERSISTENT: Final = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
NAMEID_UNSPECIFIED: Final = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
NAMEID_ENTITY: Final = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"

ATTRNAME_BASIC: Final = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
ATTRNAME_URI: Final = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"

STATUS_SUCCESS: Final = "urn:oasis:names:tc:SAML:2.0:status:Success"
STATUS_REQUESTER: Final = "urn:oasis:names:tc:SAML:2.0:status:Requester"
STATUS_RESPONDER: Final = "urn:oasis:names:tc:SAML:2.0:status:Responder"
STATUS_VERSION_MISMATCH: Final = "urn:oasis:names:tc:SAML:2.0:status:VersionMismatch"
STATUS_REQUEST_DENIED: Final = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied"
# Only these may appear as the top-level StatusCode (SAML core §3.2.2.2).
TOP_LEVEL_STATUSES: Final = frozenset(
    {STATUS_SUCCESS, STATUS_REQUESTER, STATUS_RESPONDER, STATUS_VERSION_MISMATCH}
)

AUTHN_CTX_PPT: Final = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
CM_BEARER: Final = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
PROTOCOL_SAML2: Final = "urn:oasis:names:tc:SAML:2.0:protocol"

ALG_RSA_SHA256: Final = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
ALG_RSA_SHA384: Final = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
ALG_RSA_SHA512: Final = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
ALG_RSA_SHA1: Final = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
DIGEST_SHA256: Final = "http://www.w3.org/2001/04/xmlenc#sha256"
DIGEST_SHA384: Final = "http://www.w3.org/2001/04/xmldsig-more#sha384"
DIGEST_SHA512: Final = "http://www.w3.org/2001/04/xmlenc#sha512"
DIGEST_SHA1: Final = "http://www.w3.org/2000/09/xmldsig#sha1"
EXC_C14N: Final = "http://www.w3.org/2001/10/xml-exc-c14n#"
C14N_10: Final = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
C14N_11: Final = "http://www.w3.org/2006/12/xml-c14n11"
TRANSFORM_ENVELOPED: Final = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
