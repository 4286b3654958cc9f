"""subscriptions by codeNatureUAI, resource families (issue 3).

- ``subscriptions.uai`` becomes nullable (NULL on a codeNatureUAI subscription), with
  ``nature_uai`` and ``parent_id`` (a per-establishment share's codeNatureUAI subscription).
- ``resources.displayable`` / ``distributable`` (``affichable`` / ``diffusable``) and
  ``family_id`` (the mother of a family member).

Only columns are added: SQLite cannot change a table in place, and a batch copy would drop
and recreate ``subscriptions``, whose ON DELETE CASCADE would empty assignments and the
licence ledger. Relaxing NOT NULL on SQLite therefore uses the procedure SQLite documents for
exactly that change ("Making Other Kinds Of Table Schema Changes": edit the stored CREATE
TABLE text under ``writable_schema`` and bump ``schema_version``), which rewrites no row.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels = None
depends_on = None


def _sqlite_set_uai_nullable(nullable: bool) -> None:
    bind = op.get_bind()
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'subscriptions'"
    ).scalar_one()
    column = re.compile(r"(\buai VARCHAR\(45\))( NOT NULL)?,")
    if not column.search(sql):
        raise RuntimeError("subscriptions.uai not found in its CREATE TABLE statement")
    changed = column.sub(r"\1," if nullable else r"\1 NOT NULL,", sql, count=1)
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'subscriptions'",
        (changed,),
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def upgrade() -> None:
    op.add_column("subscriptions", sa.Column("nature_uai", sa.String(length=8), nullable=True))
    op.add_column("subscriptions", sa.Column("parent_id", sa.String(length=64), nullable=True))
    op.create_index("ix_subscriptions_parent_id", "subscriptions", ["parent_id"])
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_set_uai_nullable(True)
    else:
        op.alter_column("subscriptions", "uai", existing_type=sa.String(length=45),
                        nullable=True)
    op.add_column("resources", sa.Column("displayable", sa.Boolean(), nullable=False,
                                         server_default=sa.true()))
    op.add_column("resources", sa.Column("distributable", sa.Boolean(), nullable=False,
                                         server_default=sa.true()))
    op.add_column("resources", sa.Column("family_id", sa.String(length=255), nullable=True))
    op.create_index("ix_resources_family_id", "resources", ["family_id"])


def downgrade() -> None:
    # codeNatureUAI subscriptions cannot exist without a nullable uai: drop them first
    # (their shares keep their establishment and become ordinary subscriptions).
    op.execute("DELETE FROM subscriptions WHERE uai IS NULL")
    op.drop_index("ix_resources_family_id", table_name="resources")
    for name in ("family_id", "distributable", "displayable"):
        op.drop_column("resources", name)
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_set_uai_nullable(False)
    else:
        op.alter_column("subscriptions", "uai", existing_type=sa.String(length=45),
                        nullable=False)
    op.drop_index("ix_subscriptions_parent_id", table_name="subscriptions")
    for name in ("parent_id", "nature_uai"):
        op.drop_column("subscriptions", name)
