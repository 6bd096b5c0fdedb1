"""Local sponsors of events

Revision ID: 0010_sponsors
Revises: 0009_hidden_gift_total
Create Date: 2026-12-03 14:45:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0010_sponsors'
down_revision = '0009_hidden_gift_total'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'sponsors',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('page_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('url', sa.String(length=300), nullable=False),
        sa.Column('logo', sa.String(length=120), nullable=True),
        sa.Column('is_hidden', sa.Boolean(), nullable=False),
        sa.Column('added_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['added_by_id'], ['agents.id'], name=op.f('fk_sponsors_added_by_id_agents')),
        sa.ForeignKeyConstraint(['page_id'], ['pages.id'], name=op.f('fk_sponsors_page_id_pages')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sponsors')),
    )
    with op.batch_alter_table('sponsors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sponsors_page_id'), ['page_id'], unique=False)


def downgrade():
    with op.batch_alter_table('sponsors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sponsors_page_id'))
    op.drop_table('sponsors')
