"""login state: upstream and downstream protocol of a flow.

Reserved in the chain so that parallel work lands without renumbering; empty until that work
needs a schema change.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
