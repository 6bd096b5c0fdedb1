"""Search text of pages

Each page keeps its title, city, venue and owner's name folded (lower case,
accents removed) in one column, so "eau vive" finds "Eau Vive" and "lyon"
finds "Lyon" on SQLite and PostgreSQL alike with a plain LIKE.

Revision ID: 0007_page_search
Revises: 0006_heartbeats
Create Date: 2026-12-03 13:00:00

"""
import re
import unicodedata

from alembic import op
import sqlalchemy as sa


revision = '0007_page_search'
down_revision = '0006_heartbeats'
branch_labels = None
depends_on = None


def fold(text):
    # The same folding as campaigns.discovery.search.fold, frozen here so
    # that a later change to the code does not change this migration.
    decomposed = unicodedata.normalize("NFKD", text or "")
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.split(r"[^\w]+", bare.casefold())).strip()


def upgrade():
    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('search_text', sa.Text(), nullable=False, server_default='')
        )
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT pages.id, pages.title, pages.city, pages.venue, agents.name "
            "FROM pages JOIN agents ON agents.id = pages.owner_id"
        )
    ).all()
    for page_id, title, city, venue, name in rows:
        bind.execute(
            sa.text("UPDATE pages SET search_text = :text WHERE id = :id"),
            {"text": f"{fold(city)} | {fold(' '.join((title, venue, name)))}", "id": page_id},
        )


def downgrade():
    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.drop_column('search_text')
