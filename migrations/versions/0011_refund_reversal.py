"""A refund Stripe reports as failed gives its money back: the reversal row
carries the refund id, once per refund.

Revision ID: 0011_refund_reversal
Revises: 0010_sponsors
Create Date: 2026-12-03 14:40:00

"""
from alembic import op
import sqlalchemy as sa



revision = '0011_refund_reversal'
down_revision = '0010_sponsors'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stripe_refund_id', sa.String(length=255), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f('uq_donations_kind_stripe_refund_id'), ['kind', 'stripe_refund_id']
        )


def downgrade():
    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_donations_kind_stripe_refund_id'), type_='unique')
        batch_op.drop_column('stripe_refund_id')
