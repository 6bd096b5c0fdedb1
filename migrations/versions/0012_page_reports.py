"""Visitors' reports of pages

Revision ID: 0012_page_reports
Revises: 0011_refund_reversal
Create Date: 2026-12-03 15:15:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0012_page_reports'
down_revision = '0011_refund_reversal'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'page_reports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('page_id', sa.Integer(), nullable=False),
        sa.Column('reason', sa.String(length=20), nullable=False),
        sa.Column('details', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['page_id'], ['pages.id'], name=op.f('fk_page_reports_page_id_pages')),
        sa.ForeignKeyConstraint(['reviewed_by_id'], ['agents.id'], name=op.f('fk_page_reports_reviewed_by_id_agents')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_page_reports')),
    )
    with op.batch_alter_table('page_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_page_reports_page_id'), ['page_id'], unique=False)


def downgrade():
    with op.batch_alter_table('page_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_page_reports_page_id'))
    op.drop_table('page_reports')
