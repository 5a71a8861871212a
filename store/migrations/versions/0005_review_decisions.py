"""review decisions per change

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 00:15:00

A change is decided on its own (partial approval, reject --only), so it carries who decided,
when and why; the agent's value before a reviewer's edit; and the reference of the record a
create produced (a revert deletes it). A decided set remembers when its agent was told.
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('change') as batch:
        batch.add_column(sa.Column('reason', sa.Text(), nullable=True))
        batch.add_column(sa.Column('decided_by', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('asked', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('applied_ref', sa.String(length=40), nullable=True))
    with op.batch_alter_table('audit_entry') as batch:
        batch.add_column(sa.Column('op', sa.String(length=8), nullable=True))
    with op.batch_alter_table('change_set') as batch:
        batch.add_column(sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('notice_outbound_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_change_set_notice_outbound_id_outbound_message', 'outbound_message',
                                 ['notice_outbound_id'], ['id'])
    op.create_index('ix_change_set_status_created', 'change_set', ['status', 'created_at', 'id'])


def downgrade() -> None:
    op.drop_index('ix_change_set_status_created', table_name='change_set')
    with op.batch_alter_table('change_set') as batch:
        batch.drop_constraint('fk_change_set_notice_outbound_id_outbound_message', type_='foreignkey')
        batch.drop_column('notice_outbound_id')
        batch.drop_column('notified_at')
    with op.batch_alter_table('audit_entry') as batch:
        batch.drop_column('op')
    with op.batch_alter_table('change') as batch:
        batch.drop_column('applied_ref')
        batch.drop_column('asked')
        batch.drop_column('decided_at')
        batch.drop_column('decided_by')
        batch.drop_column('reason')
