"""the versioned directory: areas served, file order, topic groups with validity, revisions, boundaries

Existing rows are kept and completed: each unit gets the areas it serves (an administrative unit its own
code, any other unit what its parent serves) and a position; a provincial-style IOC under a district
becomes a "district_ioc"; topics get their validity (open), position and an English group name, and
their groups become rows of topic_groups. The revision tables start empty: the next seed or import
writes revision 1.

Revision ID: 6a0000000001
Revises: 2a6f6768ed9f
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op

import paht.runtime.db

revision = '6a0000000001'
down_revision = '2a6f6768ed9f'
branch_labels = None
depends_on = None

ADMINISTRATIVE = {"province", "district", "ward", "commune"}


def _revisions(name: str) -> None:
    op.create_table(name,
    sa.Column('revision', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', paht.runtime.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('by', sa.String(length=100), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('snapshot', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('revision')
    )


def _unit_areas(conn) -> None:
    units = sa.table("org_units", sa.column("id", sa.String), sa.column("code", sa.String), sa.column("kind", sa.String),
                     sa.column("parent_id", sa.String), sa.column("areas", sa.JSON), sa.column("position", sa.Integer))
    rows = {r.id: r for r in conn.execute(sa.select(units.c.id, units.c.code, units.c.kind, units.c.parent_id).order_by(units.c.id))}
    kinds = {}
    for r in rows.values():  # the district IOC gets its own kind
        parent = rows.get(r.parent_id or "")
        kinds[r.id] = "district_ioc" if r.kind == "ioc" and parent is not None and parent.kind == "district" else r.kind
    areas: dict[str, list] = {}

    def resolve(unit_id: str, depth: int = 0) -> list:
        if unit_id in areas or depth > 50:
            return areas.get(unit_id, [])
        r = rows[unit_id]
        if kinds[unit_id] in ADMINISTRATIVE:
            areas[unit_id] = [r.code]
        else:
            areas[unit_id] = list(resolve(r.parent_id, depth + 1)) if r.parent_id in rows and r.parent_id != unit_id else []
        return areas[unit_id]

    for position, unit_id in enumerate(rows):
        conn.execute(units.update().where(units.c.id == unit_id).values(areas=resolve(unit_id), position=position, kind=kinds[unit_id]))


def _topic_groups(conn) -> None:
    topics = sa.table("topics", sa.column("code", sa.String), sa.column("group_code", sa.String), sa.column("group_name", sa.String),
                      sa.column("position", sa.Integer), sa.column("group_name_en", sa.String))
    groups = sa.table("topic_groups", sa.column("code", sa.String), sa.column("name", sa.String), sa.column("name_en", sa.String),
                      sa.column("position", sa.Integer))
    query = sa.select(topics.c.code, topics.c.group_code, topics.c.group_name).order_by(topics.c.group_code, topics.c.code)
    rows = conn.execute(query).all()
    seen: dict[str, str] = {}
    for position, r in enumerate(rows):
        conn.execute(topics.update().where(topics.c.code == r.code).values(position=position, group_name_en=""))
        seen.setdefault(r.group_code, r.group_name)
    for position, (code, name) in enumerate(seen.items()):
        conn.execute(groups.insert().values(code=code, name=name, name_en="", position=position))


def upgrade() -> None:
    with op.batch_alter_table('org_units', schema=None) as batch_op:
        batch_op.add_column(sa.Column('areas', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('position', sa.Integer(), nullable=True))
    with op.batch_alter_table('topics', schema=None) as batch_op:
        batch_op.add_column(sa.Column('group_name_en', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('position', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('valid_from', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('valid_to', sa.Date(), nullable=True))
    op.create_table('topic_groups',
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('name_en', sa.String(length=300), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=True),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.PrimaryKeyConstraint('code')
    )
    _revisions('directory_revisions')
    _revisions('taxonomy_revisions')
    op.create_table('boundaries',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=True),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('approximate', sa.Boolean(), nullable=False),
    sa.Column('min_lon', sa.Float(), nullable=False),
    sa.Column('min_lat', sa.Float(), nullable=False),
    sa.Column('max_lon', sa.Float(), nullable=False),
    sa.Column('max_lat', sa.Float(), nullable=False),
    sa.Column('area', sa.Float(), nullable=False),
    sa.Column('geometry', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('boundaries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_boundaries_code'), ['code'], unique=False)

    conn = op.get_bind()
    _unit_areas(conn)
    _topic_groups(conn)
    with op.batch_alter_table('org_units', schema=None) as batch_op:
        batch_op.alter_column('areas', existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column('position', existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table('topics', schema=None) as batch_op:
        batch_op.alter_column('group_name_en', existing_type=sa.String(length=300), nullable=False)
        batch_op.alter_column('position', existing_type=sa.Integer(), nullable=False)


def downgrade() -> None:
    op.execute("UPDATE org_units SET kind = 'ioc' WHERE kind = 'district_ioc'")
    with op.batch_alter_table('boundaries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_boundaries_code'))
    op.drop_table('boundaries')
    op.drop_table('taxonomy_revisions')
    op.drop_table('directory_revisions')
    op.drop_table('topic_groups')
    with op.batch_alter_table('topics', schema=None) as batch_op:
        batch_op.drop_column('valid_to')
        batch_op.drop_column('valid_from')
        batch_op.drop_column('position')
        batch_op.drop_column('group_name_en')
    with op.batch_alter_table('org_units', schema=None) as batch_op:
        batch_op.drop_column('position')
        batch_op.drop_column('areas')
