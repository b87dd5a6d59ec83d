"""hub copies of reports in their area

Revision ID: 8fbf56111685
Revises: ee44e8f182c2
Create Date: 2026-12-06 18:24:54.183770
"""
from alembic import op
import sqlalchemy as sa


revision = '8fbf56111685'
down_revision = 'ee44e8f182c2'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('report_copies',
    sa.Column('report_id', sa.String(length=36), nullable=False),
    sa.Column('hub', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('report_id', 'hub')
    )


def downgrade() -> None:
    op.drop_table('report_copies')
