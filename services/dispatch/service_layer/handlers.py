"""Dispatch's use cases: open the step 2 clock, dispatch to one lead agency, take a refused case back."""
from __future__ import annotations

from datetime import datetime, timezone

from google.protobuf.message import Message
from sqlalchemy import select

from paht.common.v1 import common_pb2
from paht.dispatch.v1 import events_pb2 as ev
from paht.runtime.auth import Principal
from paht.runtime.errors import NotFound
from paht.runtime.events.envelope import Envelope
from paht.runtime.uow import UnitOfWork, actor_of
from services.dispatch.domain import deadlines
from services.dispatch.domain.directory import OrgUnit
from services.dispatch.domain.dispatching import DispatchItem, Status



def on_report_accepted(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Intake accepted a report (step 1): it now waits for dispatch, with its deadline running."""
    if uow.session.get(DispatchItem, envelope.report_id) is not None:
        return
    received = event.received_at.ToDatetime(tzinfo=timezone.utc) if event.HasField("received_at") else datetime.now(timezone.utc)
    uow.session.add(DispatchItem.accepted(envelope.report_id, received, event.urgent, event.topic_code, event.group_code))


def on_case_refused_by_agency(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """The lead agency refused (step 3): back to the IOC for step 2 again."""
    item = uow.session.get(DispatchItem, envelope.report_id)
    if item is not None:
        item.return_from_agency(datetime.now(timezone.utc))


def dispatch_to_lead_agency(uow: UnitOfWork, user: Principal, report_id: str, agency_id: str, note: str) -> DispatchItem:
    """Step 2: send the report to exactly one lead agency."""
    now = datetime.now(timezone.utc)
    with uow:
        item = uow.session.get(DispatchItem, report_id)
        if item is None:
            raise NotFound(
                f"Report {report_id} is not waiting for dispatch (not accepted yet, or unknown).",
                f"Phản ánh {report_id} chưa được tiếp nhận hoặc không tồn tại.",
            )
        agency = uow.session.get(OrgUnit, agency_id)
        if agency is None:
            raise NotFound(f"No organisation unit '{agency_id}'.", f"Không có đơn vị '{agency_id}'.")
        on_time = item.dispatch_to_lead_agency(agency, now, note)
        event = ev.ReportDispatched(
            lead_agency=common_pb2.OrgRef(id=agency.id, code=agency.code, name=agency.name),
            hub_node=agency.hub_node,
            on_time=on_time,
            round=item.round,
            note=note,
        )
        event.dispatch_due.FromDatetime(item.dispatch_due)
        event.handling_due.FromDatetime(deadlines.handling_due(now))
        uow.emit(event, report_id=report_id, version=item.next_version(), actor=actor_of(user))
        uow.commit()
        return item


def dispatch_queue(uow: UnitOfWork, limit: int = 200) -> list[DispatchItem]:
    with uow:
        q = (
            select(DispatchItem)
            .where(DispatchItem.status.in_([Status.AWAITING_DISPATCH.value, Status.RETURNED.value]))
            .order_by(DispatchItem.dispatch_due)
            .limit(limit)
        )
        return list(uow.session.execute(q).scalars())


def get_item(uow: UnitOfWork, report_id: str) -> DispatchItem:
    with uow:
        item = uow.session.get(DispatchItem, report_id)
        if item is None:
            raise NotFound(f"No dispatch record for report {report_id}.", f"Không có thông tin điều phối cho phản ánh {report_id}.")
        return item
