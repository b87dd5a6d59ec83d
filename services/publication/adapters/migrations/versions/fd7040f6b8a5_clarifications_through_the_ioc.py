"""clarifications through the IOC

Revision ID: fd7040f6b8a5
Revises: 87d4f410d97b
Create Date: 2026-12-06 11:43:21.287605
"""
from alembic import op
import sqlalchemy as sa


revision = 'fd7040f6b8a5'
down_revision = '87d4f410d97b'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A clarification approved by the lead unit now waits for the IOC (step 8) before the reporter reads it.
    with op.batch_alter_table('clarifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('publish_due', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('return_reason', sa.Text(), server_default='', nullable=False))
        batch_op.create_index('ix_clarifications_status_approved', ['status', 'approved_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('clarifications', schema=None) as batch_op:
        batch_op.drop_index('ix_clarifications_status_approved')
        batch_op.drop_column('return_reason')
        batch_op.drop_column('publish_due')
        batch_op.drop_column('approved_at')
