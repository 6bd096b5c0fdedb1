"""Personal access tokens get a scope and an optional expiry

Revision ID: 0014_token_scopes
Revises: 0013_badges_profiles
Create Date: 2026-12-10 10:00:00

Tokens made before scopes could write: they keep doing so, and never expire.
"""
from alembic import op
import sqlalchemy as sa


revision = '0014_token_scopes'
down_revision = '0013_badges_profiles'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('access_tokens', schema=None) as batch_op:
        # The server default fills the rows already there, then goes: the
        # model gives every new token its scope.
        batch_op.add_column(
            sa.Column('scope', sa.String(length=10), nullable=False, server_default='write')
        )
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('access_tokens', schema=None) as batch_op:
        batch_op.alter_column('scope', server_default=None)


def downgrade():
    with op.batch_alter_table('access_tokens', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
        batch_op.drop_column('scope')
