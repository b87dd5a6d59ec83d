"""the versioned directory (helper: directory)

Revision ID: 6a0000000001
Revises: 2a6f6768ed9f
Create Date: 2026-11-28
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

import paht.runtime.db  # noqa: F401


revision = '6a0000000001'
down_revision = '2a6f6768ed9f'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
