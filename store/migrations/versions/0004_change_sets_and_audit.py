"""change sets and audit

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 21:12:23.414244
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('change_set',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('collectivite_id', sa.Integer(), nullable=False),
    sa.Column('outbound_id', sa.Integer(), nullable=True),
    sa.Column('inbound_id', sa.Integer(), nullable=True),
    sa.Column('thread_key', sa.String(length=100), nullable=False),
    sa.Column('sender', sa.String(length=254), nullable=False),
    sa.Column('trusted', sa.Boolean(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('has_errors', sa.Boolean(), nullable=False),
    sa.Column('has_conflicts', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=100), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('reverts_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_change_set_campaign_id_campaign'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['collectivite_id'], ['collectivite.id'], name=op.f('fk_change_set_collectivite_id_collectivite')),
    sa.ForeignKeyConstraint(['inbound_id'], ['inbound_message.id'], name=op.f('fk_change_set_inbound_id_inbound_message')),
    sa.ForeignKeyConstraint(['outbound_id'], ['outbound_message.id'], name=op.f('fk_change_set_outbound_id_outbound_message')),
    sa.ForeignKeyConstraint(['reverts_id'], ['change_set.id'], name=op.f('fk_change_set_reverts_id_change_set')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_change_set'))
    )
    with op.batch_alter_table('change_set', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_change_set_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_change_set_collectivite_id'), ['collectivite_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_change_set_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_change_set_has_conflicts'), ['has_conflicts'], unique=False)
        batch_op.create_index(batch_op.f('ix_change_set_has_errors'), ['has_errors'], unique=False)
        batch_op.create_index(batch_op.f('ix_change_set_inbound_id'), ['inbound_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_change_set_outbound_id'), ['outbound_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_change_set_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_change_set_thread_key'), ['thread_key'], unique=False)

    op.create_table('change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('changeset_id', sa.Integer(), nullable=False),
    sa.Column('op', sa.String(length=8), nullable=False),
    sa.Column('entity', sa.String(length=12), nullable=False),
    sa.Column('ref', sa.String(length=40), nullable=False),
    sa.Column('parent_ref', sa.String(length=40), nullable=True),
    sa.Column('field', sa.String(length=40), nullable=True),
    sa.Column('old', sa.JSON(), nullable=True),
    sa.Column('new', sa.JSON(), nullable=True),
    sa.Column('base_version', sa.Integer(), nullable=True),
    sa.Column('errors', sa.JSON(), nullable=False),
    sa.Column('matches', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('edited_by', sa.String(length=100), nullable=True),
    sa.Column('current', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['changeset_id'], ['change_set.id'], name=op.f('fk_change_changeset_id_change_set'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_change'))
    )
    with op.batch_alter_table('change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_change_changeset_id'), ['changeset_id'], unique=False)

    op.create_table('audit_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reviewer', sa.String(length=100), nullable=False),
    sa.Column('changeset_id', sa.Integer(), nullable=False),
    sa.Column('change_id', sa.Integer(), nullable=True),
    sa.Column('collectivite_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=250), nullable=True),
    sa.Column('entity', sa.String(length=12), nullable=False),
    sa.Column('ref', sa.String(length=40), nullable=False),
    sa.Column('field', sa.String(length=40), nullable=True),
    sa.Column('old', sa.JSON(), nullable=True),
    sa.Column('new', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['change_id'], ['change.id'], name=op.f('fk_audit_entry_change_id_change')),
    sa.ForeignKeyConstraint(['changeset_id'], ['change_set.id'], name=op.f('fk_audit_entry_changeset_id_change_set')),
    sa.ForeignKeyConstraint(['collectivite_id'], ['collectivite.id'], name=op.f('fk_audit_entry_collectivite_id_collectivite')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entry'))
    )
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_entry_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_entry_changeset_id'), ['changeset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_entry_collectivite_id'), ['collectivite_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_entry_collectivite_id'))
        batch_op.drop_index(batch_op.f('ix_audit_entry_changeset_id'))
        batch_op.drop_index(batch_op.f('ix_audit_entry_at'))

    op.drop_table('audit_entry')
    with op.batch_alter_table('change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_change_changeset_id'))

    op.drop_table('change')
    with op.batch_alter_table('change_set', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_change_set_thread_key'))
        batch_op.drop_index(batch_op.f('ix_change_set_status'))
        batch_op.drop_index(batch_op.f('ix_change_set_outbound_id'))
        batch_op.drop_index(batch_op.f('ix_change_set_inbound_id'))
        batch_op.drop_index(batch_op.f('ix_change_set_has_errors'))
        batch_op.drop_index(batch_op.f('ix_change_set_has_conflicts'))
        batch_op.drop_index(batch_op.f('ix_change_set_created_at'))
        batch_op.drop_index(batch_op.f('ix_change_set_collectivite_id'))
        batch_op.drop_index(batch_op.f('ix_change_set_campaign_id'))

    op.drop_table('change_set')
