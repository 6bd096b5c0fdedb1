"""Fee covers and monthly gifts: the organisation's cover settings, the cover a
pending gift asked for, cover rows (``cover_of_id``) and covers in the totals,
monthly gifts (Stripe subscriptions) and the invoice each gift row pays.

Revision ID: 0022_monthly_covers
Revises: 0021_fair_play
Create Date: 2026-12-05 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0022_monthly_covers'
down_revision = '0021_fair_play'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('offers_fee_cover', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('counts_covers', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('pending_gifts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cover_minor', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('is_monthly', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_check_constraint(batch_op.f('ck_pending_gifts_cover_not_negative'), 'cover_minor >= 0')
    with op.batch_alter_table('totals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('covers_minor', sa.BigInteger(), server_default='0', nullable=False))
    op.create_table(
        'monthly_gifts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('stripe_subscription_id', sa.String(length=255), nullable=False),
        sa.Column('stripe_customer_id', sa.String(length=255), nullable=True),
        sa.Column('stripe_account_id', sa.String(length=255), nullable=True),
        sa.Column('organisation_id', sa.Integer(), nullable=False),
        sa.Column('cause_id', sa.Integer(), nullable=False),
        sa.Column('page_id', sa.Integer(), nullable=True),
        sa.Column('project_id', sa.Integer(), nullable=True),
        sa.Column('pending_gift_id', sa.Integer(), nullable=True),
        sa.Column('amount_minor', sa.BigInteger(), nullable=False),
        sa.Column('cover_minor', sa.BigInteger(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('donor_name', sa.String(length=200), nullable=False),
        sa.Column('donor_email', sa.String(length=255), nullable=False),
        sa.Column('is_anonymous', sa.Boolean(), nullable=False),
        sa.Column('is_erased', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('locale', sa.String(length=10), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('stop_key', sa.String(length=40), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('canceled_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['cause_id'], ['causes.id'], name=op.f('fk_monthly_gifts_cause_id_causes')),
        sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_monthly_gifts_organisation_id_organisations')),
        sa.ForeignKeyConstraint(['page_id'], ['pages.id'], name=op.f('fk_monthly_gifts_page_id_pages')),
        sa.ForeignKeyConstraint(['pending_gift_id'], ['pending_gifts.id'], name=op.f('fk_monthly_gifts_pending_gift_id_pending_gifts')),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_monthly_gifts_project_id_projects')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_monthly_gifts')),
        sa.UniqueConstraint('pending_gift_id', name=op.f('uq_monthly_gifts_pending_gift_id')),
        sa.UniqueConstraint('stripe_subscription_id', name=op.f('uq_monthly_gifts_stripe_subscription_id')),
    )
    with op.batch_alter_table('monthly_gifts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_monthly_gifts_cause_id'), ['cause_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_monthly_gifts_donor_email'), ['donor_email'], unique=False)
        batch_op.create_index(batch_op.f('ix_monthly_gifts_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_monthly_gifts_page_id'), ['page_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_monthly_gifts_stripe_account_id'), ['stripe_account_id'], unique=False)
    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cover_of_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.add_column(sa.Column('stripe_invoice_id', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('monthly_gift_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_donations_monthly_gift_id'), ['monthly_gift_id'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_donations_cover_of_id'), ['cover_of_id'])
        batch_op.create_unique_constraint(batch_op.f('uq_donations_stripe_invoice_id'), ['stripe_invoice_id'])
        batch_op.create_foreign_key(batch_op.f('fk_donations_cover_of_id_donations'), 'donations', ['cover_of_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_donations_monthly_gift_id_monthly_gifts'), 'monthly_gifts', ['monthly_gift_id'], ['id'])


def downgrade():
    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_donations_monthly_gift_id_monthly_gifts'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_donations_cover_of_id_donations'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_donations_stripe_invoice_id'), type_='unique')
        batch_op.drop_constraint(batch_op.f('uq_donations_cover_of_id'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_donations_monthly_gift_id'))
        batch_op.drop_column('monthly_gift_id')
        batch_op.drop_column('stripe_invoice_id')
        batch_op.drop_column('cover_of_id')
    op.drop_table('monthly_gifts')
    with op.batch_alter_table('totals', schema=None) as batch_op:
        batch_op.drop_column('covers_minor')
    with op.batch_alter_table('pending_gifts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_pending_gifts_cover_not_negative'), type_='check')
        batch_op.drop_column('is_monthly')
        batch_op.drop_column('cover_minor')
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_column('counts_covers')
        batch_op.drop_column('offers_fee_cover')
