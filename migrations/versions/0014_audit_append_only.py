"""audit trail (issue 5): the path in, the IDO digest, seals, and append-only in the database.

- ``audit_records`` gains ``upstream_protocol``, ``upstream_issuer``,
  ``upstream_assertion_id`` (the identity provider's side of the path) and ``ido_digest``
  (the keyed digest of the ``IDO`` released, for the linkability check). Nullable: older
  records keep verifying, the hash leaves NULL ones out.
- ``audit_seals``: signed seals of the chain's newest record (``gar-testbed audit seal``).
- ``audit_purge_permits`` and triggers, the same mechanism on both stores: UPDATE of an audit
  record, a purge checkpoint or a seal is refused; DELETE of a record only while a permit row
  exists, which ``broker.audit.purge`` inserts and removes inside its own transaction (other
  transactions never see it); checkpoints and seals are never deleted; TRUNCATE is refused
  (PostgreSQL). This stops the application and accidents, not the database's owner or a
  superuser, who can drop a trigger: the hash chain and the signed seals are what detect them.

SQLite note for later migrations: a "batch" table rebuild of these tables drops their
triggers; recreate them after one.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels = None
depends_on = None

_NEW_COLUMNS = (("upstream_protocol", 16), ("upstream_issuer", 1024),
                ("upstream_assertion_id", 256), ("ido_digest", 64))
_GUARDED = ("audit_records", "audit_checkpoints", "audit_seals")

_POSTGRES_FUNCTION = """
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'audit_records'
            AND EXISTS (SELECT 1 FROM audit_purge_permits) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit.append_only: % on % refused (records leave only through a purge)',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def _sqlite_triggers(table: str) -> list[str]:
    refuse = "BEGIN SELECT RAISE(ABORT, 'audit.append_only: {op} on {table} refused'); END"
    deletable = "WHEN NOT EXISTS (SELECT 1 FROM audit_purge_permits) " \
        if table == "audit_records" else ""
    return [
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
        + refuse.format(op="UPDATE", table=table),
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} {deletable}"
        + refuse.format(op="DELETE", table=table),
    ]


def upgrade() -> None:
    for name, length in _NEW_COLUMNS:
        op.add_column("audit_records", sa.Column(name, sa.String(length=length), nullable=True))
    op.create_table(
        "audit_seals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=True),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.Column("anchor_hash", sa.String(length=64), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("key_sha256", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_seals")),
    )
    op.create_table(
        "audit_purge_permits",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_purge_permits")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_POSTGRES_FUNCTION)
        for table in _GUARDED:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
                       f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()")
    else:
        for table in _GUARDED:
            for statement in _sqlite_triggers(table):
                op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in _GUARDED:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        op.execute("DROP FUNCTION audit_append_only()")
    else:
        for table in _GUARDED:
            op.execute(f"DROP TRIGGER {table}_no_update")
            op.execute(f"DROP TRIGGER {table}_no_delete")
    op.drop_table("audit_purge_permits")
    op.drop_table("audit_seals")
    with op.batch_alter_table("audit_records") as batch:
        for name, _ in reversed(_NEW_COLUMNS):
            batch.drop_column(name)
