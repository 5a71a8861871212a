"""prefecture circulars

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 09:00:00

One circular per préfecture and campaign (`mailbot circular send` is idempotent because the database
refuses a second row), pointing at the outbound message that carried it.
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('circular',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('prefecture_id', sa.Integer(), nullable=False),
    sa.Column('outbound_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_circular_campaign_id_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['prefecture_id'], ['prefecture.id'], name=op.f('fk_circular_prefecture_id_prefecture'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['outbound_id'], ['outbound_message.id'], name=op.f('fk_circular_outbound_id_outbound_message'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_circular')),
    sa.UniqueConstraint('campaign_id', 'prefecture_id', name=op.f('uq_circular_campaign_id_prefecture_id')),
    sa.UniqueConstraint('outbound_id', name=op.f('uq_circular_outbound_id')),
    )
    op.create_index(op.f('ix_circular_campaign_id'), 'circular', ['campaign_id'], unique=False)
    op.create_index(op.f('ix_circular_prefecture_id'), 'circular', ['prefecture_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_circular_prefecture_id'), table_name='circular')
    op.drop_index(op.f('ix_circular_campaign_id'), table_name='circular')
    op.drop_table('circular')
