"""name the three returns apart; approval time for the step 8 queue

The status `returned` (the IOC returned an approved answer at step 8) becomes `returned_by_ioc`.
The timeline kind `returned` held two steps: the IOC's return at step 8 and the unit leader's return
of a draft to staff at step 7. The IOC can only return an approved answer, and the leader only a
draft, so an entry that directly follows an `approved` entry of the same report (in event time) is
the IOC's (`returned_by_ioc`), any other is the leader's (`returned_to_staff`).

`approved_at` (the start of the step 8 clock, the editorial queue's order) is filled from the
report's last `approved` timeline entry; an approved report without one takes its receipt time.

Revision ID: 4236bdf88d08
Revises: 505430b7ade0
Create Date: 2026-11-28 03:44:18.837130
"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa
import paht.runtime.db  # noqa: F401  (UtcDateTime columns)


revision = '4236bdf88d08'
down_revision = '505430b7ade0'
branch_labels = None
depends_on = None

reports = sa.table(
    "public_reports",
    sa.column("report_id", sa.String), sa.column("status", sa.String),
    sa.column("received_at", paht.runtime.db.UtcDateTime()), sa.column("approved_at", paht.runtime.db.UtcDateTime()),
)
timeline = sa.table(
    "timeline_entries",
    sa.column("id", sa.String), sa.column("report_id", sa.String), sa.column("kind", sa.String),
    sa.column("at", paht.runtime.db.UtcDateTime()),
)


def upgrade() -> None:
    with op.batch_alter_table('public_reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('approved_at', paht.runtime.db.UtcDateTime(timezone=True), nullable=True))

    conn = op.get_bind()
    conn.execute(reports.update().where(reports.c.status == "returned").values(status="returned_by_ioc"))

    returned = conn.execute(sa.select(timeline.c.report_id).where(timeline.c.kind == "returned").distinct()).scalars().all()
    for report_id in returned:
        previous = None
        steps = conn.execute(sa.select(timeline.c.id, timeline.c.kind).where(timeline.c.report_id == report_id)
                             .order_by(timeline.c.at, timeline.c.id)).all()
        for step in steps:
            if step.kind == "returned":
                kind = "returned_by_ioc" if previous == "approved" else "returned_to_staff"
                conn.execute(timeline.update().where(timeline.c.id == step.id).values(kind=kind))
            previous = step.kind

    last_approval = conn.execute(sa.select(timeline.c.report_id, sa.func.max(timeline.c.at).label("at"))
                                 .where(timeline.c.kind == "approved").group_by(timeline.c.report_id)).all()
    for row in last_approval:
        conn.execute(reports.update().where(reports.c.report_id == row.report_id).values(approved_at=row.at))
    now = datetime.now(timezone.utc)
    for row in conn.execute(sa.select(reports.c.report_id, reports.c.received_at)
                            .where(reports.c.status == "approved", reports.c.approved_at.is_(None))).all():
        conn.execute(reports.update().where(reports.c.report_id == row.report_id).values(approved_at=row.received_at or now))


def downgrade() -> None:
    conn = op.get_bind()
    conn.execute(reports.update().where(reports.c.status == "returned_by_ioc").values(status="returned"))
    conn.execute(timeline.update().where(timeline.c.kind.in_(["returned_by_ioc", "returned_to_staff"])).values(kind="returned"))
    with op.batch_alter_table('public_reports', schema=None) as batch_op:
        batch_op.drop_column('approved_at')
