"""directory feed: staging and primary-school variant (issue 3).

Reserved in the chain so that parallel work lands without renumbering; empty until that work
needs a schema change.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
