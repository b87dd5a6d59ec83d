"""step 2: the place of each report, rounds of dispatch, escalations to the Steering Committee

dispatch_items gains the place routing needs (location, area_code) and the start of its step-2 clock;
dispatch_rounds keeps every time a report was sent to a lead agency (and its refusal); dispatch_escalations
keeps every report to the Steering Committee.

Existing rows: clock_started_at is the arrival, except for reports refused by their agency, whose clock
restarted at the refusal: that instant is their deadline minus one hour (exact for a refusal between 06:00
and 22:00, as every refusal in office hours is). Rounds are rebuilt from the ReportDispatched events still
in the outbox; a dispatched report whose event was already pruned gets one round from what its row says
(sent at its arrival, by an unknown person). A refused report's last round is marked refused at that same
instant, reason unknown (the reason was never stored before); earlier refusals keep no time.

Revision ID: 6b0000000001
Revises: 6a0000000001
Create Date: 2026-11-28
"""
from datetime import timedelta, timezone

import sqlalchemy as sa
from alembic import op

import paht.runtime.db

revision = '6b0000000001'
down_revision = '6a0000000001'
branch_labels = None
depends_on = None

UTC = paht.runtime.db.UtcDateTime


def upgrade() -> None:
    with op.batch_alter_table('dispatch_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('location_lat', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('location_lon', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('area_code', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('clock_started_at', UTC(timezone=True), nullable=True))

    op.create_table('dispatch_rounds',
    sa.Column('report_id', sa.String(length=36), nullable=False),
    sa.Column('round', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('agency_id', sa.String(length=80), nullable=False),
    sa.Column('agency_name', sa.String(length=300), nullable=False),
    sa.Column('hub_node', sa.String(length=40), nullable=False),
    sa.Column('dispatched_at', UTC(timezone=True), nullable=False),
    sa.Column('dispatched_by', sa.String(length=100), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('competence_reason', sa.Text(), nullable=False),
    sa.Column('designated_by_committee', sa.Boolean(), nullable=False),
    sa.Column('decision', sa.Text(), nullable=False),
    sa.Column('on_time', sa.Boolean(), nullable=False),
    sa.Column('refused_at', UTC(timezone=True), nullable=True),
    sa.Column('refusal_reason', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('report_id', 'round')
    )
    with op.batch_alter_table('dispatch_rounds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dispatch_rounds_agency_id'), ['agency_id'], unique=False)

    op.create_table('dispatch_escalations',
    sa.Column('report_id', sa.String(length=36), nullable=False),
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('escalated_at', UTC(timezone=True), nullable=False),
    sa.Column('escalated_by', sa.String(length=100), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('candidates', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('closed_at', UTC(timezone=True), nullable=True),
    sa.Column('closed_by', sa.String(length=100), nullable=False),
    sa.Column('decision', sa.Text(), nullable=False),
    sa.Column('agency_id', sa.String(length=80), nullable=False),
    sa.PrimaryKeyConstraint('report_id', 'seq')
    )
    with op.batch_alter_table('dispatch_escalations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dispatch_escalations_state'), ['state'], unique=False)

    _migrate_rows(op.get_bind())

    with op.batch_alter_table('dispatch_items', schema=None) as batch_op:
        batch_op.alter_column('area_code', existing_type=sa.String(length=20), nullable=False)
        batch_op.alter_column('clock_started_at', existing_type=UTC(timezone=True), nullable=False)


def _migrate_rows(conn) -> None:
    """Fill the new columns of existing items and rebuild their rounds (see the module's docstring)."""
    items = sa.table('dispatch_items', sa.column('report_id', sa.String), sa.column('status', sa.String), sa.column('received_at', UTC()),
                     sa.column('dispatch_due', UTC()), sa.column('lead_agency_id', sa.String), sa.column('round', sa.Integer),
                     sa.column('note', sa.Text), sa.column('area_code', sa.String), sa.column('clock_started_at', UTC()))
    units = sa.table('org_units', sa.column('id', sa.String), sa.column('name', sa.String), sa.column('hub_node', sa.String))
    outbox = sa.table('outbox', sa.column('seq', sa.Integer), sa.column('report_id', sa.String), sa.column('ce_type', sa.String),
                      sa.column('payload', sa.LargeBinary), sa.column('created_at', UTC()))
    rounds = sa.table('dispatch_rounds', *[sa.column(n) for n in (
        'report_id', 'round', 'agency_id', 'agency_name', 'hub_node', 'dispatched_at', 'dispatched_by', 'note', 'competence_reason',
        'designated_by_committee', 'decision', 'on_time', 'refused_at', 'refusal_reason')])
    unit_info = {r.id: (r.name, r.hub_node) for r in conn.execute(sa.select(units.c.id, units.c.name, units.c.hub_node))}
    sent = _rounds_in_outbox(conn, outbox)
    for item in conn.execute(sa.select(items)).all():
        refused = item.status == 'refused_by_agency'
        restart = item.dispatch_due - timedelta(hours=1) if refused else item.received_at
        conn.execute(items.update().where(items.c.report_id == item.report_id).values(area_code='', clock_started_at=restart))
        known = dict(sent.get(item.report_id, {}))
        if item.status == 'dispatched' and item.round and item.round not in known and item.lead_agency_id:
            name, hub = unit_info.get(item.lead_agency_id, (item.lead_agency_id, ''))
            known[item.round] = {'agency_id': item.lead_agency_id, 'agency_name': name, 'hub_node': hub or '',
                                 'dispatched_at': item.received_at, 'dispatched_by': '', 'note': item.note or '', 'on_time': True}
        for number, r in sorted(known.items()):
            conn.execute(rounds.insert().values(
                report_id=item.report_id, round=number, competence_reason='', designated_by_committee=False, decision='',
                refused_at=restart if refused and number == item.round else None, refusal_reason='', **r))


def _rounds_in_outbox(conn, outbox) -> dict[str, dict[int, dict]]:
    """Return {report id: {round: its columns}} from the ReportDispatched events still in the outbox."""
    from paht.dispatch.v1 import events_pb2

    found: dict[str, dict[int, dict]] = {}
    q = sa.select(outbox.c.report_id, outbox.c.payload, outbox.c.created_at).where(outbox.c.ce_type == 'paht.dispatch.v1.ReportDispatched')
    for row in conn.execute(q.order_by(outbox.c.seq)):
        event = events_pb2.ReportDispatched.FromString(row.payload)
        found.setdefault(row.report_id, {})[event.round or 1] = {
            'agency_id': event.lead_agency.id, 'agency_name': event.lead_agency.name or event.lead_agency.id, 'hub_node': event.hub_node,
            'dispatched_at': event.meta.occurred_at.ToDatetime(tzinfo=timezone.utc) if event.meta.HasField('occurred_at')
            else row.created_at,
            'dispatched_by': event.meta.actor.subject, 'note': event.note, 'on_time': event.on_time,
        }
    return found


def downgrade() -> None:
    with op.batch_alter_table('dispatch_escalations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dispatch_escalations_state'))
    op.drop_table('dispatch_escalations')
    with op.batch_alter_table('dispatch_rounds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dispatch_rounds_agency_id'))
    op.drop_table('dispatch_rounds')
    with op.batch_alter_table('dispatch_items', schema=None) as batch_op:
        batch_op.drop_column('clock_started_at')
        batch_op.drop_column('area_code')
        batch_op.drop_column('location_lon')
        batch_op.drop_column('location_lat')
