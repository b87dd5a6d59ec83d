"""reporters' notices, browser subscriptions and the published answer

Revision ID: 8ed0a6888c93
Revises: ac27ce76405e
Create Date: 2026-12-06

Reporters are told of every change of their report: one notice row per change and channel (sent by the background
sender), the browsers they subscribed to Web Push, and the answer step 8 published, kept for their own page.
"""
from alembic import op
import sqlalchemy as sa


revision = '8ed0a6888c93'
down_revision = 'ac27ce76405e'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('push_subscriptions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('endpoint', sa.String(length=1000), nullable=False),
    sa.Column('endpoint_hash', sa.String(length=64), nullable=False),
    sa.Column('p256dh', sa.String(length=200), nullable=False),
    sa.Column('auth', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('push_subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_push_subscriptions_phone'), ['phone'], unique=False)
        batch_op.create_index('uq_push_subscriptions_endpoint', ['endpoint_hash'], unique=True)

    op.create_table('reporter_notifications',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('report_id', sa.String(length=36), nullable=False),
    sa.Column('reporter_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('subject', sa.String(length=200), server_default='', nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claim', sa.String(length=36), server_default='', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('provider_id', sa.String(length=200), server_default='', nullable=False),
    sa.Column('error', sa.String(length=200), server_default='', nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('reporter_notifications', schema=None) as batch_op:
        batch_op.create_index('ix_reporter_notifications_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_reporter_notifications_report_id'), ['report_id'], unique=False)
        batch_op.create_index('uq_reporter_notifications_key', ['key'], unique=True)

    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('answer_text', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('answer_visibility', sa.String(length=20), server_default='', nullable=False))
        batch_op.add_column(sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True))




def downgrade() -> None:

    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_column('answered_at')
        batch_op.drop_column('answer_visibility')
        batch_op.drop_column('answer_text')

    with op.batch_alter_table('reporter_notifications', schema=None) as batch_op:
        batch_op.drop_index('uq_reporter_notifications_key')
        batch_op.drop_index(batch_op.f('ix_reporter_notifications_report_id'))
        batch_op.drop_index('ix_reporter_notifications_due')

    op.drop_table('reporter_notifications')
    with op.batch_alter_table('push_subscriptions', schema=None) as batch_op:
        batch_op.drop_index('uq_push_subscriptions_endpoint')
        batch_op.drop_index(batch_op.f('ix_push_subscriptions_phone'))

    op.drop_table('push_subscriptions')

