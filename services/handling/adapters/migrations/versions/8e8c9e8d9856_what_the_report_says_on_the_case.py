"""what the report says, on the case

Revision ID: 8e8c9e8d9856
Revises: 0705d0505b2a
Create Date: 2026-12-06 12:23:14.342700
"""
from alembic import op
import sqlalchemy as sa


revision = '8e8c9e8d9856'
down_revision = '0705d0505b2a'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tracking_code', sa.String(length=20), server_default='', nullable=False))
        batch_op.add_column(sa.Column('description', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('address_text', sa.String(length=300), server_default='', nullable=False))
        batch_op.add_column(sa.Column('lat', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('lon', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('media', sa.JSON(), server_default='[]', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('media')
        batch_op.drop_column('lon')
        batch_op.drop_column('lat')
        batch_op.drop_column('address_text')
        batch_op.drop_column('description')
        batch_op.drop_column('tracking_code')

