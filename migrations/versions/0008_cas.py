"""CAS 3.0 toward publishers: service tickets (issue 4).

One table: a ticket bound to its exact service URL, valid a few seconds, consumed once by a
conditional UPDATE. Registered CAS services need no table: they are the access URLs of the
resources declared with protocol ``cas``.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cas_tickets",
        sa.Column("ticket", sa.String(length=256), nullable=False),
        sa.Column("service", sa.String(length=2048), nullable=False),
        sa.Column("provider_entity_id", sa.String(length=1024), nullable=False),
        sa.Column("resource_id", sa.String(length=255), nullable=False),
        sa.Column("delivery_id", sa.String(length=256), nullable=False),
        sa.Column("user", sa.String(length=256), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("ticket", name=op.f("pk_cas_tickets")),
    )
    op.create_index(op.f("ix_cas_tickets_expires_at"), "cas_tickets", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_cas_tickets_expires_at"), table_name="cas_tickets")
    op.drop_table("cas_tickets")
