"""Dispatch's use cases: open the step 2 clock, dispatch to one lead agency, take a refused case back."""
from __future__ import annotations

from datetime import datetime, timezone

from google.protobuf.message import Message

from paht.common.v1 import common_pb2
from paht.dispatch.v1 import events_pb2 as ev
from paht.runtime.auth import Principal
from paht.runtime.errors import NotFound
from paht.runtime.events.envelope import Envelope
from paht.runtime.paging import Page
from paht.runtime.uow import UnitOfWork, actor_of
from services.dispatch.domain import deadlines
from services.dispatch.domain.directory import unit_id
from services.dispatch.domain.dispatching import DispatchItem


def on_report_accepted(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Intake accepted a report (step 1): it now waits for dispatch, with its deadline running."""
    if uow.items.get(envelope.report_id) is not None:
        return  # already open: step 1 is accepted once per report, so this is the same acceptance again
    received = event.received_at.ToDatetime(tzinfo=timezone.utc) if event.HasField("received_at") else datetime.now(timezone.utc)
    uow.items.add(DispatchItem.accepted(envelope.report_id, received, event.urgent, event.topic_code, event.group_code))


def on_case_refused_by_agency(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """The lead agency refused (step 3): back to the IOC for step 2 again."""
    item = uow.items.get(envelope.report_id)
    if item is None:  # handling cannot refuse what dispatch never sent: surface it, never drop it
        raise NotFound(f"No dispatch record for report {envelope.report_id}.",
                       f"Không có thông tin điều phối cho phản ánh {envelope.report_id}.")
    item.refused_by_agency(datetime.now(timezone.utc))


def dispatch_to_lead_agency(uow: UnitOfWork, user: Principal, report_id: str, agency_id: str, note: str) -> DispatchItem:
    """Step 2: send the report to exactly one lead agency."""
    now = datetime.now(timezone.utc)
    agency_id = unit_id(agency_id)
    with uow:
        item = uow.items.get(report_id)
        if item is None:
            raise NotFound(
                f"Report {report_id} is not waiting for dispatch (not accepted yet, or unknown).",
                f"Phản ánh {report_id} chưa được tiếp nhận hoặc không tồn tại.",
            )
        agency = uow.directory.unit(agency_id)
        if agency is None:
            raise NotFound(f"No organisation unit '{agency_id}'.", f"Không có đơn vị '{agency_id}'.")
        on_time = item.dispatch_to_lead_agency(agency, now, note)
        event = ev.ReportDispatched(
            lead_agency=common_pb2.OrgRef(id=agency.id, code=agency.code, name=agency.name),
            hub_node=agency.hub_node,
            on_time=on_time,
            round=item.round,
            note=item.note,
            urgent=item.urgent,
        )
        event.dispatch_due.FromDatetime(item.dispatch_due)
        event.handling_due.FromDatetime(deadlines.handling_due(now))
        uow.emit(event, report_id=report_id, version=item.next_version(), actor=actor_of(user))
        uow.commit()
        return item


def dispatch_queue(uow: UnitOfWork, cursor: str | None = None, limit: int | None = None) -> Page:
    """Return one page of the IOC's step-2 work list: urgent first, then the nearest deadline."""
    with uow:
        return uow.items.waiting(cursor, limit)


def get_item(uow: UnitOfWork, report_id: str) -> DispatchItem:
    with uow:
        item = uow.items.get(report_id)
        if item is None:
            raise NotFound(f"No dispatch record for report {report_id}.", f"Không có thông tin điều phối cho phản ánh {report_id}.")
        return item
