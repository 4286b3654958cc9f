"""mediacentre: resource presentation metadata (thumbnail, ScoLOMFR terms).

Nullable columns: a resource registered before, or by a peer that gives no description, is
simply "not described" and lists with empty term lists.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels = None
depends_on = None

_TERM_COLUMNS = ("levels", "subjects", "pedagogical_types", "document_types")


def upgrade() -> None:
    op.add_column("resources", sa.Column("thumbnail_url", sa.String(length=2048), nullable=True))
    for name in _TERM_COLUMNS:
        op.add_column("resources", sa.Column(name, sa.JSON(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35 too): a batch copy would drop and
    # recreate "resources", and its ON DELETE CASCADE would empty resource_attributes.
    for name in (*reversed(_TERM_COLUMNS), "thumbnail_url"):
        op.drop_column("resources", name)
