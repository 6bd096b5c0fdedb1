"""Stripe Connect and the cost of collection: each organisation's connected
account, the account each gift and event came from, fee rows keyed by their
balance transaction, fees in the totals, and the fee job's bookkeeping.

Revision ID: 0018_connect_fees
Revises: 0017_board_index
Create Date: 2026-12-04 09:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0018_connect_fees'
down_revision = '0017_board_index'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('connected_account_id', sa.String(length=255), nullable=True))
        batch_op.add_column(
            sa.Column('connect_charges_enabled', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column('connect_details_submitted', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column('connect_checked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f('uq_organisations_connected_account_id'), ['connected_account_id']
        )

    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stripe_account_id', sa.String(length=255), nullable=True))
        batch_op.add_column(
            sa.Column('stripe_balance_transaction_id', sa.String(length=255), nullable=True)
        )
        batch_op.create_index(batch_op.f('ix_donations_stripe_account_id'), ['stripe_account_id'], unique=False)
        batch_op.create_unique_constraint(
            batch_op.f('uq_donations_stripe_balance_transaction_id'), ['stripe_balance_transaction_id']
        )

    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stripe_account_id', sa.String(length=255), nullable=True))
        batch_op.create_index(
            batch_op.f('ix_stripe_events_stripe_account_id'), ['stripe_account_id'], unique=False
        )

    with op.batch_alter_table('totals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fees_minor', sa.BigInteger(), server_default='0', nullable=False))

    op.create_table(
        'fee_lookups',
        sa.Column('gift_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('is_charge_known', sa.Boolean(), nullable=False),
        sa.Column('refunds_seen', sa.Integer(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('asked_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['gift_id'], ['donations.id'], name=op.f('fk_fee_lookups_gift_id_donations')),
        sa.PrimaryKeyConstraint('gift_id', name=op.f('pk_fee_lookups')),
    )


def downgrade():
    op.drop_table('fee_lookups')
    with op.batch_alter_table('totals', schema=None) as batch_op:
        batch_op.drop_column('fees_minor')
    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stripe_events_stripe_account_id'))
        batch_op.drop_column('stripe_account_id')
    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_donations_stripe_balance_transaction_id'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_donations_stripe_account_id'))
        batch_op.drop_column('stripe_balance_transaction_id')
        batch_op.drop_column('stripe_account_id')
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_organisations_connected_account_id'), type_='unique')
        batch_op.drop_column('connect_checked_at')
        batch_op.drop_column('connect_details_submitted')
        batch_op.drop_column('connect_charges_enabled')
        batch_op.drop_column('connected_account_id')
