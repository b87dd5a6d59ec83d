"""Dispatch's use cases for step 2: open the clock, dispatch to one lead agency, take a refused case back,
report a dispute to the Steering Committee, withdraw it, and record the Committee's decision."""
from __future__ import annotations

from datetime import datetime, timezone

from google.protobuf.json_format import MessageToDict, ParseDict
from google.protobuf.message import Message

from paht.common.v1 import common_pb2
from paht.dispatch.v1 import events_pb2 as ev
from paht.runtime.auth import Principal
from paht.runtime.errors import NotFound
from paht.runtime.events.envelope import Envelope
from paht.runtime.paging import Page
from paht.runtime.sla import SlaEngine, Step
from paht.runtime import federation
from paht.runtime.uow import UnitOfWork, actor_of
from services.dispatch.domain import steering
from services.dispatch.domain.directory import OrgUnit, unit_id
from services.dispatch.domain.dispatching import WAITING, DispatchItem, DispatchRound, Status
from services.dispatch.service_layer import routing
from services.dispatch.service_layer.calendar import org_path, sla_engine


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _occurred(event: Message) -> datetime:
    """When another service's event happened (its clock, not the moment it reached us)."""
    meta = getattr(event, "meta", None)
    return meta.occurred_at.ToDatetime(tzinfo=timezone.utc) if meta is not None and meta.HasField("occurred_at") else _now()


