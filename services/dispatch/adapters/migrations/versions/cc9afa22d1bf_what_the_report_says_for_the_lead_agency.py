"""what the report says, for the lead agency

Revision ID: cc9afa22d1bf
Revises: c89e873a1695
Create Date: 2026-12-06 12:22:58.021159
"""
from alembic import op
import sqlalchemy as sa


revision = 'cc9afa22d1bf'
down_revision = 'c89e873a1695'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('dispatch_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tracking_code', sa.String(length=20), server_default='', nullable=False))
        batch_op.add_column(sa.Column('description', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('address_text', sa.String(length=300), server_default='', nullable=False))
        batch_op.add_column(sa.Column('media', sa.JSON(), server_default='[]', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('dispatch_items', schema=None) as batch_op:
        batch_op.drop_column('media')
        batch_op.drop_column('address_text')
        batch_op.drop_column('description')
        batch_op.drop_column('tracking_code')

