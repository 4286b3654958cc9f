"""audit trail: checkpoints, roles (issue 5).

Reserved in the chain so that parallel work lands without renumbering; empty until that work
needs a schema change.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
