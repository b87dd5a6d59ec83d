"""The SLA clocks of every report: opened and stopped by the events of every service (the monitor: monitor.py).

Dispatch owns every deadline (the design card): each service computes the deadline of the step it
starts with the one SLA engine and carries it on its event; here the same instants become clocks, and
the monitor announces each clock once at 80 % of its time (SlaWarning) and once at 100 % (SlaBreached),
and owes the person responsible and their leaders a notice. A step's clock ends with the event that
ends the step (met when done by the deadline).
"""
from __future__ import annotations

from datetime import datetime, timezone

from google.protobuf.message import Message

from paht.dispatch.v1 import events_pb2 as dispatch_ev
from paht.handling.v1 import events_pb2 as handling_ev
from paht.intake.v1 import events_pb2 as intake_ev
from paht.publication.v1 import events_pb2 as publication_ev
from paht.runtime.events.envelope import Envelope
from paht.runtime.sla import Step
from paht.runtime.uow import UnitOfWork
from services.dispatch.domain.clocks import Clock
from services.dispatch.service_layer.calendar import org_path, sla_engine



def _at(ts) -> datetime:
    return ts.ToDatetime(tzinfo=timezone.utc)


def occurred(event: Message) -> datetime:
    meta = event.meta
    return _at(meta.occurred_at) if meta.HasField("occurred_at") else datetime.now(timezone.utc)


def ioc_unit(uow: UnitOfWork) -> str:
    """Return the id of this node's IOC (the organisation responsible for steps 1, 2 and 8)."""
    return uow.directory.ioc_id()


class Chains:
    """The organisation chains (a unit and its ancestors, nearest first) the engine resolves a clock's working
    hours along: the same `org` the producing service used for the deadline; looked up once per organisation."""

    def __init__(self, uow: UnitOfWork):
        self._uow, self._seen = uow, {}

    def __call__(self, org: str) -> tuple[str, ...]:
        if org not in self._seen:
            unit = self._uow.directory.unit(org) if org else None
            self._seen[org] = org_path(self._uow, unit) if unit is not None else ((org,) if org else ())
        return self._seen[org]


def open_clock(uow: UnitOfWork, report_id: str, step: Step, start: datetime, due: datetime | None = None, *,
               org: str = "", subject: str = "", escalated: bool = False, urgent: bool = False) -> Clock:
    """Open the next clock of a step (the previous one of the same step, if still open, is cancelled)."""
    engine = sla_engine(uow)
    chain = Chains(uow)(org)
    if due is None:
        due = engine.due(step, start, escalated=escalated, urgent=urgent, org=chain)
    previous = uow.clocks.latest(report_id, step.value)
    if previous is not None and previous.is_open:
        previous.cancel(start)
    n = previous.n + 1 if previous is not None else 1
    clock = Clock.open(report_id, step, n, start, due, engine.warn_at(step, start, due, chain), org, subject)
    uow.clocks.add(clock)
    return clock


def stop_clock(uow: UnitOfWork, report_id: str, step: Step, at: datetime, met: bool | None = None) -> Clock | None:
    clock = uow.clocks.open_of(report_id, step.value)
    if clock is not None:
        clock.stop(at, met)
    return clock


def cancel_clock(uow: UnitOfWork, report_id: str, step: Step, at: datetime) -> None:
    clock = uow.clocks.open_of(report_id, step.value)
    if clock is not None:
        clock.cancel(at)


# ---- events of intake ------------------------------------------------------------------------------------

