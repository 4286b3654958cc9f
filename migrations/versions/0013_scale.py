"""scale and performance (issue 7): the index the mediacentre list needs at national size.

Every list starts with the resources delivered automatically (free institutional ones, a
few among 20,000): without an index on ``resources.delivery`` that is a sequential scan of the
whole catalogue on every call.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_resources_delivery", "resources", ["delivery"])


def downgrade() -> None:
    op.drop_index("ix_resources_delivery", table_name="resources")
