"""conversation and attachments

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 00:30:00

Replies to our messages become change sets of kind `message` (what they follow up in `answers_id`);
reviewers' answers to agents are kept (`reviewer_reply`); the files attached to inbound messages are
kept with them (`inbound_attachment`).
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('change_set') as batch:
        batch.add_column(sa.Column('kind', sa.String(length=12), server_default='changes', nullable=False))
        batch.add_column(sa.Column('answers_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_change_set_answers_id_change_set', 'change_set', ['answers_id'], ['id'])
        batch.create_index('ix_change_set_answers_id', ['answers_id'], unique=False)
    op.create_table('inbound_attachment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inbound_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('detected_type', sa.String(length=100), nullable=True),
    sa.Column('category', sa.String(length=12), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=True),
    sa.Column('danger', sa.Text(), nullable=True),
    sa.Column('dangerous', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['inbound_id'], ['inbound_message.id'], name=op.f('fk_inbound_attachment_inbound_id_inbound_message'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_attachment')),
    )
    op.create_index(op.f('ix_inbound_attachment_inbound_id'), 'inbound_attachment', ['inbound_id'], unique=False)
    op.create_table('reviewer_reply',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('changeset_id', sa.Integer(), nullable=False),
    sa.Column('collectivite_id', sa.Integer(), nullable=False),
    sa.Column('outbound_id', sa.Integer(), nullable=False),
    sa.Column('reviewer', sa.String(length=100), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['changeset_id'], ['change_set.id'], name=op.f('fk_reviewer_reply_changeset_id_change_set'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['collectivite_id'], ['collectivite.id'], name=op.f('fk_reviewer_reply_collectivite_id_collectivite')),
    sa.ForeignKeyConstraint(['outbound_id'], ['outbound_message.id'], name=op.f('fk_reviewer_reply_outbound_id_outbound_message')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reviewer_reply')),
    sa.UniqueConstraint('outbound_id', name=op.f('uq_reviewer_reply_outbound_id')),
    )
    op.create_index(op.f('ix_reviewer_reply_changeset_id'), 'reviewer_reply', ['changeset_id'], unique=False)
    op.create_index(op.f('ix_reviewer_reply_collectivite_id'), 'reviewer_reply', ['collectivite_id'], unique=False)
    op.create_index(op.f('ix_reviewer_reply_created_at'), 'reviewer_reply', ['created_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_reviewer_reply_created_at'), table_name='reviewer_reply')
    op.drop_index(op.f('ix_reviewer_reply_collectivite_id'), table_name='reviewer_reply')
    op.drop_index(op.f('ix_reviewer_reply_changeset_id'), table_name='reviewer_reply')
    op.drop_table('reviewer_reply')
    op.drop_index(op.f('ix_inbound_attachment_inbound_id'), table_name='inbound_attachment')
    op.drop_table('inbound_attachment')
    with op.batch_alter_table('change_set') as batch:
        batch.drop_index('ix_change_set_answers_id')
        batch.drop_constraint('fk_change_set_answers_id_change_set', type_='foreignkey')
        batch.drop_column('answers_id')
        batch.drop_column('kind')
