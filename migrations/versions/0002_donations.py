"""donations: pending gifts, stripe events, receipts, offline gifts

Revision ID: 0002_donations
Revises: 0001_foundation
Create Date: 2026-11-24 03:35:23.790688

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002_donations'
down_revision = '0001_foundation'
branch_labels = None
depends_on = None


def upgrade():
    # Reviewed by hand: server defaults let existing rows take the new NOT NULL columns.
    op.create_table('receipt_counters',
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_receipt_counters_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('organisation_id', 'year', name=op.f('pk_receipt_counters'))
    )
    op.create_table('stripe_events',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('amount_minor', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('stripe_payment_intent_id', sa.String(length=255), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=True),
    sa.Column('stripe_created_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_stripe_events_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stripe_events'))
    )
    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stripe_events_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stripe_events_received_at'), ['received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_stripe_events_stripe_payment_intent_id'), ['stripe_payment_intent_id'], unique=False)

    op.create_table('offline_gifts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('page_id', sa.Integer(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('donor_name', sa.String(length=200), nullable=False),
    sa.Column('donor_email', sa.String(length=255), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('photo', sa.String(length=120), nullable=True),
    sa.Column('collected_on', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount_minor > 0', name=op.f('ck_offline_gifts_amount_positive')),
    sa.ForeignKeyConstraint(['page_id'], ['pages.id'], name=op.f('fk_offline_gifts_page_id_pages')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['agents.id'], name=op.f('fk_offline_gifts_recorded_by_id_agents')),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['agents.id'], name=op.f('fk_offline_gifts_reviewed_by_id_agents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offline_gifts'))
    )
    with op.batch_alter_table('offline_gifts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_offline_gifts_page_id'), ['page_id'], unique=False)

    op.create_table('pending_gifts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=40), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('cause_id', sa.Integer(), nullable=False),
    sa.Column('page_id', sa.Integer(), nullable=True),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('donor_name', sa.String(length=200), nullable=False),
    sa.Column('donor_email', sa.String(length=255), nullable=False),
    sa.Column('message', sa.String(length=500), nullable=False),
    sa.Column('is_anonymous', sa.Boolean(), nullable=False),
    sa.Column('is_amount_hidden', sa.Boolean(), nullable=False),
    sa.Column('locale', sa.String(length=10), nullable=False),
    sa.Column('share_code', sa.String(length=20), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('stripe_checkout_session_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount_minor > 0', name=op.f('ck_pending_gifts_amount_positive')),
    sa.ForeignKeyConstraint(['cause_id'], ['causes.id'], name=op.f('fk_pending_gifts_cause_id_causes')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_pending_gifts_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['page_id'], ['pages.id'], name=op.f('fk_pending_gifts_page_id_pages')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_pending_gifts_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pending_gifts')),
    sa.UniqueConstraint('reference', name=op.f('uq_pending_gifts_reference')),
    sa.UniqueConstraint('stripe_checkout_session_id', name=op.f('uq_pending_gifts_stripe_checkout_session_id'))
    )
    with op.batch_alter_table('pending_gifts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pending_gifts_cause_id'), ['cause_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pending_gifts_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pending_gifts_page_id'), ['page_id'], unique=False)

    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payment_method', sa.String(length=20), nullable=False, server_default='card'))
        batch_op.add_column(sa.Column('stripe_charge_id', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('stripe_refund_cumulative', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('stripe_dispute_id', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('pending_gift_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('offline_gift_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('receipt_number', sa.String(length=40), nullable=True))
        batch_op.create_index(batch_op.f('ix_donations_stripe_charge_id'), ['stripe_charge_id'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_donations_kind_stripe_dispute_id'), ['kind', 'stripe_dispute_id'])
        batch_op.create_unique_constraint(batch_op.f('uq_donations_offline_gift_id'), ['offline_gift_id'])
        batch_op.create_unique_constraint(batch_op.f('uq_donations_original_id_stripe_refund_cumulative'), ['original_id', 'stripe_refund_cumulative'])
        batch_op.create_unique_constraint(batch_op.f('uq_donations_pending_gift_id'), ['pending_gift_id'])
        batch_op.create_unique_constraint(batch_op.f('uq_donations_organisation_id_receipt_number'), ['organisation_id', 'receipt_number'])
        batch_op.create_foreign_key(batch_op.f('fk_donations_offline_gift_id_offline_gifts'), 'offline_gifts', ['offline_gift_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_donations_pending_gift_id_pending_gifts'), 'pending_gifts', ['pending_gift_id'], ['id'])

    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('receipt_prefix', sa.String(length=10), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('issues_tax_receipts', sa.Boolean(), nullable=False, server_default=sa.true()))

    # ### end Alembic commands ###


def downgrade():
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_column('issues_tax_receipts')
        batch_op.drop_column('receipt_prefix')

    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_donations_pending_gift_id_pending_gifts'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_donations_offline_gift_id_offline_gifts'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_donations_organisation_id_receipt_number'), type_='unique')
        batch_op.drop_constraint(batch_op.f('uq_donations_pending_gift_id'), type_='unique')
        batch_op.drop_constraint(batch_op.f('uq_donations_original_id_stripe_refund_cumulative'), type_='unique')
        batch_op.drop_constraint(batch_op.f('uq_donations_offline_gift_id'), type_='unique')
        batch_op.drop_constraint(batch_op.f('uq_donations_kind_stripe_dispute_id'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_donations_stripe_charge_id'))
        batch_op.drop_column('receipt_number')
        batch_op.drop_column('offline_gift_id')
        batch_op.drop_column('pending_gift_id')
        batch_op.drop_column('stripe_dispute_id')
        batch_op.drop_column('stripe_refund_cumulative')
        batch_op.drop_column('stripe_charge_id')
        batch_op.drop_column('payment_method')

    with op.batch_alter_table('pending_gifts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pending_gifts_page_id'))
        batch_op.drop_index(batch_op.f('ix_pending_gifts_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_pending_gifts_cause_id'))

    op.drop_table('pending_gifts')
    with op.batch_alter_table('offline_gifts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_offline_gifts_page_id'))

    op.drop_table('offline_gifts')
    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stripe_events_stripe_payment_intent_id'))
        batch_op.drop_index(batch_op.f('ix_stripe_events_received_at'))
        batch_op.drop_index(batch_op.f('ix_stripe_events_organisation_id'))

    op.drop_table('stripe_events')
    op.drop_table('receipt_counters')
    # ### end Alembic commands ###
