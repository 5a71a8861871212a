"""campaigns and outbox

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 20:31:36.555506
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('campaign',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('rules_path', sa.String(length=500), nullable=False),
    sa.Column('rules_text', sa.Text(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('apd_editable_year', sa.Integer(), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign')),
    sa.UniqueConstraint('name', name=op.f('uq_campaign_name'))
    )
    op.create_table('outbound_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('collectivite_id', sa.Integer(), nullable=True),
    sa.Column('token', sa.String(length=40), nullable=True),
    sa.Column('message_id', sa.String(length=250), nullable=False),
    sa.Column('in_reply_to', sa.String(length=250), nullable=True),
    sa.Column('subject', sa.String(length=500), nullable=False),
    sa.Column('recipients', sa.JSON(), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_outbound_message_campaign_id_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['collectivite_id'], ['collectivite.id'], name=op.f('fk_outbound_message_collectivite_id_collectivite')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbound_message')),
    sa.UniqueConstraint('message_id', name=op.f('uq_outbound_message_message_id'))
    )
    with op.batch_alter_table('outbound_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbound_message_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbound_message_collectivite_id'), ['collectivite_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbound_message_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbound_message_token'), ['token'], unique=False)

    op.create_table('campaign_target',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('collectivite_id', sa.Integer(), nullable=False),
    sa.Column('summary_id', sa.Integer(), nullable=True),
    sa.Column('unreachable', sa.Boolean(), nullable=False),
    sa.Column('replied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reminders_sent', sa.Integer(), nullable=False),
    sa.Column('last_reminder_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_campaign_target_campaign_id_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['collectivite_id'], ['collectivite.id'], name=op.f('fk_campaign_target_collectivite_id_collectivite'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['summary_id'], ['outbound_message.id'], name=op.f('fk_campaign_target_summary_id_outbound_message')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_target')),
    sa.UniqueConstraint('campaign_id', 'collectivite_id', name=op.f('uq_campaign_target_campaign_id_collectivite_id'))
    )
    with op.batch_alter_table('campaign_target', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_target_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_campaign_target_collectivite_id'), ['collectivite_id'], unique=False)

    op.create_table('delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('outbound_id', sa.Integer(), nullable=False),
    sa.Column('recipient', sa.String(length=254), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('smtp_code', sa.Integer(), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('bounced_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['contact_id'], ['contact.id'], name=op.f('fk_delivery_contact_id_contact'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['outbound_id'], ['outbound_message.id'], name=op.f('fk_delivery_outbound_id_outbound_message'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery')),
    sa.UniqueConstraint('outbound_id', 'recipient', name=op.f('uq_delivery_outbound_id_recipient'))
    )
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivery_next_attempt_at'), ['next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_delivery_outbound_id'), ['outbound_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_delivery_recipient'), ['recipient'], unique=False)
        batch_op.create_index(batch_op.f('ix_delivery_state'), ['state'], unique=False)

    op.create_table('reminder_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('collectivite_id', sa.Integer(), nullable=False),
    sa.Column('outbound_id', sa.Integer(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('missing', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_reminder_log_campaign_id_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['collectivite_id'], ['collectivite.id'], name=op.f('fk_reminder_log_collectivite_id_collectivite')),
    sa.ForeignKeyConstraint(['outbound_id'], ['outbound_message.id'], name=op.f('fk_reminder_log_outbound_id_outbound_message'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reminder_log'))
    )
    with op.batch_alter_table('reminder_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reminder_log_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reminder_log_collectivite_id'), ['collectivite_id'], unique=False)

    op.create_table('snapshot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('outbound_id', sa.Integer(), nullable=False),
    sa.Column('collectivite_id', sa.Integer(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['collectivite_id'], ['collectivite.id'], name=op.f('fk_snapshot_collectivite_id_collectivite')),
    sa.ForeignKeyConstraint(['outbound_id'], ['outbound_message.id'], name=op.f('fk_snapshot_outbound_id_outbound_message'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_snapshot')),
    sa.UniqueConstraint('outbound_id', name=op.f('uq_snapshot_outbound_id'))
    )
    with op.batch_alter_table('snapshot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_snapshot_collectivite_id'), ['collectivite_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('snapshot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_snapshot_collectivite_id'))

    op.drop_table('snapshot')
    with op.batch_alter_table('reminder_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reminder_log_collectivite_id'))
        batch_op.drop_index(batch_op.f('ix_reminder_log_campaign_id'))

    op.drop_table('reminder_log')
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delivery_state'))
        batch_op.drop_index(batch_op.f('ix_delivery_recipient'))
        batch_op.drop_index(batch_op.f('ix_delivery_outbound_id'))
        batch_op.drop_index(batch_op.f('ix_delivery_next_attempt_at'))

    op.drop_table('delivery')
    with op.batch_alter_table('campaign_target', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_target_collectivite_id'))
        batch_op.drop_index(batch_op.f('ix_campaign_target_campaign_id'))

    op.drop_table('campaign_target')
    with op.batch_alter_table('outbound_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbound_message_token'))
        batch_op.drop_index(batch_op.f('ix_outbound_message_kind'))
        batch_op.drop_index(batch_op.f('ix_outbound_message_collectivite_id'))
        batch_op.drop_index(batch_op.f('ix_outbound_message_campaign_id'))

    op.drop_table('outbound_message')
    op.drop_table('campaign')
