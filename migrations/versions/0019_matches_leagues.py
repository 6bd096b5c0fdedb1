"""Match challenges and leagues: matches (a sponsor's ratio, cap and window on a
page, an event or a cause), the gifts each matched (once per match and gift),
the gift a match ledger row matches, and contests across organisations with
their entrants.

Revision ID: 0019_matches_leagues
Revises: 0018_connect_fees
Create Date: 2026-12-04 07:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0019_matches_leagues'
down_revision = '0018_connect_fees'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('matched_gift_id', BIG_ID, nullable=True))
        batch_op.create_index(batch_op.f('ix_donations_matched_gift_id'), ['matched_gift_id'], unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_donations_matched_gift_id_donations'), 'donations', ['matched_gift_id'], ['id']
        )

    op.create_table(
        'matches',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('organisation_id', sa.Integer(), nullable=False),
        sa.Column('cause_id', sa.Integer(), nullable=False),
        sa.Column('page_id', sa.Integer(), nullable=True),
        sa.Column('scope', sa.String(length=10), nullable=False),
        sa.Column('sponsor_name', sa.String(length=200), nullable=False),
        sa.Column('sponsor_email', sa.String(length=255), nullable=False),
        sa.Column('ratio_num', sa.Integer(), nullable=False),
        sa.Column('ratio_den', sa.Integer(), nullable=False),
        sa.Column('cap_minor', sa.BigInteger(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('matched_minor', sa.BigInteger(), nullable=False),
        sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('statement_sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('cap_minor > 0', name=op.f('ck_matches_cap_positive')),
        sa.CheckConstraint('ratio_num > 0 AND ratio_den > 0', name=op.f('ck_matches_ratio_positive')),
        sa.CheckConstraint(
            'matched_minor >= 0 AND matched_minor <= cap_minor', name=op.f('ck_matches_within_cap')
        ),
        sa.ForeignKeyConstraint(['cause_id'], ['causes.id'], name=op.f('fk_matches_cause_id_causes')),
        sa.ForeignKeyConstraint(['created_by_id'], ['agents.id'], name=op.f('fk_matches_created_by_id_agents')),
        sa.ForeignKeyConstraint(
            ['organisation_id'], ['organisations.id'], name=op.f('fk_matches_organisation_id_organisations')
        ),
        sa.ForeignKeyConstraint(['page_id'], ['pages.id'], name=op.f('fk_matches_page_id_pages')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_matches')),
    )
    with op.batch_alter_table('matches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_matches_cause_id'), ['cause_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_matches_ends_at'), ['ends_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_matches_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_matches_page_id'), ['page_id'], unique=False)

    op.create_table(
        'matched_gifts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('match_id', sa.Integer(), nullable=False),
        sa.Column('gift_id', BIG_ID, nullable=False),
        sa.Column('full_minor', sa.BigInteger(), nullable=False),
        sa.Column('matched_minor', sa.BigInteger(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            'matched_minor >= 0 AND matched_minor <= full_minor', name=op.f('ck_matched_gifts_within_full')
        ),
        sa.ForeignKeyConstraint(['gift_id'], ['donations.id'], name=op.f('fk_matched_gifts_gift_id_donations')),
        sa.ForeignKeyConstraint(['match_id'], ['matches.id'], name=op.f('fk_matched_gifts_match_id_matches')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_matched_gifts')),
        sa.UniqueConstraint('match_id', 'gift_id', name=op.f('uq_matched_gifts_match_id_gift_id')),
    )
    with op.batch_alter_table('matched_gifts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_matched_gifts_gift_id'), ['gift_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_matched_gifts_match_id'), ['match_id'], unique=False)

    op.create_table(
        'contests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('slug', sa.String(length=80), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('rule', sa.String(length=10), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_contests')),
        sa.UniqueConstraint('slug', name=op.f('uq_contests_slug')),
    )
    op.create_table(
        'contest_entries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('contest_id', sa.Integer(), nullable=False),
        sa.Column('organisation_id', sa.Integer(), nullable=False),
        sa.Column('cause_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['cause_id'], ['causes.id'], name=op.f('fk_contest_entries_cause_id_causes')),
        sa.ForeignKeyConstraint(
            ['contest_id'], ['contests.id'], name=op.f('fk_contest_entries_contest_id_contests')
        ),
        sa.ForeignKeyConstraint(
            ['organisation_id'], ['organisations.id'],
            name=op.f('fk_contest_entries_organisation_id_organisations'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_contest_entries')),
        sa.UniqueConstraint(
            'contest_id', 'organisation_id', 'cause_id',
            name=op.f('uq_contest_entries_contest_id_organisation_id_cause_id'),
        ),
    )
    with op.batch_alter_table('contest_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contest_entries_cause_id'), ['cause_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_contest_entries_contest_id'), ['contest_id'], unique=False)
        batch_op.create_index(
            batch_op.f('ix_contest_entries_organisation_id'), ['organisation_id'], unique=False
        )


def downgrade():
    op.drop_table('contest_entries')
    op.drop_table('contests')
    op.drop_table('matched_gifts')
    op.drop_table('matches')
    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_donations_matched_gift_id_donations'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_donations_matched_gift_id'))
        batch_op.drop_column('matched_gift_id')
