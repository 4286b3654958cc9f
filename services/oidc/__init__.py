"""OpenID Connect helpers the broker and the identity-provider mock share (Authlib's joserfc).

Nothing here knows GAR: signing and verifying JWTs with pinned algorithms, the JWKS with
RFC 7638 key ids, PKCE S256, discovery documents. The provider mock deliberately does not use
this package: it verifies with PyJWT, an independent implementation.
"""
