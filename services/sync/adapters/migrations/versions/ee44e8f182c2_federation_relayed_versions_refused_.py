"""federation: relayed versions, refused events, reference snapshots

Revision ID: ee44e8f182c2
Revises: 32359634e4f6
Create Date: 2026-12-06 15:20:20.984508
"""
from alembic import op
import sqlalchemy as sa


revision = 'ee44e8f182c2'
down_revision = '32359634e4f6'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('reference_snapshots',
    sa.Column('report_id', sa.String(length=36), nullable=False),
    sa.Column('ce_type', sa.String(length=200), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    sa.Column('headers', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('report_id')
    )
    op.create_table('refused_events',
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('origin_node', sa.String(length=40), nullable=False),
    sa.Column('ce_type', sa.String(length=200), nullable=False),
    sa.Column('report_id', sa.String(length=36), nullable=False),
    sa.Column('origin_version', sa.BigInteger(), nullable=False),
    sa.Column('epoch', sa.BigInteger(), nullable=False),
    sa.Column('owner_node', sa.String(length=40), nullable=False),
    sa.Column('owner_epoch', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    sa.Column('headers', sa.JSON(), nullable=False),
    sa.Column('refused_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('event_id')
    )
    with op.batch_alter_table('refused_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refused_events_origin_node'), ['origin_node'], unique=False)
        batch_op.create_index(batch_op.f('ix_refused_events_refused_at'), ['refused_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_refused_events_report_id'), ['report_id'], unique=False)

    op.create_table('relayed_versions',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )


def downgrade() -> None:
    op.drop_table('relayed_versions')
    with op.batch_alter_table('refused_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refused_events_report_id'))
        batch_op.drop_index(batch_op.f('ix_refused_events_refused_at'))
        batch_op.drop_index(batch_op.f('ix_refused_events_origin_node'))

    op.drop_table('refused_events')
    op.drop_table('reference_snapshots')
