"""emergency forwarding to 113/114/115

Revision ID: 6b0000000002
Revises: 6b0000000001
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op

import paht.runtime.db

revision = '6b0000000002'
down_revision = '6b0000000001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'emergency_forwards',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('report_id', sa.String(length=36), nullable=False),
        sa.Column('service', sa.String(length=3), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('forwarded_at', paht.runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column('forwarded_by', sa.String(length=100), nullable=False),
        sa.Column('ioc_unit', sa.String(length=80), nullable=False),
        sa.Column('due_at', paht.runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column('ack_timeout_s', sa.Integer(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', paht.runtime.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=False),
        sa.Column('delivered_at', paht.runtime.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column('desk_reference', sa.String(length=200), nullable=False),
        sa.Column('acknowledged_at', paht.runtime.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column('acknowledged_by', sa.String(length=100), nullable=False),
        sa.Column('ack_channel', sa.String(length=10), nullable=False),
        sa.Column('ack_note', sa.Text(), nullable=False),
        sa.Column('alerts', sa.Integer(), nullable=False),
        sa.Column('alerts_sent', sa.Integer(), nullable=False),
        sa.Column('alert_due_at', paht.runtime.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column('alert_claimed_at', paht.runtime.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('report_id', 'service', name='uq_emergency_forwards_report_service'),
    )
    with op.batch_alter_table('emergency_forwards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_emergency_forwards_report_id'), ['report_id'], unique=False)
        batch_op.create_index('ix_emergency_forwards_to_send', ['next_attempt_at'], unique=False,
                              postgresql_where=sa.text("state = 'pending'"), sqlite_where=sa.text("state = 'pending'"))
        batch_op.create_index('ix_emergency_forwards_to_alert', ['alert_due_at'], unique=False,
                              postgresql_where=sa.text('alert_due_at IS NOT NULL'), sqlite_where=sa.text('alert_due_at IS NOT NULL'))
        batch_op.create_index('ix_emergency_forwards_unsent_alerts', ['alert_claimed_at'], unique=False,
                              postgresql_where=sa.text('alerts_sent < alerts'), sqlite_where=sa.text('alerts_sent < alerts'))
        batch_op.create_index('ix_emergency_forwards_awaiting', ['service', 'forwarded_at'], unique=False,
                              postgresql_where=sa.text("state <> 'acknowledged'"), sqlite_where=sa.text("state <> 'acknowledged'"))


def downgrade() -> None:
    with op.batch_alter_table('emergency_forwards', schema=None) as batch_op:
        batch_op.drop_index('ix_emergency_forwards_awaiting')
        batch_op.drop_index('ix_emergency_forwards_unsent_alerts')
        batch_op.drop_index('ix_emergency_forwards_to_alert')
        batch_op.drop_index('ix_emergency_forwards_to_send')
        batch_op.drop_index(batch_op.f('ix_emergency_forwards_report_id'))
    op.drop_table('emergency_forwards')
