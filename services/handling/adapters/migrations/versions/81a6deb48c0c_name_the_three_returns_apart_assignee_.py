"""name the three returns apart, assignee history, urgency, required deadline

`return_reason` held both the unit leader's return of a draft (step 7) and the IOC's return of an
approved answer (step 8); the status stayed `in_progress` for both. Stored rows are split here:
the last of the case's ResultReturned / ResultApproved events still in the outbox tells which return
it was (the leader's return is the only one that emits ResultReturned; a case no longer approved
whose last such event is an approval was returned by the IOC). Where the outbox rows are already
purged, the return is taken as the leader's, the more common one.

Revision ID: 81a6deb48c0c
Revises: 1180537c8175
Create Date: 2026-11-28 03:43:01.919266
"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa
import paht.runtime.db  # noqa: F401  (UtcDateTime columns)


revision = '81a6deb48c0c'
down_revision = '1180537c8175'
branch_labels = None
depends_on = None

RETURNED = "paht.handling.v1.ResultReturned"
APPROVED = "paht.handling.v1.ResultApproved"

cases = sa.table(
    "cases",
    sa.column("report_id", sa.String), sa.column("status", sa.String), sa.column("return_reason", sa.Text),
    sa.column("leader_return_reason", sa.Text), sa.column("ioc_return_reason", sa.Text),
    sa.column("handling_due", paht.runtime.db.UtcDateTime()), sa.column("updated_at", paht.runtime.db.UtcDateTime()),
)
outbox = sa.table("outbox", sa.column("seq", sa.BigInteger), sa.column("report_id", sa.String), sa.column("ce_type", sa.String))


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refused_unit_id', sa.String(length=100), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('former_staff_subject', sa.String(length=100), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('urgent', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('leader_return_reason', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('ioc_return_reason', sa.Text(), nullable=False, server_default=''))

    conn = op.get_bind()
    # A case always has a handling deadline (dispatch sends one); an old row without one gets its last change.
    now = datetime.now(timezone.utc)
    for row in conn.execute(sa.select(cases.c.report_id, cases.c.updated_at).where(cases.c.handling_due.is_(None))).all():
        conn.execute(cases.update().where(cases.c.report_id == row.report_id).values(handling_due=row.updated_at or now))
    rows = conn.execute(sa.select(cases.c.report_id, cases.c.status, cases.c.return_reason).where(cases.c.return_reason != "")).all()
    for row in rows:
        last = conn.execute(
            sa.select(outbox.c.ce_type).where(outbox.c.report_id == row.report_id, outbox.c.ce_type.in_([RETURNED, APPROVED]))
            .order_by(outbox.c.seq.desc()).limit(1)
        ).scalar()
        by_ioc = last == APPROVED and row.status != "approved"
        values = {"ioc_return_reason" if by_ioc else "leader_return_reason": row.return_reason}
        if row.status == "in_progress":  # in a round, a case with a return reason is in progress only after that return
            values["status"] = "returned_by_ioc" if by_ioc else "returned_to_staff"
        conn.execute(cases.update().where(cases.c.report_id == row.report_id).values(**values))

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.alter_column('refused_unit_id', server_default=None)
        batch_op.alter_column('former_staff_subject', server_default=None)
        batch_op.alter_column('urgent', server_default=None)
        batch_op.alter_column('leader_return_reason', server_default=None)
        batch_op.alter_column('ioc_return_reason', server_default=None)
        batch_op.alter_column('handling_due', existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.create_index(batch_op.f('ix_cases_handling_due'), ['handling_due'], unique=False)
        batch_op.drop_column('return_reason')


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('return_reason', sa.Text(), nullable=False, server_default=''))

    conn = op.get_bind()
    conn.execute(cases.update().where(cases.c.status == "returned_by_ioc").values(status="in_progress", return_reason=cases.c.ioc_return_reason))
    conn.execute(cases.update().where(cases.c.status == "returned_to_staff").values(status="in_progress", return_reason=cases.c.leader_return_reason))
    conn.execute(cases.update().where(cases.c.return_reason == "", cases.c.leader_return_reason != "").values(return_reason=cases.c.leader_return_reason))
    conn.execute(cases.update().where(cases.c.return_reason == "", cases.c.ioc_return_reason != "").values(return_reason=cases.c.ioc_return_reason))

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.alter_column('return_reason', server_default=None)
        batch_op.drop_index(batch_op.f('ix_cases_handling_due'))
        batch_op.alter_column('handling_due', existing_type=sa.DateTime(timezone=True), nullable=True)
        batch_op.drop_column('ioc_return_reason')
        batch_op.drop_column('leader_return_reason')
        batch_op.drop_column('urgent')
        batch_op.drop_column('former_staff_subject')
        batch_op.drop_column('refused_unit_id')
