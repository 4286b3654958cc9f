"""conformance harness: sandbox peers and runs (issue 6).

Reserved in the chain so that parallel work lands without renumbering; empty until that work
needs a schema change.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
