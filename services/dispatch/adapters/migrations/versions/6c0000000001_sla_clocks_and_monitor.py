"""SLA clocks and the monitor

Revision ID: 6c0000000001
Revises: 6b0000000002
Create Date: 2026-11-28
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

import paht.runtime.db  # noqa: F401


revision = '6c0000000001'
down_revision = '6b0000000002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'sla_clocks',
        sa.Column('clock_id', sa.String(length=80), nullable=False),
        sa.Column('report_id', sa.String(length=36), nullable=False),
        sa.Column('step', sa.String(length=20), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.Column('started_at', paht.runtime.db.UtcDateTime(), nullable=False),
        sa.Column('due_at', paht.runtime.db.UtcDateTime(), nullable=False),
        sa.Column('warn_at', paht.runtime.db.UtcDateTime(), nullable=False),
        sa.Column('responsible_org', sa.String(length=80), nullable=False),
        sa.Column('responsible_subject', sa.String(length=100), nullable=False),
        sa.Column('state', sa.String(length=12), nullable=False),
        sa.Column('stopped_at', paht.runtime.db.UtcDateTime(), nullable=True),
        sa.Column('met', sa.Boolean(), nullable=True),
        sa.Column('warned_at', paht.runtime.db.UtcDateTime(), nullable=True),
        sa.Column('breached_at', paht.runtime.db.UtcDateTime(), nullable=True),
        sa.Column('announced', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('clock_id'),
    )
    op.create_index('ix_sla_clocks_report_id', 'sla_clocks', ['report_id'])
    op.create_index('ix_sla_clocks_to_warn', 'sla_clocks', ['warn_at'],
                    postgresql_where=sa.text("state = 'open' AND warned_at IS NULL"), sqlite_where=sa.text("state = 'open' AND warned_at IS NULL"))
    op.create_index('ix_sla_clocks_to_breach', 'sla_clocks', ['due_at'],
                    postgresql_where=sa.text("state = 'open' AND breached_at IS NULL"), sqlite_where=sa.text("state = 'open' AND breached_at IS NULL"))
    op.create_index('ix_sla_clocks_open_step_due', 'sla_clocks', ['step', 'due_at'],
                    postgresql_where=sa.text("state = 'open'"), sqlite_where=sa.text("state = 'open'"))
    op.create_index('ix_sla_clocks_open_org_due', 'sla_clocks', ['responsible_org', 'due_at'],
                    postgresql_where=sa.text("state = 'open'"), sqlite_where=sa.text("state = 'open'"))
    op.create_table(
        'sla_notices',
        sa.Column('key', sa.String(length=120), nullable=False),
        sa.Column('notice', sa.JSON(), nullable=False),
        sa.Column('created_at', paht.runtime.db.UtcDateTime(), nullable=False),
        sa.Column('next_try_at', paht.runtime.db.UtcDateTime(), nullable=False),
        sa.Column('sent_at', paht.runtime.db.UtcDateTime(), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )
    op.create_index('ix_sla_notices_pending', 'sla_notices', ['next_try_at'],
                    postgresql_where=sa.text("sent_at IS NULL"), sqlite_where=sa.text("sent_at IS NULL"))
    op.create_table(
        'calendar_revisions',
        sa.Column('revision', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('at', paht.runtime.db.UtcDateTime(), nullable=False),
        sa.Column('by', sa.String(length=100), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('revision'),
    )


def downgrade() -> None:
    op.drop_table('calendar_revisions')
    op.drop_index('ix_sla_notices_pending', table_name='sla_notices')
    op.drop_table('sla_notices')
    for name in ('ix_sla_clocks_open_org_due', 'ix_sla_clocks_open_step_due', 'ix_sla_clocks_to_breach', 'ix_sla_clocks_to_warn',
                 'ix_sla_clocks_report_id'):
        op.drop_index(name, table_name='sla_clocks')
    op.drop_table('sla_clocks')
