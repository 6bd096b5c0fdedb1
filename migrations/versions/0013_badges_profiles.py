"""Achievement badges of pages, the badges each organisation awards, and
free agents' public profiles

Revision ID: 0013_badges_profiles
Revises: 0012_page_reports
Create Date: 2026-12-03 18:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0013_badges_profiles'
down_revision = '0012_page_reports'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'page_badges',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('page_id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=30), nullable=False),
        sa.Column('awarded_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['page_id'], ['pages.id'], name=op.f('fk_page_badges_page_id_pages')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_page_badges')),
        sa.UniqueConstraint('page_id', 'code', name=op.f('uq_page_badges_page_id_code')),
    )
    with op.batch_alter_table('page_badges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_page_badges_page_id'), ['page_id'], unique=False)
    op.create_table(
        'badge_settings',
        sa.Column('organisation_id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=30), nullable=False),
        sa.Column('is_enabled', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_badge_settings_organisation_id_organisations')),
        sa.PrimaryKeyConstraint('organisation_id', 'code', name=op.f('pk_badge_settings')),
    )
    op.create_table(
        'profiles',
        sa.Column('agent_id', sa.Integer(), nullable=False),
        sa.Column('handle', sa.String(length=40), nullable=False),
        sa.Column('is_public', sa.Boolean(), nullable=False),
        sa.Column('photo', sa.String(length=120), nullable=True),
        sa.Column('website_url', sa.String(length=300), nullable=False),
        sa.Column('blog_url', sa.String(length=300), nullable=False),
        sa.Column('x_url', sa.String(length=300), nullable=False),
        sa.Column('facebook_url', sa.String(length=300), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_profiles_agent_id_agents')),
        sa.PrimaryKeyConstraint('agent_id', name=op.f('pk_profiles')),
        sa.UniqueConstraint('handle', name=op.f('uq_profiles_handle')),
    )


def downgrade():
    op.drop_table('profiles')
    op.drop_table('badge_settings')
    with op.batch_alter_table('page_badges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_page_badges_page_id'))
    op.drop_table('page_badges')
