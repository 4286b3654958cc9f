"""The broker's own flow errors, alongside SamlError, each with a stable code."""

from __future__ import annotations


class FlowError(Exception):
    """A browser flow that cannot continue; rendered as a French page with its code."""

    def __init__(self, code: str, detail: str = "", status: int = 400) -> None:
        super().__init__(f"{code}: {detail}")
        self.code, self.detail, self.status = code, detail, status
