"""the leader's note to the IOC

Revision ID: b801c9441142
Revises: fd7040f6b8a5
Create Date: 2026-12-06 12:10:50.554023
"""
from alembic import op
import sqlalchemy as sa


revision = 'b801c9441142'
down_revision = 'fd7040f6b8a5'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('public_reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('approval_note', sa.Text(), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('public_reports', schema=None) as batch_op:
        batch_op.drop_column('approval_note')

