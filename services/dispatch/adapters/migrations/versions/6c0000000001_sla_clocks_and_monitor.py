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
    pass


def downgrade() -> None:
    pass
