"""API clients (distributors, ENTs) authenticated by token or client certificate.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_clients',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('ident', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('cert_sha256', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_clients')),
    sa.UniqueConstraint('cert_sha256', name=op.f('uq_api_clients_cert_sha256')),
    sa.UniqueConstraint('token_sha256', name=op.f('uq_api_clients_token_sha256'))
    )
    op.create_index(op.f('ix_api_clients_ident'), 'api_clients', ['ident'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_api_clients_ident'), table_name='api_clients')
    op.drop_table('api_clients')
