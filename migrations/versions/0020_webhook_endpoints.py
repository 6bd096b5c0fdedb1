"""Outgoing webhooks: organisations' endpoints, delivered as outbox rows

Revision ID: 0020_webhook_endpoints
Revises: 0018_connect_fees
Create Date: 2026-12-04 06:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0020_webhook_endpoints'
down_revision = '0019_matches_leagues'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'webhook_endpoints',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('organisation_id', sa.Integer(), nullable=False),
        sa.Column('url', sa.String(length=500), nullable=False),
        sa.Column('description', sa.String(length=300), nullable=False),
        sa.Column('event_types', sa.JSON(), nullable=False),
        sa.Column('secret_encrypted', sa.LargeBinary(), nullable=False),
        sa.Column('previous_secret_encrypted', sa.LargeBinary(), nullable=True),
        sa.Column('previous_secret_expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('is_enabled', sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('disabled_reason', sa.Text(), nullable=False),
        sa.Column('consecutive_dead', sa.Integer(), nullable=False),
        sa.Column('failing_since', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['created_by_id'], ['agents.id'], name=op.f('fk_webhook_endpoints_created_by_id_agents')),
        sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_webhook_endpoints_organisation_id_organisations')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_endpoints')),
    )
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_endpoints_organisation_id'), ['organisation_id'], unique=False)

    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('webhook_endpoint_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbox_messages_webhook_endpoint_id'), ['webhook_endpoint_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_outbox_messages_webhook_endpoint_id_webhook_endpoints'), 'webhook_endpoints', ['webhook_endpoint_id'], ['id'])


def downgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_outbox_messages_webhook_endpoint_id_webhook_endpoints'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_outbox_messages_webhook_endpoint_id'))
        batch_op.drop_column('webhook_endpoint_id')
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_endpoints_organisation_id'))
    op.drop_table('webhook_endpoints')
