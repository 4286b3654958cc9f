"""OpenID Connect: the broker's clients (resources), grants (codes and tokens), upstream providers.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oidc_clients",
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("auth_method", sa.String(length=32), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=True),
        sa.Column("redirect_uris", sa.JSON(), nullable=False),
        sa.Column("post_logout_redirect_uris", sa.JSON(), nullable=False),
        sa.Column("initiate_login_uri", sa.String(length=2048), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["provider_id"], ["providers.id"], name="fk_oidc_clients_provider_id_providers"),
        sa.PrimaryKeyConstraint("client_id", name="pk_oidc_clients"),
    )
    op.create_index("ix_oidc_clients_provider_id", "oidc_clients", ["provider_id"])
    op.create_table(
        "oidc_grants",
        sa.Column("code_sha256", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("resource_id", sa.String(length=255), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2048), nullable=False),
        sa.Column("code_challenge", sa.String(length=128), nullable=False),
        sa.Column("nonce", sa.String(length=255), nullable=True),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("claims", sa.JSON(), nullable=False),
        sa.Column("delivery_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("code_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("access_token_sha256", sa.String(length=64), nullable=True),
        sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("code_sha256", name="pk_oidc_grants"),
        sa.UniqueConstraint("access_token_sha256", name="uq_oidc_grants_access_token_sha256"),
        sa.UniqueConstraint("delivery_id", name="uq_oidc_grants_delivery_id"),
    )
    op.create_index("ix_oidc_grants_client_id", "oidc_grants", ["client_id"])
    op.create_index("ix_oidc_grants_code_expires_at", "oidc_grants", ["code_expires_at"])
    op.create_table(
        "oidc_providers",
        sa.Column("issuer", sa.String(length=1024), nullable=False),
        sa.Column("discovery", sa.JSON(), nullable=False),
        sa.Column("jwks", sa.JSON(), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("client_secret", sa.String(length=255), nullable=True),
        sa.Column("algorithms", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=2048), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("issuer", name="pk_oidc_providers"),
    )


def downgrade() -> None:
    op.drop_table("oidc_providers")
    op.drop_index("ix_oidc_grants_code_expires_at", table_name="oidc_grants")
    op.drop_index("ix_oidc_grants_client_id", table_name="oidc_grants")
    op.drop_table("oidc_grants")
    op.drop_index("ix_oidc_clients_provider_id", table_name="oidc_clients")
    op.drop_table("oidc_clients")
