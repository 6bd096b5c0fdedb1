"""64-bit donor ids: ``donations.donor_id`` (the first 8 bytes of the SHA-256
of ``donor_key``, signed) and the totals' donor sets keyed by it instead of
the 64-character text key, so ``relais totals rebuild`` groups, sorts and
indexes a third of the bytes. The donor sets are converted, not recomputed:
they keep exactly the donors they held.

Revision ID: 0023_donor_ids
Revises: 0022_monthly_covers
Create Date: 2026-12-05 23:30:00

"""
import hashlib

from alembic import op
import sqlalchemy as sa


revision = '0023_donor_ids'
down_revision = '0022_monthly_covers'
branch_labels = None
depends_on = None

BATCH = 1000
# What campaigns.totals counts as a donor's row (DONOR_KINDS), frozen here.
DONOR_KINDS = "('gift', 'offline', 'transfer_in')"
SCOPE_COLUMNS = {
    'organisation': 'organisation_id',
    'cause': 'cause_id',
    'project': 'project_id',
    'page': 'page_id',
    'event': 'event_id',
}


def donor_id_for(donor_key):
    # The same id as campaigns.giving.models.donor_id_for, frozen here so that
    # a later change to the code does not change this migration.
    if not donor_key:
        return None
    return int.from_bytes(hashlib.sha256(donor_key.encode()).digest()[:8], "big", signed=True)


def fill_donor_ids(table):
    """``donor_id`` from ``donor_key`` on every row of ``table`` that has a key."""
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        # donor_id_for in SQL (tests/campaigns/giving/test_donor_ids.py holds
        # that both give the same number).
        bind.execute(sa.text(
            f"UPDATE {table} SET donor_id = ('x' || left(encode(sha256("
            "convert_to(donor_key, 'UTF8')), 'hex'), 16))::bit(64)::bigint "
            "WHERE donor_key <> ''"
        ))
        return
    # SQLite has no SHA-256: computed here, a batch of rows at a time.
    last = None
    while True:
        rows = bind.execute(
            sa.text(
                f"SELECT rowid, donor_key FROM {table} WHERE (:last IS NULL OR rowid > :last) "
                "AND donor_key <> '' ORDER BY rowid LIMIT :n"
            ),
            {"last": last, "n": BATCH},
        ).all()
        if not rows:
            return
        bind.execute(
            sa.text(f"UPDATE {table} SET donor_id = :id WHERE rowid = :row"),
            [{"id": donor_id_for(key), "row": row} for row, key in rows],
        )
        last = rows[-1][0]


def upgrade():
    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('donor_id', sa.BigInteger(), nullable=True))
    fill_donor_ids('donations')
    with op.batch_alter_table('total_donors', schema=None) as batch_op:
        batch_op.add_column(sa.Column('donor_id', sa.BigInteger(), nullable=True))
    # Two donors of one scope with the same id (a chance of about n²/2^65)
    # would stop the key below: the migration fails rather than merge them.
    fill_donor_ids('total_donors')
    with op.batch_alter_table('total_donors', schema=None) as batch_op:
        batch_op.drop_constraint('pk_total_donors', type_='primary')
        batch_op.drop_column('donor_key')
        batch_op.alter_column('donor_id', existing_type=sa.BigInteger(), nullable=False)
        # Integers first: what a rebuild sorts to build the key.
        batch_op.create_primary_key('pk_total_donors', ['scope_id', 'donor_id', 'scope'])


def downgrade():
    # An id does not give back its key: the donor sets are recomputed from the
    # ledger, as ``relais totals rebuild`` made them before this revision.
    op.drop_table('total_donors')
    op.create_table('total_donors',
    sa.Column('scope', sa.String(length=20), nullable=False),
    sa.Column('scope_id', sa.Integer(), nullable=False),
    sa.Column('donor_key', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('scope', 'scope_id', 'donor_key', name=op.f('pk_total_donors'))
    )
    for scope, column in SCOPE_COLUMNS.items():
        op.execute(
            "INSERT INTO total_donors (scope, scope_id, donor_key) "
            f"SELECT DISTINCT '{scope}', {column}, donor_key FROM donations "
            f"WHERE kind IN {DONOR_KINDS} AND donor_key <> '' AND {column} IS NOT NULL"
        )
    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.drop_column('donor_id')
