"""Field news: dated updates on projects and pages, donors' consent to hear
them, and the opt-outs of addresses without an account

Revision ID: 0015_field_news
Revises: 0014_token_scopes
Create Date: 2026-12-03 22:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0015_field_news'
down_revision = '0014_token_scopes'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'field_updates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('organisation_id', sa.Integer(), nullable=False),
        sa.Column('cause_id', sa.Integer(), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=True),
        sa.Column('page_id', sa.Integer(), nullable=True),
        sa.Column('author_id', sa.Integer(), nullable=True),
        sa.Column('title', sa.String(length=120), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('photo', sa.String(length=120), nullable=True),
        sa.Column('posted_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('mailed_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint('(project_id IS NULL) <> (page_id IS NULL)', name=op.f('ck_field_updates_one_subject')),
        sa.ForeignKeyConstraint(['author_id'], ['agents.id'], name=op.f('fk_field_updates_author_id_agents')),
        sa.ForeignKeyConstraint(['cause_id'], ['causes.id'], name=op.f('fk_field_updates_cause_id_causes')),
        sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_field_updates_organisation_id_organisations')),
        sa.ForeignKeyConstraint(['page_id'], ['pages.id'], name=op.f('fk_field_updates_page_id_pages')),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_field_updates_project_id_projects')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_field_updates')),
    )
    with op.batch_alter_table('field_updates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_field_updates_author_id'), ['author_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_field_updates_cause_id'), ['cause_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_field_updates_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index('ix_field_updates_page_posted', ['page_id', 'posted_at'], unique=False)
        batch_op.create_index('ix_field_updates_project_posted', ['project_id', 'posted_at'], unique=False)
    op.create_table(
        'news_consents',
        sa.Column('pending_gift_id', sa.Integer(), nullable=False),
        sa.Column('is_agreed', sa.Boolean(), nullable=False),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['pending_gift_id'], ['pending_gifts.id'], name=op.f('fk_news_consents_pending_gift_id_pending_gifts')),
        sa.PrimaryKeyConstraint('pending_gift_id', name=op.f('pk_news_consents')),
    )
    op.create_table(
        'email_opt_outs',
        sa.Column('address_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('address_hash', name=op.f('pk_email_opt_outs')),
    )


def downgrade():
    op.drop_table('email_opt_outs')
    op.drop_table('news_consents')
    with op.batch_alter_table('field_updates', schema=None) as batch_op:
        batch_op.drop_index('ix_field_updates_project_posted')
        batch_op.drop_index('ix_field_updates_page_posted')
        batch_op.drop_index(batch_op.f('ix_field_updates_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_field_updates_cause_id'))
        batch_op.drop_index(batch_op.f('ix_field_updates_author_id'))
    op.drop_table('field_updates')
