"""What the broker stores of an upstream OpenID Provider's JWKS, at registration or refresh."""

from __future__ import annotations

from typing import Any

import pytest

from broker import oidc_providers
from services.keys import generate
from services.oidc import jose
from services.oidc.errors import OidcError


def test_a_published_jwks_is_kept_as_its_keys() -> None:
    keys = jose.jwks([generate("provider")])
    assert oidc_providers.read_jwks({**keys, "extra": 1}) == keys


@pytest.mark.parametrize("jwks", [
    pytest.param([], id="not-an-object"),
    pytest.param({"keys": []}, id="no-key"),
    pytest.param({"keys": ["not a key"]}, id="not-key-objects"),
    pytest.param({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}, id="a-symmetric-key"),
])
def test_a_jwks_without_public_keys_is_refused(jwks: Any) -> None:
    with pytest.raises(OidcError) as refused:
        oidc_providers.read_jwks(jwks)
    assert refused.value.code == "oidc.discovery.invalid"


def test_a_jwks_holding_a_private_key_is_refused() -> None:
    from joserfc.jwk import RSAKey

    private = RSAKey.import_key(generate("leaky provider").key_pem).as_dict(private=True)
    with pytest.raises(OidcError, match="private"):
        oidc_providers.read_jwks({"keys": [private]})
