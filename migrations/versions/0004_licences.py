"""licence accounting and console (owned by the licences/console engineers).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _create_licence_ledger()
    _create_console_sessions()


def downgrade() -> None:
    _drop_console_sessions()
    _drop_licence_ledger()


# --- assignment console (broker.models.ConsoleSession) --------------------------------------


def _create_console_sessions() -> None:
    op.create_table('console_sessions',
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('person_pk', sa.Integer(), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['person_pk'], ['persons.id'],
                            name=op.f('fk_console_sessions_person_pk_persons'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_sha256', name=op.f('pk_console_sessions'))
    )
    op.create_index(op.f('ix_console_sessions_expires_at'), 'console_sessions', ['expires_at'],
                    unique=False)
    op.create_index(op.f('ix_console_sessions_person_pk'), 'console_sessions', ['person_pk'],
                    unique=False)


def _drop_console_sessions() -> None:
    op.drop_index(op.f('ix_console_sessions_person_pk'), table_name='console_sessions')
    op.drop_index(op.f('ix_console_sessions_expires_at'), table_name='console_sessions')
    op.drop_table('console_sessions')


# --- licence accounting (broker.models.LicenceAllocation, Assignment.created_by) ------------


def _create_licence_ledger() -> None:
    op.add_column('assignments', sa.Column('created_by', sa.Integer(), nullable=True))
    op.create_table('licence_allocations',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('subscription_id', sa.String(length=64), nullable=False),
    sa.Column('person_pk', sa.Integer(), nullable=True),
    sa.Column('audience', sa.String(length=32), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=True),
    sa.Column('allocated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('allocated_by', sa.Integer(), nullable=True),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('released_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'],
                            name=op.f('fk_licence_allocations_assignment_id_assignments'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['person_pk'], ['persons.id'],
                            name=op.f('fk_licence_allocations_person_pk_persons'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'],
                            name=op.f('fk_licence_allocations_subscription_id_subscriptions'),
                            onupdate='CASCADE', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_licence_allocations'))
    )
    op.create_index(op.f('ix_licence_allocations_assignment_id'), 'licence_allocations',
                    ['assignment_id'], unique=False)
    op.create_index(op.f('ix_licence_allocations_person_pk'), 'licence_allocations',
                    ['person_pk'], unique=False)
    op.create_index('ix_licence_allocations_subscription_person', 'licence_allocations',
                    ['subscription_id', 'person_pk'], unique=False)


def _drop_licence_ledger() -> None:
    op.drop_index('ix_licence_allocations_subscription_person', table_name='licence_allocations')
    op.drop_index(op.f('ix_licence_allocations_person_pk'), table_name='licence_allocations')
    op.drop_index(op.f('ix_licence_allocations_assignment_id'), table_name='licence_allocations')
    op.drop_table('licence_allocations')
    with op.batch_alter_table('assignments') as batch:
        batch.drop_column('created_by')
