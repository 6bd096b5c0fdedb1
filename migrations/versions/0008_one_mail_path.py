"""One mail path: every email is an outbox row

Account mail (sign-up, password reset) belongs to no organisation, so
outbox_messages.organisation_id becomes nullable; transactional mail
(account, receipts, invitations) is marked so delivery skips the marketing
rules. The sent_mail copies go: the "sent mail" page reads the outbox.

Revision ID: 0008_one_mail_path
Revises: 0007_page_search
Create Date: 2026-12-03 13:00:00

"""
from alembic import op
import sqlalchemy as sa



revision = '0008_one_mail_path'
down_revision = '0007_page_search'
branch_labels = None
depends_on = None

DUE = sa.text("status = 'queued'")


def upgrade():
    # SQLite's batch copy would not keep the partial index's WHERE: made again below.
    op.drop_index('ix_outbox_messages_due', table_name='outbox_messages')
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.alter_column('organisation_id', existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(
            sa.Column('is_transactional', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_index(
        'ix_outbox_messages_due', 'outbox_messages', ['next_attempt_at'], unique=False,
        postgresql_where=DUE, sqlite_where=DUE,
    )
    with op.batch_alter_table('sent_mail', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sent_mail_recipient'))
    op.drop_table('sent_mail')


def downgrade():
    op.create_table('sent_mail',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=255), nullable=False),
    sa.Column('recipient', sa.String(length=255), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('body_text', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('template', sa.String(length=80), nullable=False),
    sa.Column('is_delivered', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sent_mail')),
    sa.UniqueConstraint('message_id', name=op.f('uq_sent_mail_message_id'))
    )
    with op.batch_alter_table('sent_mail', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sent_mail_recipient'), ['recipient'], unique=False)
    # Account mail has no organisation to keep it under in the older schema.
    op.execute("DELETE FROM outbox_messages WHERE organisation_id IS NULL")
    op.drop_index('ix_outbox_messages_due', table_name='outbox_messages')
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_column('is_transactional')
        batch_op.alter_column('organisation_id', existing_type=sa.Integer(), nullable=False)
    op.create_index(
        'ix_outbox_messages_due', 'outbox_messages', ['next_attempt_at'], unique=False,
        postgresql_where=DUE, sqlite_where=DUE,
    )
