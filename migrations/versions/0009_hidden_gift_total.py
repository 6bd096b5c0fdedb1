"""How a total that would tell a hidden gift's amount is shown, per organisation

"rounded" (the default) or "hidden" until a second donor gives.

Revision ID: 0009_hidden_gift_total
Revises: 0008_one_mail_path
Create Date: 2026-12-03 13:00:00

"""
from alembic import op
import sqlalchemy as sa



revision = '0009_hidden_gift_total'
down_revision = '0008_one_mail_path'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('hidden_gift_total', sa.String(length=10), server_default='rounded', nullable=False)
        )


def downgrade():
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_column('hidden_gift_total')
