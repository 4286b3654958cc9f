"""The single exception type of the SAML toolkit.

Every rejection carries a stable dotted code (``saml.signature.invalid``...) so that callers
map it to a user-facing French message and a test can assert *why* a message was refused,
not merely that it was; ``detail`` is for logs and diagnostics pages, never for control flow.
"""

from __future__ import annotations


class SamlError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
