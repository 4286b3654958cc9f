"""One exception for every OIDC refusal, with a stable code the pages and tests key on."""

from __future__ import annotations


class OidcError(Exception):
    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}")
        self.code, self.detail = code, detail
