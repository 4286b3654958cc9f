"""Initial schema: directory, catalogue, subscriptions, trust registry, flow state, audit.

Written from the models (autogenerate, then reviewed); ``tests/domain`` checks that after
``upgrade head`` the database and ``broker.models`` do not differ. The single ``audit_head``
row is created here so appends only ever lock it, never race to create it.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = '0' * 64  # prev_hash of the first audit record (broker.audit.GENESIS)


def upgrade() -> None:
    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last_id', sa.Integer(), nullable=True),
    sa.Column('last_hash', sa.String(length=64), nullable=False),
    sa.Column('anchor_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head'))
    )
    op.create_table('audit_records',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('person_pk', sa.Integer(), nullable=True),
    sa.Column('provider_entity_id', sa.String(length=1024), nullable=True),
    sa.Column('resource_id', sa.String(length=255), nullable=True),
    sa.Column('uai', sa.String(length=255), nullable=True),
    sa.Column('profile', sa.String(length=32), nullable=True),
    sa.Column('protocol', sa.String(length=16), nullable=False),
    sa.Column('decision', sa.String(length=8), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('basis', sa.JSON(), nullable=True),
    sa.Column('released_codes', sa.JSON(), nullable=False),
    sa.Column('values_digest', sa.String(length=64), nullable=True),
    sa.Column('assertion_id', sa.String(length=256), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_records'))
    )
    op.create_index(op.f('ix_audit_records_at'), 'audit_records', ['at'], unique=False)
    op.create_index(op.f('ix_audit_records_person_pk'), 'audit_records', ['person_pk'], unique=False)
    op.create_table('consumed_assertions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('issuer', sa.String(length=1024), nullable=False),
    sa.Column('assertion_id', sa.String(length=256), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consumed_assertions')),
    sa.UniqueConstraint('issuer', 'assertion_id', name=op.f('uq_consumed_assertions_issuer_assertion_id'))
    )
    op.create_index(op.f('ix_consumed_assertions_expires_at'), 'consumed_assertions', ['expires_at'], unique=False)
    op.create_table('establishments',
    sa.Column('uai', sa.String(length=45), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=True),
    sa.Column('academy', sa.String(length=64), nullable=True),
    sa.Column('city', sa.String(length=255), nullable=True),
    sa.Column('ent_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('uai', name=op.f('pk_establishments'))
    )
    op.create_table('login_states',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('flow', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('consumed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sp_entity_id', sa.String(length=1024), nullable=True),
    sa.Column('sp_request_id', sa.String(length=256), nullable=True),
    sa.Column('acs_url', sa.String(length=2048), nullable=False),
    sa.Column('relay_state', sa.String(length=2048), nullable=True),
    sa.Column('resource_id', sa.String(length=255), nullable=True),
    sa.Column('uai', sa.String(length=45), nullable=True),
    sa.Column('idp_entity_id', sa.String(length=1024), nullable=True),
    sa.Column('upstream_request_id', sa.String(length=256), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_states')),
    sa.UniqueConstraint('upstream_request_id', name=op.f('uq_login_states_upstream_request_id'))
    )
    op.create_index(op.f('ix_login_states_expires_at'), 'login_states', ['expires_at'], unique=False)
    op.create_table('peers',
    sa.Column('entity_id', sa.String(length=1024), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('metadata_xml', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=2048), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('allow_sha1', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.PrimaryKeyConstraint('entity_id', name=op.f('pk_peers'))
    )
    op.create_table('persons',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('person_id', sa.String(length=64), nullable=False),
    sa.Column('ent_id', sa.String(length=64), nullable=False),
    sa.Column('join_key', sa.String(length=64), nullable=True),
    sa.Column('last_name', sa.String(length=500), nullable=False),
    sa.Column('first_name', sa.String(length=500), nullable=False),
    sa.Column('civility', sa.String(length=8), nullable=True),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('ine', sa.String(length=16), nullable=True),
    sa.Column('emails', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_persons')),
    sa.UniqueConstraint('join_key', name=op.f('uq_persons_join_key')),
    sa.UniqueConstraint('person_id', name=op.f('uq_persons_person_id'))
    )
    op.create_index(op.f('ix_persons_ent_id'), 'persons', ['ent_id'], unique=False)
    op.create_table('providers',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('entity_id', sa.String(length=1024), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('distributor_id', sa.String(length=26), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_providers')),
    sa.UniqueConstraint('entity_id', name=op.f('uq_providers_entity_id'))
    )
    op.create_index(op.f('ix_providers_distributor_id'), 'providers', ['distributor_id'], unique=False)
    op.create_table('groups',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('uai', sa.String(length=45), nullable=False),
    sa.Column('code', sa.String(length=255), nullable=False),
    sa.Column('label', sa.String(length=500), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('divisions', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['uai'], ['establishments.uai'], name=op.f('fk_groups_uai_establishments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_groups')),
    sa.UniqueConstraint('uai', 'code', name=op.f('uq_groups_uai_code'))
    )
    op.create_table('mefs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('uai', sa.String(length=45), nullable=False),
    sa.Column('code', sa.String(length=11), nullable=False),
    sa.Column('label', sa.String(length=500), nullable=False),
    sa.Column('mefstat4', sa.String(length=4), nullable=True),
    sa.ForeignKeyConstraint(['uai'], ['establishments.uai'], name=op.f('fk_mefs_uai_establishments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mefs')),
    sa.UniqueConstraint('uai', 'code', name=op.f('uq_mefs_uai_code'))
    )
    op.create_table('person_disciplines',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('person_pk', sa.Integer(), nullable=False),
    sa.Column('uai', sa.String(length=45), nullable=False),
    sa.Column('code', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['person_pk'], ['persons.id'], name=op.f('fk_person_disciplines_person_pk_persons'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uai'], ['establishments.uai'], name=op.f('fk_person_disciplines_uai_establishments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_person_disciplines')),
    sa.UniqueConstraint('person_pk', 'uai', 'code', name=op.f('uq_person_disciplines_person_pk_uai_code'))
    )
    op.create_index(op.f('ix_person_disciplines_uai'), 'person_disciplines', ['uai'], unique=False)
    op.create_table('person_levels',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('person_pk', sa.Integer(), nullable=False),
    sa.Column('uai', sa.String(length=45), nullable=False),
    sa.Column('mefstat4', sa.String(length=4), nullable=False),
    sa.ForeignKeyConstraint(['person_pk'], ['persons.id'], name=op.f('fk_person_levels_person_pk_persons'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uai'], ['establishments.uai'], name=op.f('fk_person_levels_uai_establishments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_person_levels')),
    sa.UniqueConstraint('person_pk', 'uai', 'mefstat4', name=op.f('uq_person_levels_person_pk_uai_mefstat4'))
    )
    op.create_index(op.f('ix_person_levels_uai'), 'person_levels', ['uai'], unique=False)
    op.create_table('person_profiles',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('person_pk', sa.Integer(), nullable=False),
    sa.Column('uai', sa.String(length=45), nullable=False),
    sa.Column('profile', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['person_pk'], ['persons.id'], name=op.f('fk_person_profiles_person_pk_persons'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uai'], ['establishments.uai'], name=op.f('fk_person_profiles_uai_establishments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_person_profiles')),
    sa.UniqueConstraint('person_pk', 'uai', name=op.f('uq_person_profiles_person_pk_uai'))
    )
    op.create_index(op.f('ix_person_profiles_uai'), 'person_profiles', ['uai'], unique=False)
    op.create_table('resources',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('provider_id', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('editor_id', sa.String(length=26), nullable=False),
    sa.Column('editor_name', sa.String(length=500), nullable=False),
    sa.Column('access_url', sa.String(length=2048), nullable=False),
    sa.Column('protocol', sa.String(length=16), nullable=False),
    sa.Column('delivery', sa.String(length=16), nullable=False),
    sa.Column('presentation', sa.String(length=8), nullable=True),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_resources_provider_id_providers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resources'))
    )
    op.create_index(op.f('ix_resources_provider_id'), 'resources', ['provider_id'], unique=False)
    op.create_table('respaff',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('person_pk', sa.Integer(), nullable=False),
    sa.Column('uai', sa.String(length=45), nullable=False),
    sa.Column('role', sa.String(length=8), nullable=False),
    sa.ForeignKeyConstraint(['person_pk'], ['persons.id'], name=op.f('fk_respaff_person_pk_persons'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uai'], ['establishments.uai'], name=op.f('fk_respaff_uai_establishments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_respaff')),
    sa.UniqueConstraint('person_pk', 'uai', name=op.f('uq_respaff_person_pk_uai'))
    )
    op.create_index(op.f('ix_respaff_uai'), 'respaff', ['uai'], unique=False)
    op.create_table('subjects',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('uai', sa.String(length=45), nullable=False),
    sa.Column('code', sa.String(length=255), nullable=False),
    sa.Column('label', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['uai'], ['establishments.uai'], name=op.f('fk_subjects_uai_establishments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subjects')),
    sa.UniqueConstraint('uai', 'code', name=op.f('uq_subjects_uai_code'))
    )
    op.create_table('group_members',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('person_pk', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_group_members_group_id_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_pk'], ['persons.id'], name=op.f('fk_group_members_person_pk_persons'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_group_members')),
    sa.UniqueConstraint('group_id', 'person_pk', name=op.f('uq_group_members_group_id_person_pk'))
    )
    op.create_index(op.f('ix_group_members_person_pk'), 'group_members', ['person_pk'], unique=False)
    op.create_table('person_mefs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('person_pk', sa.Integer(), nullable=False),
    sa.Column('mef_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['mef_id'], ['mefs.id'], name=op.f('fk_person_mefs_mef_id_mefs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_pk'], ['persons.id'], name=op.f('fk_person_mefs_person_pk_persons'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_person_mefs')),
    sa.UniqueConstraint('person_pk', 'mef_id', name=op.f('uq_person_mefs_person_pk_mef_id'))
    )
    op.create_index(op.f('ix_person_mefs_mef_id'), 'person_mefs', ['mef_id'], unique=False)
    op.create_table('person_subjects',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('person_pk', sa.Integer(), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['person_pk'], ['persons.id'], name=op.f('fk_person_subjects_person_pk_persons'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_person_subjects_subject_id_subjects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_person_subjects')),
    sa.UniqueConstraint('person_pk', 'subject_id', name=op.f('uq_person_subjects_person_pk_subject_id'))
    )
    op.create_index(op.f('ix_person_subjects_subject_id'), 'person_subjects', ['subject_id'], unique=False)
    op.create_table('resource_attributes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('resource_id', sa.String(length=255), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('purpose', sa.String(length=1000), nullable=False),
    sa.ForeignKeyConstraint(['resource_id'], ['resources.id'], name=op.f('fk_resource_attributes_resource_id_resources'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resource_attributes')),
    sa.UniqueConstraint('resource_id', 'code', name=op.f('uq_resource_attributes_resource_id_code'))
    )
    op.create_table('subscriptions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('resource_id', sa.String(length=255), nullable=False),
    sa.Column('uai', sa.String(length=45), nullable=False),
    sa.Column('distributor_id', sa.String(length=26), nullable=False),
    sa.Column('comment', sa.String(length=255), nullable=True),
    sa.Column('resource_label', sa.String(length=500), nullable=True),
    sa.Column('start_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('end_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('type', sa.String(length=8), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('audience', sa.JSON(), nullable=False),
    sa.Column('licences_global', sa.Integer(), nullable=True),
    sa.Column('licences_unlimited', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('licences_student', sa.Integer(), nullable=True),
    sa.Column('licences_teacher', sa.Integer(), nullable=True),
    sa.Column('licences_librarian', sa.Integer(), nullable=True),
    sa.Column('licences_other', sa.Integer(), nullable=True),
    sa.Column('project_code', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deleted', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.ForeignKeyConstraint(['resource_id'], ['resources.id'], name=op.f('fk_subscriptions_resource_id_resources')),
    sa.ForeignKeyConstraint(['uai'], ['establishments.uai'], name=op.f('fk_subscriptions_uai_establishments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriptions'))
    )
    op.create_index('ix_subscriptions_resource_uai', 'subscriptions', ['resource_id', 'uai'], unique=False)
    op.create_index(op.f('ix_subscriptions_uai'), 'subscriptions', ['uai'], unique=False)
    op.bulk_insert(
        sa.table('audit_head', sa.column('id', sa.Integer()), sa.column('last_id', sa.Integer()),
                 sa.column('last_hash', sa.String()), sa.column('anchor_hash', sa.String())),
        [{'id': 1, 'last_id': None, 'last_hash': GENESIS, 'anchor_hash': GENESIS}],
    )
    op.create_table('assignments',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('subscription_id', sa.String(length=64), nullable=False),
    sa.Column('target_kind', sa.String(length=16), nullable=False),
    sa.Column('target_value', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_assignments_subscription_id_subscriptions'), onupdate='CASCADE', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignments')),
    sa.UniqueConstraint('subscription_id', 'target_kind', 'target_value', name=op.f('uq_assignments_subscription_id_target_kind_target_value'))
    )


def downgrade() -> None:
    op.drop_table('assignments')
    op.drop_index(op.f('ix_subscriptions_uai'), table_name='subscriptions')
    op.drop_index('ix_subscriptions_resource_uai', table_name='subscriptions')
    op.drop_table('subscriptions')
    op.drop_table('resource_attributes')
    op.drop_index(op.f('ix_person_subjects_subject_id'), table_name='person_subjects')
    op.drop_table('person_subjects')
    op.drop_index(op.f('ix_person_mefs_mef_id'), table_name='person_mefs')
    op.drop_table('person_mefs')
    op.drop_index(op.f('ix_group_members_person_pk'), table_name='group_members')
    op.drop_table('group_members')
    op.drop_table('subjects')
    op.drop_index(op.f('ix_respaff_uai'), table_name='respaff')
    op.drop_table('respaff')
    op.drop_index(op.f('ix_resources_provider_id'), table_name='resources')
    op.drop_table('resources')
    op.drop_index(op.f('ix_person_profiles_uai'), table_name='person_profiles')
    op.drop_table('person_profiles')
    op.drop_index(op.f('ix_person_levels_uai'), table_name='person_levels')
    op.drop_table('person_levels')
    op.drop_index(op.f('ix_person_disciplines_uai'), table_name='person_disciplines')
    op.drop_table('person_disciplines')
    op.drop_table('mefs')
    op.drop_table('groups')
    op.drop_index(op.f('ix_providers_distributor_id'), table_name='providers')
    op.drop_table('providers')
    op.drop_index(op.f('ix_persons_ent_id'), table_name='persons')
    op.drop_table('persons')
    op.drop_table('peers')
    op.drop_index(op.f('ix_login_states_expires_at'), table_name='login_states')
    op.drop_table('login_states')
    op.drop_table('establishments')
    op.drop_index(op.f('ix_consumed_assertions_expires_at'), table_name='consumed_assertions')
    op.drop_table('consumed_assertions')
    op.drop_index(op.f('ix_audit_records_person_pk'), table_name='audit_records')
    op.drop_index(op.f('ix_audit_records_at'), table_name='audit_records')
    op.drop_table('audit_records')
    op.drop_table('audit_head')