def on_report_accepted(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Step 1 accepted: the step 1+2 clock runs from arrival, to the deadline step 2's item holds."""
    item = uow.items.get(envelope.report_id)
    stop_clock(uow, envelope.report_id, Step.REPORTER_EDIT, occurred(event))
    stop_clock(uow, envelope.report_id, Step.VERIFICATION, occurred(event))  # accepted: the reporter is verified enough
    if item is None or uow.clocks.latest(envelope.report_id, Step.DISPATCH.value) is not None:
        return
    open_clock(uow, envelope.report_id, Step.DISPATCH, item.received_at, item.dispatch_due, org=ioc_unit(uow))


def on_edit_requested(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """The IOC asked the reporter to edit: 2 calendar days, then the report may be cancelled."""
    start = occurred(event)
    due = _at(event.edit_due) if event.HasField("edit_due") else None
    open_clock(uow, envelope.report_id, Step.REPORTER_EDIT, start, due, org=ioc_unit(uow))


def on_report_closed_at_intake(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Refused or cancelled at step 1: no edit and no verification is awaited any more."""
    cancel_clock(uow, envelope.report_id, Step.REPORTER_EDIT, occurred(event))
    cancel_clock(uow, envelope.report_id, Step.VERIFICATION, occurred(event))


def on_report_edited(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """The reporter completed the report as asked: the reporter-edit clock stops (met when within its 2 days)."""
    stop_clock(uow, envelope.report_id, Step.REPORTER_EDIT, occurred(event))


def on_verification_call(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """The IOC's verification call: the first unanswered one opens the 2-day verification clock (due at intake's
    verify_due; later unanswered calls keep it); reaching the reporter stops it; reaching someone else ends it
    (the report is cancelled, ReportCancelled follows)."""
    at = occurred(event)
    if event.outcome == "not_reached":
        if uow.clocks.open_of(envelope.report_id, Step.VERIFICATION.value) is None:
            due = _at(event.verify_due) if event.HasField("verify_due") else None
            open_clock(uow, envelope.report_id, Step.VERIFICATION, at, due, org=ioc_unit(uow))
    elif event.outcome == "reached":
        stop_clock(uow, envelope.report_id, Step.VERIFICATION, at)
    else:
        cancel_clock(uow, envelope.report_id, Step.VERIFICATION, at)


# ---- dispatch's own events -------------------------------------------------------------------------------

def on_report_dispatched(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Step 2 done: its clock stops (met as dispatch judged it); steps 3 and 3-6 start at the lead agency."""
    at = occurred(event)
    stop_clock(uow, envelope.report_id, Step.DISPATCH, at, met=event.on_time)
    agency = event.lead_agency.id
    agency_due = _at(event.agency_due) if event.HasField("agency_due") else None
    handling_due = _at(event.handling_due) if event.HasField("handling_due") else None
    open_clock(uow, envelope.report_id, Step.AGENCY, at, agency_due, org=agency)
    open_clock(uow, envelope.report_id, Step.HANDLING, at, handling_due, org=agency)


def on_report_escalated(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Reported to the Steering Committee: the step 2 clock takes the longer window."""
    clock = uow.clocks.open_of(envelope.report_id, Step.DISPATCH.value)
    if clock is not None and event.HasField("dispatch_due"):
        due = _at(event.dispatch_due)
        clock.reschedule(due, sla_engine(uow).warn_at(Step.DISPATCH, clock.started_at, due))


def on_escalation_withdrawn(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """The IOC withdrew the escalation: the step 2 clock takes back its ordinary window."""
    on_report_escalated(uow, event, envelope)


def on_report_recalled(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """The IOC took the report back: the lead agency's and unit's clocks end (neither met nor missed); step 2 again."""
    at = occurred(event)
    for step in (Step.AGENCY, Step.HANDLING, Step.APPROVAL, Step.CLARIFY):
        cancel_clock(uow, envelope.report_id, step, at)
    due = _at(event.dispatch_due) if event.HasField("dispatch_due") else None
    if due is not None:
        open_clock(uow, envelope.report_id, Step.DISPATCH, at, due, org=ioc_unit(uow))


def on_emergency_forwarded(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Forwarded to 113/114/115: the urgent step 2 is done."""
    at = _at(event.forwarded_at) if event.HasField("forwarded_at") else occurred(event)
    stop_clock(uow, envelope.report_id, Step.DISPATCH, at)


# ---- events of handling ----------------------------------------------------------------------------------

def on_case_refused_by_agency(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Refused at step 3: the agency's clocks end (neither met nor missed); step 2 starts again on a new clock."""
    at = occurred(event)
    cancel_clock(uow, envelope.report_id, Step.AGENCY, at)
    cancel_clock(uow, envelope.report_id, Step.HANDLING, at)
    item = uow.items.get(envelope.report_id)
    if item is not None:
        open_clock(uow, envelope.report_id, Step.DISPATCH, at, item.dispatch_due, org=ioc_unit(uow))


def on_case_assigned(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Step 3 done (a lead unit named) or step 4 (staff named): the clocks change hands."""
    at = occurred(event)
    handling = uow.clocks.open_of(envelope.report_id, Step.HANDLING.value)
    if event.level == handling_ev.ASSIGNMENT_LEVEL_UNIT:
        stop_clock(uow, envelope.report_id, Step.AGENCY, at)
        if handling is not None:
            handling.hand_to(org=event.unit.id or handling.responsible_org, subject="")
    elif event.level == handling_ev.ASSIGNMENT_LEVEL_STAFF and handling is not None:
        handling.hand_to(org=event.unit.id or handling.responsible_org, subject=event.staff_subject)


def on_case_refused_by_unit(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """The lead unit refused: step 3 again at the lead agency (1 working hour), within the same 5 days."""
    at = occurred(event)
    handling = uow.clocks.open_of(envelope.report_id, Step.HANDLING.value)
    agency = handling_agency(uow, envelope.report_id)
    if handling is not None:
        handling.hand_to(org=agency, subject="")
    open_clock(uow, envelope.report_id, Step.AGENCY, at, org=agency)


def handling_agency(uow: UnitOfWork, report_id: str) -> str:
    """The lead agency a report was dispatched to (the first holder of its latest agency clock)."""
    clock = uow.clocks.latest(report_id, Step.AGENCY.value)
    item = uow.items.get(report_id)
    return (item.lead_agency_id if item is not None and item.lead_agency_id else "") or (clock.responsible_org if clock else "")


def on_result_drafted(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Staff reported (end of step 6): steps 3-6 stop; the leader has 1 working day to approve."""
    at = occurred(event)
    handling = stop_clock(uow, envelope.report_id, Step.HANDLING, at)
    unit = event.unit.id or (handling.responsible_org if handling else "")
    due = _at(event.approval_due) if event.HasField("approval_due") else None
    open_clock(uow, envelope.report_id, Step.APPROVAL, at, due, org=unit)


def on_result_returned(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """The leader returned the draft to staff: approval waits; steps 3-6 run again under their first deadline."""
    at = occurred(event)
    stop_clock(uow, envelope.report_id, Step.APPROVAL, at)
    handling = uow.clocks.latest(envelope.report_id, Step.HANDLING.value)
    if handling is not None and not handling.is_open:
        handling.reopen()


def on_result_approved(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Step 7 done: the IOC's step 8 clock starts (1 h by day, 07:00 after a night arrival)."""
    at = occurred(event)
    stop_clock(uow, envelope.report_id, Step.APPROVAL, at)
    open_clock(uow, envelope.report_id, Step.PUBLISH, at, org=ioc_unit(uow))


def on_clarification_given(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """The leader approved the clarification: it goes through the IOC as an answer does (step 8's window)."""
    at = occurred(event)
    stop_clock(uow, envelope.report_id, Step.CLARIFY, at)
    open_clock(uow, envelope.report_id, Step.PUBLISH, at, org=ioc_unit(uow))


# ---- events of publication -------------------------------------------------------------------------------

def on_result_published(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    at = _at(event.published_at) if event.HasField("published_at") else occurred(event)
    stop_clock(uow, envelope.report_id, Step.PUBLISH, at, met=event.on_time if event.HasField("publish_due") else None)


def on_publication_returned(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """The IOC returned the answer at step 8: it reopens at the lead unit's leader, on a new approval clock."""
    at = occurred(event)
    stop_clock(uow, envelope.report_id, Step.PUBLISH, at)
    approval = uow.clocks.latest(envelope.report_id, Step.APPROVAL.value)
    open_clock(uow, envelope.report_id, Step.APPROVAL, at, org=approval.responsible_org if approval else "")


def on_clarification_requested(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """The reporter asked for clarification: the lead unit answers within 1 working day."""
    at = occurred(event)
    approval = uow.clocks.latest(envelope.report_id, Step.APPROVAL.value)
    due = _at(event.due_at) if event.HasField("due_at") else None
    open_clock(uow, envelope.report_id, Step.CLARIFY, at, due, org=approval.responsible_org if approval else "")


def on_clarification_published(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    at = _at(event.published_at) if event.HasField("published_at") else occurred(event)
    stop_clock(uow, envelope.report_id, Step.PUBLISH, at)


def on_clarification_sent_back(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """The IOC sent the clarification back to the lead unit's leader: 1 working day again, from the return."""
    at = occurred(event)
    stop_clock(uow, envelope.report_id, Step.PUBLISH, at)
    clarify = uow.clocks.latest(envelope.report_id, Step.CLARIFY.value)
    open_clock(uow, envelope.report_id, Step.CLARIFY, at, org=clarify.responsible_org if clarify else "")


INTAKE = {
    intake_ev.EditRequested: on_edit_requested,
    intake_ev.ReportEdited: on_report_edited,
    intake_ev.VerificationCallRecorded: on_verification_call,
    intake_ev.ReportRefused: on_report_closed_at_intake,
    intake_ev.ReportCancelled: on_report_closed_at_intake,
}
DISPATCH = {
    dispatch_ev.ReportDispatched: on_report_dispatched,
    dispatch_ev.ReportEscalated: on_report_escalated,
    dispatch_ev.EscalationWithdrawn: on_escalation_withdrawn,
    dispatch_ev.ReportRecalled: on_report_recalled,
    dispatch_ev.EmergencyForwarded: on_emergency_forwarded,
}
HANDLING = {
    handling_ev.CaseAssigned: on_case_assigned,
    handling_ev.CaseRefusedByUnit: on_case_refused_by_unit,
    handling_ev.ResultDrafted: on_result_drafted,
    handling_ev.ResultReturned: on_result_returned,
    handling_ev.ResultApproved: on_result_approved,
    handling_ev.ClarificationGiven: on_clarification_given,
}
PUBLICATION = {
    publication_ev.ResultPublished: on_result_published,
    publication_ev.PublicationReturned: on_publication_returned,
    publication_ev.ClarificationRequested: on_clarification_requested,
    publication_ev.ClarificationPublished: on_clarification_published,
    publication_ev.ClarificationSentBack: on_clarification_sent_back,
}
