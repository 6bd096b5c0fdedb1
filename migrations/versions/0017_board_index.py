"""The SQL rank index: board entries and band tallies, filled from the pages and totals

Revision ID: 0017_board_index
Revises: 0016_team_requests
Create Date: 2026-12-04 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0017_board_index'
down_revision = '0016_team_requests'
branch_labels = None
depends_on = None

# campaigns.standings.board_index.rebuild, written out: a migration does not
# import the application.
FIGURES = """
SELECT p.id AS page_id, p.cause_id AS cause_id,
       CASE WHEN p.kind IN ('event', 'team') THEN 'events' ELSE 'pages' END AS board,
       COALESCE((SELECT SUM(t.raised_minor) FROM totals t
                 WHERE t.scope = CASE WHEN p.kind IN ('event', 'team') THEN 'event' ELSE 'page' END
                   AND t.scope_id = p.id), 0) AS raised,
       COALESCE((SELECT SUM(t.donor_count) FROM totals t
                 WHERE t.scope = CASE WHEN p.kind IN ('event', 'team') THEN 'event' ELSE 'page' END
                   AND t.scope_id = p.id), 0) AS donors
FROM pages p WHERE p.status IN ('published', 'closed')
"""
BAND = (
    "CASE WHEN f.raised > 0 THEN LENGTH(CAST(f.raised AS VARCHAR)) * 1000 "
    "+ CAST(SUBSTR(CAST(f.raised AS VARCHAR), 1, 3) AS INTEGER) ELSE 0 END"
)

BACKFILL = (
    "INSERT INTO board_entries (page_id, cause_id, board, band, raised_minor, donor_count) "
    f"SELECT f.page_id, f.cause_id, f.board, {BAND}, f.raised, f.donors FROM ({FIGURES}) f",
    "INSERT INTO board_bands (cause_id, board, band, pages) "
    "SELECT cause_id, board, band, COUNT(*) FROM board_entries GROUP BY cause_id, board, band",
)


def upgrade():
    op.create_table(
        'board_entries',
        sa.Column('page_id', sa.Integer(), nullable=False),
        sa.Column('cause_id', sa.Integer(), nullable=False),
        sa.Column('board', sa.String(length=10), nullable=False),
        sa.Column('band', sa.Integer(), nullable=False),
        sa.Column('raised_minor', sa.BigInteger(), nullable=False),
        sa.Column('donor_count', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['cause_id'], ['causes.id'], name=op.f('fk_board_entries_cause_id_causes')),
        sa.ForeignKeyConstraint(['page_id'], ['pages.id'], name=op.f('fk_board_entries_page_id_pages')),
        sa.PrimaryKeyConstraint('page_id', name=op.f('pk_board_entries')),
    )
    with op.batch_alter_table('board_entries', schema=None) as batch_op:
        batch_op.create_index(
            'ix_board_entries_order',
            ['cause_id', 'board', 'band', 'raised_minor', 'donor_count', 'page_id'],
            unique=False,
        )
    op.create_table(
        'board_bands',
        sa.Column('cause_id', sa.Integer(), nullable=False),
        sa.Column('board', sa.String(length=10), nullable=False),
        sa.Column('band', sa.Integer(), nullable=False),
        sa.Column('pages', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['cause_id'], ['causes.id'], name=op.f('fk_board_bands_cause_id_causes')),
        sa.PrimaryKeyConstraint('cause_id', 'board', 'band', name=op.f('pk_board_bands')),
    )
    for statement in BACKFILL:
        op.execute(statement)


def downgrade():
    op.drop_table('board_bands')
    with op.batch_alter_table('board_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_board_entries_order')
    op.drop_table('board_entries')
