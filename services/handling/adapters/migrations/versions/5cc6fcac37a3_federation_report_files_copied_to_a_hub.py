"""federation: report files copied to a hub

Revision ID: 5cc6fcac37a3
Revises: 8e8c9e8d9856
Create Date: 2026-12-06 15:46:46.889456
"""
from alembic import op
import sqlalchemy as sa


revision = '5cc6fcac37a3'
down_revision = '8e8c9e8d9856'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('report_file_copies',
    sa.Column('media_id', sa.String(length=36), nullable=False),
    sa.Column('report_id', sa.String(length=36), nullable=False),
    sa.Column('media_type', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_try_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('copied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.String(length=300), nullable=False),
    sa.PrimaryKeyConstraint('media_id')
    )
    with op.batch_alter_table('report_file_copies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_file_copies_report_id'), ['report_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_file_copies_status'), ['status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('report_file_copies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_file_copies_status'))
        batch_op.drop_index(batch_op.f('ix_report_file_copies_report_id'))

    op.drop_table('report_file_copies')
