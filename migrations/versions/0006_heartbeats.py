"""Heartbeats of the scheduler and the outbox workers

One row per background process, written every few seconds: /readyz and the
staff outbox page show when each last ran and whether a scheduler leads.

Revision ID: 0006_heartbeats
Revises: 0005_donor_address
Create Date: 2026-12-03 09:00:00

"""
from alembic import op
import sqlalchemy as sa



revision = '0006_heartbeats'
down_revision = '0005_donor_address'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'heartbeats',
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('is_leader', sa.Boolean(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('detail', sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_heartbeats')),
    )
    with op.batch_alter_table('heartbeats', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_heartbeats_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_heartbeats_seen_at'), ['seen_at'], unique=False)


def downgrade():
    with op.batch_alter_table('heartbeats', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_heartbeats_seen_at'))
        batch_op.drop_index(batch_op.f('ix_heartbeats_kind'))
    op.drop_table('heartbeats')
