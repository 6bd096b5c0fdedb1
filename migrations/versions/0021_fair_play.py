"""Fair play: flagged gifts and their review, the card each gift was paid with

Revision ID: 0021_fair_play
Revises: 0020_webhook_endpoints
Create Date: 2026-12-06 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0021_fair_play'
down_revision = '0020_webhook_endpoints'
branch_labels = None
depends_on = None

GIFT_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table(
        'fair_play_flags',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('organisation_id', sa.Integer(), nullable=False),
        sa.Column('gift_id', GIFT_ID, nullable=False),
        sa.Column('cause_id', sa.Integer(), nullable=True),
        sa.Column('page_id', sa.Integer(), nullable=True),
        sa.Column('is_self_gift', sa.Boolean(), nullable=False),
        sa.Column('is_velocity', sa.Boolean(), nullable=False),
        sa.Column('evidence', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('flagged_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
        sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['cause_id'], ['causes.id'], name=op.f('fk_fair_play_flags_cause_id_causes')),
        sa.ForeignKeyConstraint(['gift_id'], ['donations.id'], name=op.f('fk_fair_play_flags_gift_id_donations')),
        sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_fair_play_flags_organisation_id_organisations')),
        sa.ForeignKeyConstraint(['page_id'], ['pages.id'], name=op.f('fk_fair_play_flags_page_id_pages')),
        sa.ForeignKeyConstraint(['reviewed_by_id'], ['agents.id'], name=op.f('fk_fair_play_flags_reviewed_by_id_agents'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_fair_play_flags')),
        sa.UniqueConstraint('gift_id', name=op.f('uq_fair_play_flags_gift_id')),
    )
    with op.batch_alter_table('fair_play_flags', schema=None) as batch_op:
        batch_op.create_index('ix_fair_play_flags_organisation_status', ['organisation_id', 'status', 'id'], unique=False)
        batch_op.create_index('ix_fair_play_flags_status_gift', ['status', 'gift_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fair_play_flags_page_id'), ['page_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fair_play_flags_reviewed_by_id'), ['reviewed_by_id'], unique=False)

    op.create_table(
        'gift_cards',
        sa.Column('gift_id', GIFT_ID, nullable=False),
        sa.Column('organisation_id', sa.Integer(), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('amount_minor', sa.BigInteger(), nullable=False),
        sa.Column('given_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['gift_id'], ['donations.id'], name=op.f('fk_gift_cards_gift_id_donations')),
        sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_gift_cards_organisation_id_organisations')),
        sa.PrimaryKeyConstraint('gift_id', name=op.f('pk_gift_cards')),
    )
    with op.batch_alter_table('gift_cards', schema=None) as batch_op:
        batch_op.create_index('ix_gift_cards_card', ['organisation_id', 'fingerprint', 'given_at'], unique=False)

    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.create_index('ix_donations_donor_key_created', ['donor_key', 'created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.drop_index('ix_donations_donor_key_created')
    with op.batch_alter_table('gift_cards', schema=None) as batch_op:
        batch_op.drop_index('ix_gift_cards_card')
    op.drop_table('gift_cards')
    with op.batch_alter_table('fair_play_flags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fair_play_flags_reviewed_by_id'))
        batch_op.drop_index(batch_op.f('ix_fair_play_flags_page_id'))
        batch_op.drop_index('ix_fair_play_flags_status_gift')
        batch_op.drop_index('ix_fair_play_flags_organisation_status')
    op.drop_table('fair_play_flags')
