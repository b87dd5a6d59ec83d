"""federation: files released to hub nodes

Revision ID: 609494238bba
Revises: ac6a6cc0e80e
Create Date: 2026-12-06 15:46:20.711165
"""
from alembic import op
import sqlalchemy as sa


revision = '609494238bba'
down_revision = 'ac6a6cc0e80e'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('file_releases',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('report_id', sa.String(length=36), nullable=False),
    sa.Column('media_id', sa.String(length=36), nullable=False),
    sa.Column('node_id', sa.String(length=40), nullable=False),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('file_releases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_file_releases_report_id'), ['report_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('file_releases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_file_releases_report_id'))

    op.drop_table('file_releases')
