"""audit trail: signed retention checkpoints, reviewers' sessions (issue 5).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cutoff", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_id", sa.Integer(), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("from_hash", sa.String(length=64), nullable=False),
        sa.Column("to_hash", sa.String(length=64), nullable=False),
        sa.Column("key_sha256", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoints")),
    )
    op.create_table(
        "audit_sessions",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("person_pk", sa.Integer(), nullable=True),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["api_clients.id"], ondelete="CASCADE",
                                name=op.f("fk_audit_sessions_client_id_api_clients")),
        sa.ForeignKeyConstraint(["person_pk"], ["persons.id"], ondelete="CASCADE",
                                name=op.f("fk_audit_sessions_person_pk_persons")),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_audit_sessions")),
    )
    for column in ("client_id", "person_pk", "expires_at"):
        op.create_index(op.f(f"ix_audit_sessions_{column}"), "audit_sessions", [column])


def downgrade() -> None:
    for column in ("expires_at", "person_pk", "client_id"):
        op.drop_index(op.f(f"ix_audit_sessions_{column}"), table_name="audit_sessions")
    op.drop_table("audit_sessions")
    op.drop_table("audit_checkpoints")
