"""leases and uncertain deliveries

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 00:30:00

Claims name their owner (`claimed_by`, see `mailbot.leases`) so that the claims of a process that is
gone are released while the others run; a delivery whose final dot may have reached the relay
without its answer reaching us is `inflight`, and stays marked `uncertain` once retried.
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('delivery') as batch:
        batch.add_column(sa.Column('claimed_by', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('uncertain', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('inbound_message') as batch:
        batch.add_column(sa.Column('claimed_by', sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('inbound_message') as batch:
        batch.drop_column('claimed_by')
    with op.batch_alter_table('delivery') as batch:
        batch.drop_column('uncertain')
        batch.drop_column('claimed_by')
