"""atlas foundation

Revision ID: 0001
Revises: 
Create Date: 2026-11-26 20:27:51.248374
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('collectivite',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('insee', sa.String(length=9), nullable=False),
    sa.Column('siren', sa.String(length=9), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('epci_type', sa.String(length=8), nullable=True),
    sa.Column('departement', sa.String(length=3), nullable=True),
    sa.Column('region', sa.String(length=3), nullable=True),
    sa.Column('population', sa.Integer(), nullable=True),
    sa.Column('zone', sa.String(length=5), nullable=True),
    sa.Column('in_atlas', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_collectivite')),
    sa.UniqueConstraint('code', name=op.f('uq_collectivite_code'))
    )
    with op.batch_alter_table('collectivite', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_collectivite_departement'), ['departement'], unique=False)
        batch_op.create_index(batch_op.f('ix_collectivite_in_atlas'), ['in_atlas'], unique=False)
        batch_op.create_index(batch_op.f('ix_collectivite_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_collectivite_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_collectivite_region'), ['region'], unique=False)
        batch_op.create_index(batch_op.f('ix_collectivite_siren'), ['siren'], unique=False)

    op.create_table('country',
    sa.Column('code', sa.String(length=2), nullable=False),
    sa.Column('name_fr', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_country'))
    )
    op.create_table('network',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('acronym', sa.String(length=40), nullable=True),
    sa.Column('scope', sa.String(length=20), nullable=False),
    sa.Column('region', sa.String(length=3), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_network')),
    sa.UniqueConstraint('code', name=op.f('uq_network_code'))
    )
    op.create_table('prefecture',
    sa.Column('departement', sa.String(length=3), nullable=False),
    sa.Column('region', sa.String(length=3), nullable=False),
    sa.Column('is_region_seat', sa.Boolean(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('address', sa.Text(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ref', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prefecture')),
    sa.UniqueConstraint('departement', name=op.f('uq_prefecture_departement')),
    sa.UniqueConstraint('ref', name=op.f('uq_prefecture_ref'))
    )
    with op.batch_alter_table('prefecture', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_prefecture_region'), ['region'], unique=False)

    op.create_table('theme',
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('label', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_theme'))
    )
    op.create_table('apd_amount',
    sa.Column('collectivite_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('document_name', sa.String(length=255), nullable=True),
    sa.Column('document_type', sa.String(length=100), nullable=True),
    sa.Column('document', sa.LargeBinary(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ref', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['collectivite_id'], ['collectivite.id'], name=op.f('fk_apd_amount_collectivite_id_collectivite'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_apd_amount')),
    sa.UniqueConstraint('collectivite_id', 'year', name=op.f('uq_apd_amount_collectivite_id_year')),
    sa.UniqueConstraint('ref', name=op.f('uq_apd_amount_ref'))
    )
    with op.batch_alter_table('apd_amount', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_apd_amount_collectivite_id'), ['collectivite_id'], unique=False)

    op.create_table('contact',
    sa.Column('collectivite_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=8), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('email_state', sa.String(length=10), nullable=False),
    sa.Column('email_state_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('email_state_reason', sa.Text(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ref', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['collectivite_id'], ['collectivite.id'], name=op.f('fk_contact_collectivite_id_collectivite'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact')),
    sa.UniqueConstraint('ref', name=op.f('uq_contact_ref'))
    )
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_collectivite_id'), ['collectivite_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_contact_email'), ['email'], unique=False)

    op.create_table('membership',
    sa.Column('collectivite_id', sa.Integer(), nullable=False),
    sa.Column('network_id', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ref', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['collectivite_id'], ['collectivite.id'], name=op.f('fk_membership_collectivite_id_collectivite'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['network_id'], ['network.id'], name=op.f('fk_membership_network_id_network')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_membership')),
    sa.UniqueConstraint('collectivite_id', 'network_id', name=op.f('uq_membership_collectivite_id_network_id')),
    sa.UniqueConstraint('ref', name=op.f('uq_membership_ref'))
    )
    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_membership_collectivite_id'), ['collectivite_id'], unique=False)

    op.create_table('partner',
    sa.Column('country_code', sa.String(length=2), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ref', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['country_code'], ['country.code'], name=op.f('fk_partner_country_code_country')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partner')),
    sa.UniqueConstraint('country_code', 'name', name=op.f('uq_partner_country_code_name')),
    sa.UniqueConstraint('ref', name=op.f('uq_partner_ref'))
    )
    with op.batch_alter_table('partner', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_partner_country_code'), ['country_code'], unique=False)

    op.create_table('cooperation',
    sa.Column('collectivite_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('country_code', sa.String(length=2), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=True),
    sa.Column('twinning', sa.Boolean(), nullable=False),
    sa.Column('since_year', sa.Integer(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ref', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['collectivite_id'], ['collectivite.id'], name=op.f('fk_cooperation_collectivite_id_collectivite'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['country_code'], ['country.code'], name=op.f('fk_cooperation_country_code_country')),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], name=op.f('fk_cooperation_partner_id_partner')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cooperation')),
    sa.UniqueConstraint('ref', name=op.f('uq_cooperation_ref'))
    )
    with op.batch_alter_table('cooperation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cooperation_collectivite_id'), ['collectivite_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cooperation_country_code'), ['country_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_cooperation_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_cooperation_partner_id'), ['partner_id'], unique=False)

    op.create_table('project',
    sa.Column('cooperation_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('status_year', sa.Integer(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('start_year', sa.Integer(), nullable=True),
    sa.Column('end_year', sa.Integer(), nullable=True),
    sa.Column('budget', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('operators', sa.Text(), nullable=True),
    sa.Column('beneficiaries', sa.Text(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ref', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['cooperation_id'], ['cooperation.id'], name=op.f('fk_project_cooperation_id_cooperation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project')),
    sa.UniqueConstraint('ref', name=op.f('uq_project_ref'))
    )
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_cooperation_id'), ['cooperation_id'], unique=False)

    op.create_table('project_theme',
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('theme_code', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_project_theme_project_id_project'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['theme_code'], ['theme.code'], name=op.f('fk_project_theme_theme_code_theme')),
    sa.PrimaryKeyConstraint('project_id', 'theme_code', name=op.f('pk_project_theme'))
    )


def downgrade() -> None:
    op.drop_table('project_theme')
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_cooperation_id'))

    op.drop_table('project')
    with op.batch_alter_table('cooperation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cooperation_partner_id'))
        batch_op.drop_index(batch_op.f('ix_cooperation_kind'))
        batch_op.drop_index(batch_op.f('ix_cooperation_country_code'))
        batch_op.drop_index(batch_op.f('ix_cooperation_collectivite_id'))

    op.drop_table('cooperation')
    with op.batch_alter_table('partner', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_partner_country_code'))

    op.drop_table('partner')
    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_membership_collectivite_id'))

    op.drop_table('membership')
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_email'))
        batch_op.drop_index(batch_op.f('ix_contact_collectivite_id'))

    op.drop_table('contact')
    with op.batch_alter_table('apd_amount', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_apd_amount_collectivite_id'))

    op.drop_table('apd_amount')
    op.drop_table('theme')
    with op.batch_alter_table('prefecture', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_prefecture_region'))

    op.drop_table('prefecture')
    op.drop_table('network')
    op.drop_table('country')
    with op.batch_alter_table('collectivite', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_collectivite_siren'))
        batch_op.drop_index(batch_op.f('ix_collectivite_region'))
        batch_op.drop_index(batch_op.f('ix_collectivite_name'))
        batch_op.drop_index(batch_op.f('ix_collectivite_kind'))
        batch_op.drop_index(batch_op.f('ix_collectivite_in_atlas'))
        batch_op.drop_index(batch_op.f('ix_collectivite_departement'))

    op.drop_table('collectivite')
