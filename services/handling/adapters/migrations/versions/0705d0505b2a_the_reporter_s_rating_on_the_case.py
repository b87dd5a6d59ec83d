"""the reporter's rating on the case

Revision ID: 0705d0505b2a
Revises: 27c2129b4f5e
Create Date: 2026-12-06 11:47:41.739087
"""
from alembic import op
import sqlalchemy as sa


revision = '0705d0505b2a'
down_revision = '27c2129b4f5e'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reporter_rating', sa.String(length=20), server_default='', nullable=False))
        batch_op.add_column(sa.Column('reporter_rating_comment', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('rated_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('rated_at')
        batch_op.drop_column('reporter_rating_comment')
        batch_op.drop_column('reporter_rating')

