"""Sync's use cases: follow dispatch decisions with ownership grants and recalls; report status."""
from __future__ import annotations

from google.protobuf.message import Message
from sqlalchemy import func, select

from paht.common.v1 import common_pb2
from paht.runtime.events.envelope import Envelope
from paht.runtime.uow import UnitOfWork
from paht.sync.v1 import events_pb2 as ev
from services.sync.domain.ownership import Ownership

SYSTEM = common_pb2.Actor(subject="system", role="sync")


def on_report_dispatched(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Grant the lead agency's hub node the handling steps (and recall them from any earlier hub)."""
    own = uow.session.get(Ownership, envelope.report_id)
    if own is None:
        own = Ownership(report_id=envelope.report_id)
        uow.session.add(own)
    recalled, granted = own.follow_dispatch(event.hub_node, event.lead_agency.id)
    if recalled:
        uow.emit(
            ev.OwnershipRecalled(node_id=recalled[0], epoch=recalled[1], reason="re-dispatched"),
            report_id=own.report_id, version=own.next_version(), actor=SYSTEM, epoch=recalled[1],
        )
    if granted:
        msg = ev.OwnershipGranted(node_id=granted[0], epoch=granted[1])
        msg.lead_agency.CopyFrom(event.lead_agency)
        uow.emit(msg, report_id=own.report_id, version=own.next_version(), actor=SYSTEM, epoch=granted[1])


def get_ownership(uow: UnitOfWork, report_id: str) -> Ownership:
    with uow:
        return uow.session.get(Ownership, report_id) or Ownership(report_id=report_id)


def status(uow: UnitOfWork) -> dict:
    with uow:
        rows = uow.session.execute(select(Ownership.node_id, func.count()).group_by(Ownership.node_id)).all()
    return {"reports_by_node": {node: n for node, n in rows}}
