"""review guards: superseded sets linked to their replacement, competing changes found by record

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 00:40:00

A later reply of the same sender to the same form supersedes only that sender's earlier pending
set, and says which set replaced it (`superseded_by_id`), so a superseded set stays reachable from
both sides. Replies of different senders stay pending side by side: their changes to the same
record are found by (entity, ref), hence the index.
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('change_set') as batch:
        batch.add_column(sa.Column('superseded_by_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_change_set_superseded_by_id_change_set', 'change_set',
                                 ['superseded_by_id'], ['id'])
        batch.create_index('ix_change_set_superseded_by_id', ['superseded_by_id'], unique=False)
    op.create_index('ix_change_entity_ref', 'change', ['entity', 'ref'])


def downgrade() -> None:
    op.drop_index('ix_change_entity_ref', table_name='change')
    with op.batch_alter_table('change_set') as batch:
        batch.drop_index('ix_change_set_superseded_by_id')
        batch.drop_constraint('fk_change_set_superseded_by_id_change_set', type_='foreignkey')
        batch.drop_column('superseded_by_id')