def on_report_accepted(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Intake accepted a report (step 1): it now waits for dispatch, with its deadline running, its place kept for routing
    and the facts the lead agency will need (title, who reports, private result, state secret)."""
    if uow.items.get(envelope.report_id) is not None:
        return  # already open: step 1 is accepted once per report, so this is the same acceptance again
    received = event.received_at.ToDatetime(tzinfo=timezone.utc) if event.HasField("received_at") else _now()
    location = (event.location.lat, event.location.lon) if event.HasField("location") else (None, None)
    item = DispatchItem.accepted(envelope.report_id, received, event.urgent, event.topic_code, event.group_code, sla_engine(uow),
                                 location=location, area_code=event.area_code, title=event.title,
                                 reporter_kind=event.reporter_kind, private_result=event.private_result,
                                 state_secret=event.state_secret, tracking_code=event.tracking_code,
                                 description=event.description, address_text=event.address_text,
                                 media=[MessageToDict(m, preserving_proto_field_name=True) for m in event.media])
    uow.items.add(item)
    place_in_hub_areas(uow, item, event)


def place_in_hub_areas(uow: UnitOfWork, item: DispatchItem, event: Message) -> None:
    """When hubs the province declared serve the accepted report's area, say so (ReportPlaced): the province's sync then
    gives each of them a read-only copy of the report. A province alone (no hubs) says nothing."""
    if not uow.hubs:
        return
    codes, hubs = routing.hubs_serving(uow, item, routing.vn_day(_occurred(event)), uow.hubs)
    if not hubs:
        return
    accepted = ev.ReportPlaced(area_codes=codes, hub_nodes=hubs, accepted=event)
    accepted.accepted.ClearField("media")  # the staff addresses of every file: for the people handling it, not for a copy
    uow.emit(accepted, report_id=item.report_id, version=item.next_version(),
             actor=event.meta.actor if event.meta.HasField("actor") else None)


def on_report_classified(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """The IOC set or cleared the state-secret flag: kept on the item (the next dispatch carries it), and passed on to
    the lead agency's case when the report is already dispatched."""
    item = uow.items.get(envelope.report_id, for_change=True)
    if item is None or item.state_secret == event.state_secret:
        return  # not accepted yet (ReportAccepted will carry the flag), or nothing changes
    item.state_secret = event.state_secret
    if item.current_round is not None:
        uow.emit(ev.ReportReclassified(state_secret=item.state_secret), report_id=item.report_id, version=item.next_version(),
                 actor=event.meta.actor if event.meta.HasField("actor") else None)


def on_case_refused_by_agency(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """The lead agency refused (step 3): back to the IOC for step 2 again, with the reason, on a clock from the refusal."""
    item = uow.items.get(envelope.report_id, for_change=True)
    if item is None:  # handling cannot refuse what dispatch never sent: surface it, never drop it
        raise NotFound(f"No dispatch record for report {envelope.report_id}.",
                       f"Không có thông tin điều phối cho phản ánh {envelope.report_id}.")
    item.refused_by_agency(_occurred(event), event.reason, sla_engine(uow))


def _item(uow: UnitOfWork, report_id: str) -> DispatchItem:
    item = uow.items.get(report_id, for_change=True)
    if item is None:
        raise NotFound(
            f"Report {report_id} is not waiting for dispatch (not accepted yet, or unknown).",
            f"Phản ánh {report_id} chưa được tiếp nhận hoặc không tồn tại.",
        )
    return item


def _agency(uow: UnitOfWork, agency_id: str) -> OrgUnit:
    agency = uow.directory.unit(unit_id(agency_id))
    if agency is None:
        raise NotFound(f"No organisation unit '{agency_id}'.", f"Không có đơn vị '{agency_id}'.")
    return agency


def _ref(unit: OrgUnit) -> common_pb2.OrgRef:
    return common_pb2.OrgRef(id=unit.id, code=unit.code, name=unit.name)


def _emit_dispatched(uow: UnitOfWork, user: Principal, engine: SlaEngine, item: DispatchItem, agency: OrgUnit, sent: DispatchRound) -> None:
    """Announce the round: the lead agency, its hub, the step-2 verdict, the deadlines of steps 3 and 3-6 on its calendar,
    and the report's facts handling needs without reading personal data."""
    if item.urgent and not sent.on_time and sent.round == 1 and hasattr(uow, "forwards"):
        # an urgent report's step 2 is forwarding it to 113/114/115: forwarded in time, the later dispatch
        # to a lead agency for follow-up does not make step 2 late
        sent.on_time = any(f.forwarded_at <= item.dispatch_due for f in uow.forwards.of_report(item.report_id))
    org = org_path(uow, agency)
    event = ev.ReportDispatched(
        lead_agency=_ref(agency),
        hub_node=federation.hosting_node(uow.hubs, sent.hub_node),
        on_time=sent.on_time,
        round=sent.round,
        note=sent.note,
        urgent=item.urgent,
        competence_reason=sent.competence_reason,
        escalated=sent.designated_by_committee,
        decision=sent.decision,
        title=item.title,
        reporter_kind=item.reporter_kind,
        private_result=item.private_result,
        state_secret=item.state_secret,
        tracking_code=item.tracking_code,
        description=item.description,
        address_text=item.address_text,
        media=[ParseDict(m, common_pb2.Attachment(), ignore_unknown_fields=True) for m in item.media or []],
    )
    if item.location_lat is not None and item.location_lon is not None:
        event.location.lat, event.location.lon = item.location_lat, item.location_lon
    event.dispatch_due.FromDatetime(item.dispatch_due)
    event.agency_due.FromDatetime(engine.due(Step.AGENCY, sent.dispatched_at, org=org))
    event.handling_due.FromDatetime(engine.due(Step.HANDLING, sent.dispatched_at, org=org))
    uow.emit(event, report_id=item.report_id, version=item.next_version(), actor=actor_of(user))


def dispatch_to_lead_agency(uow: UnitOfWork, user: Principal, report_id: str, agency_id: str, note: str,
                            competence_reason: str = "") -> DispatchItem:
    """Step 2: send the report to exactly one lead agency (a reason is required for one without competence for its topic)."""
    now = _now()
    with uow:
        item = _item(uow, report_id)
        agency = _agency(uow, agency_id)
        engine = sla_engine(uow)
        needs = item.status in {s.value for s in WAITING} and routing.needs_reason(uow, item, agency, now)
        sent = item.dispatch_to_lead_agency(agency, now, user.subject, note, competence_reason=competence_reason, needs_reason=needs)
        _emit_dispatched(uow, user, engine, item, agency, sent)
        uow.commit()
        return item


def escalate(uow: UnitOfWork, user: Principal, report_id: str, reason: str, candidate_ids: list[str]) -> DispatchItem:
    """Report a dispute to the Steering Committee: the agencies in dispute, why, and the longer deadline."""
    now = _now()
    reason = steering.clean_reason(reason)
    ids = steering.distinct_candidates(unit_id(i) for i in candidate_ids)
    with uow:
        item = _item(uow, report_id)
        candidates = [_agency(uow, i) for i in ids]
        escalation = item.escalate(candidates, reason, now, user.subject, sla_engine(uow))
        event = ev.ReportEscalated(candidate_agencies=[_ref(u) for u in candidates], reason=escalation.reason)
        event.dispatch_due.FromDatetime(item.dispatch_due)
        uow.emit(event, report_id=report_id, version=item.next_version(), actor=actor_of(user))
        uow.commit()
        return item


def withdraw_escalation(uow: UnitOfWork, user: Principal, report_id: str, note: str = "") -> DispatchItem:
    """The IOC takes a report back from the Steering Committee before it decides: back in the work list, ordinary deadline."""
    now = _now()
    note = steering.clean_withdrawal(note)
    with uow:
        item = _item(uow, report_id)
        item.withdraw_escalation(note, now, user.subject, sla_engine(uow))
        event = ev.EscalationWithdrawn(reason=note)
        event.dispatch_due.FromDatetime(item.dispatch_due)
        uow.emit(event, report_id=report_id, version=item.next_version(), actor=actor_of(user))
        uow.commit()
        return item


def recall(uow: UnitOfWork, user: Principal, report_id: str, reason: str) -> DispatchItem:
    """The IOC takes a dispatched report back from its lead agency (whatever node handles it) to dispatch it again."""
    now = _now()
    with uow:
        item = _item(uow, report_id)
        ended = item.recall(now, reason, sla_engine(uow))
        event = ev.ReportRecalled(reason=item.note, round=ended.round if ended else item.round)
        if ended is not None:
            event.lead_agency.CopyFrom(common_pb2.OrgRef(id=ended.agency_id, name=ended.agency_name))
        event.dispatch_due.FromDatetime(item.dispatch_due)
        uow.emit(event, report_id=report_id, version=item.next_version(), actor=actor_of(user))
        uow.commit()
        return item


def decide(uow: UnitOfWork, user: Principal, report_id: str, agency_id: str, decision: str) -> DispatchItem:
    """A Steering Committee member records the Committee's decision: the designated agency receives the report."""
    now = _now()
    decision = steering.clean_decision(decision)
    with uow:
        item = _item(uow, report_id)
        agency = _agency(uow, agency_id)
        sent = item.designate(agency, decision, now, user.subject)
        _emit_dispatched(uow, user, sla_engine(uow), item, agency, sent)
        uow.commit()
        return item


def dispatch_queue(uow: UnitOfWork, cursor: str | None = None, limit: int | None = None,
                   statuses: tuple[Status, ...] = WAITING) -> Page:
    """Return one page of the IOC's step-2 work list (or of the given step-2 statuses): urgent first, then the nearest deadline."""
    with uow:
        return uow.items.waiting(cursor, limit, statuses)


def steering_queue(uow: UnitOfWork, cursor: str | None = None, limit: int | None = None) -> Page:
    """Return one page of the reports waiting for the Steering Committee's decision, nearest deadline first."""
    return dispatch_queue(uow, cursor, limit, (Status.ESCALATED,))


def get_item(uow: UnitOfWork, report_id: str) -> DispatchItem:
    """Return where a report stands in step 2, with its rounds and escalations (its history)."""
    with uow:
        item = uow.items.get(report_id)
        if item is None:
            raise NotFound(f"No dispatch record for report {report_id}.", f"Không có thông tin điều phối cho phản ánh {report_id}.")
        return item


def agency_names(uow: UnitOfWork, ids: set[str]) -> dict[str, OrgUnit]:
    """Return the units named by id (for showing candidates and agencies by name); unknown ids are left out."""
    with uow:
        found = {i: uow.directory.unit(i) for i in ids if i}
        return {i: u for i, u in found.items() if u is not None}
