"""Sync's use cases: follow dispatch decisions with ownership grants and recalls; report status."""
from __future__ import annotations


from google.protobuf.message import Message

from paht.common.v1 import common_pb2
from paht.runtime.auth import Principal
from paht.runtime.errors import NotFound
from paht.runtime.events.envelope import Envelope
from paht.runtime.ids import ID_PATTERN, looks_like_id
from paht.runtime.uow import UnitOfWork
from paht.sync.v1 import events_pb2 as ev
from services.sync.domain.ownership import Ownership

SYSTEM = common_pb2.Actor(subject="system", role="sync")
REPORT_ID = ID_PATTERN


def on_report_dispatched(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Grant the lead agency's hub node the handling steps (and recall them from any earlier hub)."""
    own = uow.ownerships.get_or_start(envelope.report_id)
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


def _not_found() -> NotFound:
    # The same answer for unknown and for hidden: a person outside the lead agency learns nothing.
    return NotFound("No ownership is known for this report.", "Không có thông tin quyền xử lý của phản ánh này.")


def ownership_of(uow: UnitOfWork, report_id: str) -> Ownership:
    """Return a dispatched report's ownership, for services (no person's scope applies)."""
    with uow:
        own = uow.ownerships.get(report_id) if looks_like_id(report_id) else None
    if own is None:
        raise _not_found()
    return own


def get_ownership(uow: UnitOfWork, user: Principal, report_id: str) -> Ownership:
    """Return a report's ownership to a person who may see it: the IOC, or people of its lead agency."""
    own = ownership_of(uow, report_id)
    if not own.visible_to(user):
        raise _not_found()
    return own


def status(uow: UnitOfWork) -> dict:
    with uow:
        return {"reports_by_node": uow.ownerships.count_by_node()}
