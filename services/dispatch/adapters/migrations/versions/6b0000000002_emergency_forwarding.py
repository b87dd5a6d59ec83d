"""emergency forwarding to 113/114/115

Revision ID: 6b0000000002
Revises: 6b0000000001
Create Date: 2026-11-28
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

import paht.runtime.db  # noqa: F401


revision = '6b0000000002'
down_revision = '6b0000000001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
