"""Teams: personal pages ask to join a team, its captain approves

Revision ID: 0016_team_requests
Revises: 0015_field_news
Create Date: 2026-12-03 23:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0016_team_requests'
down_revision = '0015_field_news'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'team_join_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('team_id', sa.Integer(), nullable=False),
        sa.Column('page_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['decided_by_id'], ['agents.id'], name=op.f('fk_team_join_requests_decided_by_id_agents')),
        sa.ForeignKeyConstraint(['page_id'], ['pages.id'], name=op.f('fk_team_join_requests_page_id_pages')),
        sa.ForeignKeyConstraint(['team_id'], ['pages.id'], name=op.f('fk_team_join_requests_team_id_pages')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_team_join_requests')),
        sa.UniqueConstraint('team_id', 'page_id', name=op.f('uq_team_join_requests_team_id_page_id')),
    )
    with op.batch_alter_table('team_join_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_team_join_requests_page_id'), ['page_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_team_join_requests_team_id'), ['team_id'], unique=False)


def downgrade():
    with op.batch_alter_table('team_join_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_team_join_requests_team_id'))
        batch_op.drop_index(batch_op.f('ix_team_join_requests_page_id'))
    op.drop_table('team_join_requests')
