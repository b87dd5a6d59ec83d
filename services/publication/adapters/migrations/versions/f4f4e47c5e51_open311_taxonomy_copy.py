"""open311 taxonomy copy (service_topics: the services of Open311 GeoReport v2)

Revision ID: f4f4e47c5e51
Revises: ef2fe1c45981
Create Date: 2026-12-06 10:34:06.452631
"""
from alembic import op
import sqlalchemy as sa
import paht.runtime.db  # noqa: F401  (UtcDateTime columns)


revision = 'f4f4e47c5e51'
down_revision = 'ef2fe1c45981'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('service_topics',
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('group_code', sa.String(length=60), nullable=False),
    sa.Column('group_name', sa.String(length=300), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=True),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('keywords', sa.JSON(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('copied_at', paht.runtime.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('code')
    )


def downgrade() -> None:
    op.drop_table('service_topics')
