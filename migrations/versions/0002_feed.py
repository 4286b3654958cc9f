"""directory-feed import bookkeeping (owned by the feed engineer).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed_imports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ent_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=16), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_imports")),
    )
    op.create_index(op.f("ix_feed_imports_at"), "feed_imports", ["at"], unique=False)
    op.create_index(op.f("ix_feed_imports_sha256"), "feed_imports", ["sha256"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_feed_imports_sha256"), table_name="feed_imports")
    op.drop_index(op.f("ix_feed_imports_at"), table_name="feed_imports")
    op.drop_table("feed_imports")
