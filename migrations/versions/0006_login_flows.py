"""login state: the protocol on each side of a flow, and what that protocol alone needs.

Existing rows are SAML on both sides (the server default).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels = None
depends_on = None


_COLUMNS = ("upstream", "upstream_params", "downstream", "downstream_params")


def upgrade() -> None:
    op.add_column("login_states", sa.Column("upstream", sa.String(length=8), server_default="saml", nullable=False))
    op.add_column("login_states", sa.Column("upstream_params", sa.JSON(), nullable=True))
    op.add_column("login_states", sa.Column("downstream", sa.String(length=8), server_default="saml", nullable=False))
    op.add_column("login_states", sa.Column("downstream_params", sa.JSON(), nullable=True))


def downgrade() -> None:
    for name in reversed(_COLUMNS):
        op.drop_column("login_states", name)
