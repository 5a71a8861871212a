"""inbound queue, answer log, imap state

Inbound messages (raw bytes, envelope, dedupe key, queue state, classification and routing outcome),
the log of automatic answers (per-address daily limits) and the IMAP UID state per folder and UIDVALIDITY.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 21:08:12.103843
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('imap_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mailbox', sa.String(length=500), nullable=False),
    sa.Column('uidvalidity', sa.BigInteger(), nullable=False),
    sa.Column('last_uid', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_imap_state')),
    sa.UniqueConstraint('mailbox', 'uidvalidity', name=op.f('uq_imap_state_mailbox_uidvalidity'))
    )
    op.create_table('inbound_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('envelope_from', sa.String(length=998), nullable=False),
    sa.Column('envelope_to', sa.JSON(), nullable=False),
    sa.Column('peer', sa.String(length=100), nullable=True),
    sa.Column('imap_ref', sa.String(length=500), nullable=True),
    sa.Column('message_id', sa.String(length=500), nullable=True),
    sa.Column('content_sha256', sa.String(length=64), nullable=False),
    sa.Column('dedupe_key', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.Column('subject', sa.String(length=998), nullable=True),
    sa.Column('from_header', sa.String(length=998), nullable=True),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=True),
    sa.Column('sender', sa.String(length=998), nullable=False),
    sa.Column('collectivite_id', sa.Integer(), nullable=True),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('answered_outbound_id', sa.Integer(), nullable=True),
    sa.Column('response_outbound_id', sa.Integer(), nullable=True),
    sa.Column('trusted', sa.Boolean(), nullable=True),
    sa.Column('flag', sa.String(length=100), nullable=True),
    sa.Column('parse_state', sa.String(length=12), nullable=True),
    sa.ForeignKeyConstraint(['answered_outbound_id'], ['outbound_message.id'], name=op.f('fk_inbound_message_answered_outbound_id_outbound_message')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_inbound_message_campaign_id_campaign'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['collectivite_id'], ['collectivite.id'], name=op.f('fk_inbound_message_collectivite_id_collectivite')),
    sa.ForeignKeyConstraint(['response_outbound_id'], ['outbound_message.id'], name=op.f('fk_inbound_message_response_outbound_id_outbound_message')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_message')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_inbound_message_dedupe_key'))
    )
    with op.batch_alter_table('inbound_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbound_message_answered_outbound_id'), ['answered_outbound_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inbound_message_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inbound_message_collectivite_id'), ['collectivite_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inbound_message_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_inbound_message_message_id'), ['message_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inbound_message_parse_state'), ['parse_state'], unique=False)
        batch_op.create_index(batch_op.f('ix_inbound_message_received_at'), ['received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_inbound_message_state'), ['state'], unique=False)

    op.create_table('answer_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=998), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('inbound_id', sa.Integer(), nullable=True),
    sa.Column('outbound_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['inbound_id'], ['inbound_message.id'], name=op.f('fk_answer_log_inbound_id_inbound_message'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['outbound_id'], ['outbound_message.id'], name=op.f('fk_answer_log_outbound_id_outbound_message'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_answer_log'))
    )
    with op.batch_alter_table('answer_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_answer_log_address'), ['address'], unique=False)
        batch_op.create_index(batch_op.f('ix_answer_log_day'), ['day'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('answer_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_answer_log_day'))
        batch_op.drop_index(batch_op.f('ix_answer_log_address'))

    op.drop_table('answer_log')
    with op.batch_alter_table('inbound_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbound_message_state'))
        batch_op.drop_index(batch_op.f('ix_inbound_message_received_at'))
        batch_op.drop_index(batch_op.f('ix_inbound_message_parse_state'))
        batch_op.drop_index(batch_op.f('ix_inbound_message_message_id'))
        batch_op.drop_index(batch_op.f('ix_inbound_message_kind'))
        batch_op.drop_index(batch_op.f('ix_inbound_message_collectivite_id'))
        batch_op.drop_index(batch_op.f('ix_inbound_message_campaign_id'))
        batch_op.drop_index(batch_op.f('ix_inbound_message_answered_outbound_id'))

    op.drop_table('inbound_message')
    op.drop_table('imap_state')
