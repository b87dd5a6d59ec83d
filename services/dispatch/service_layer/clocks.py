"""The SLA clocks of every report: opened and stopped by the events of every service, watched by the monitor.

Dispatch owns every deadline (the design card): each service computes the deadline of the step it
starts with the one SLA engine and carries it on its event; here the same instants become clocks, and
the monitor announces each clock once at 80 % of its time (SlaWarning) and once at 100 % (SlaBreached),
and owes the person responsible and their leaders a notice. A step's clock ends with the event that
ends the step (met when done by the deadline).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from google.protobuf.message import Message

from paht.common.v1 import common_pb2
from paht.dispatch.v1 import events_pb2 as dispatch_ev
from paht.handling.v1 import events_pb2 as handling_ev
from paht.intake.v1 import events_pb2 as intake_ev
from paht.publication.v1 import events_pb2 as publication_ev
from paht.runtime import roles
from paht.runtime.events.envelope import Envelope
from paht.runtime.sla import SlaEngine, Step
from paht.runtime.uow import UnitOfWork
from services.dispatch.domain.clocks import Clock, Standing
from services.dispatch.service_layer.calendar import org_path, sla_engine

SYSTEM = common_pb2.Actor(subject="system", role="sla_monitor")
# Whose leaders hear about a clock, by step: the IOC for its own steps, the agency's coordination office for
# step 3, the lead unit's leader for steps 4-7 and clarification.
LEADERS: dict[Step, tuple[str, ...]] = {
    Step.DISPATCH: roles.DISPATCHERS,
    Step.PUBLISH: (roles.Role.IOC_EDITOR.value, roles.Role.IOC_OPERATOR.value),
    Step.REPORTER_EDIT: roles.DISPATCHERS,
    Step.VERIFICATION: roles.DISPATCHERS,
    Step.AGENCY: (roles.Role.AGENCY_COORDINATOR.value,),
    Step.HANDLING: (roles.Role.UNIT_LEADER.value, roles.Role.AGENCY_COORDINATOR.value),
    Step.APPROVAL: (roles.Role.UNIT_LEADER.value,),
    Step.CLARIFY: (roles.Role.UNIT_LEADER.value,),
}


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
    if item is None or uow.clocks.latest(envelope.report_id, Step.DISPATCH.value) is not None:
        return
    open_clock(uow, envelope.report_id, Step.DISPATCH, item.received_at, item.dispatch_due, org=ioc_unit(uow))


def on_edit_requested(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """The IOC asked the reporter to edit: 2 calendar days, then the report may be cancelled."""
    start = occurred(event)
    due = _at(event.edit_due) if event.HasField("edit_due") else None
    open_clock(uow, envelope.report_id, Step.REPORTER_EDIT, start, due, org=ioc_unit(uow))


def on_report_closed_at_intake(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Refused or cancelled at step 1: no edit is awaited any more."""
    cancel_clock(uow, envelope.report_id, Step.REPORTER_EDIT, occurred(event))


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
    stop_clock(uow, envelope.report_id, Step.CLARIFY, occurred(event))


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


INTAKE = {
    intake_ev.EditRequested: on_edit_requested,
    intake_ev.ReportRefused: on_report_closed_at_intake,
    intake_ev.ReportCancelled: on_report_closed_at_intake,
}
DISPATCH = {
    dispatch_ev.ReportDispatched: on_report_dispatched,
    dispatch_ev.ReportEscalated: on_report_escalated,
    dispatch_ev.EscalationWithdrawn: on_escalation_withdrawn,
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
}


# ---- the monitor -----------------------------------------------------------------------------------------

@dataclass
class PassResult:
    warned: int = 0
    breached: int = 0


def _clock_pb(clock: Clock) -> common_pb2.Clock:
    pb = common_pb2.Clock(clock_id=clock.clock_id, step=clock.step, responsible=common_pb2.OrgRef(id=clock.responsible_org),
                          responsible_subject=clock.responsible_subject, report_id=clock.report_id)
    pb.started_at.FromDatetime(clock.started_at)
    pb.due_at.FromDatetime(clock.due_at)
    return pb


def _ratio(engine: SlaEngine, chains: Chains, clock: Clock, now: datetime) -> float:
    """How much of a clock's time has elapsed (working time for working-time steps), up to when it stopped."""
    return engine.elapsed_ratio(clock.step, clock.started_at, clock.due_at, min(now, clock.stopped_at or now),
                                chains(clock.responsible_org))


def _announce(uow: UnitOfWork, clock: Clock, now: datetime, breach: bool, people: dict, owed: list[dict], ratio: float) -> None:
    """Emit the warning or breach event of a clock (ordered under the clock's own stream) and owe its notices."""
    if breach:
        event: Message = dispatch_ev.SlaBreached(step=clock.step, responsible=common_pb2.OrgRef(id=clock.responsible_org),
                                                 clock=_clock_pb(clock))
        clock.breached_at = now
    else:
        event = dispatch_ev.SlaWarning(step=clock.step, responsible=common_pb2.OrgRef(id=clock.responsible_org),
                                       elapsed_ratio=round(ratio, 4), clock=_clock_pb(clock))
        clock.warned_at = now
    event.due_at.FromDatetime(clock.due_at)
    uow.emit(event, report_id=clock.event_stream_id, version=clock.next_announcement(), actor=SYSTEM)
    kind = "sla_breach" if breach else "sla_warning"
    key = (clock.step, clock.responsible_org, clock.responsible_subject)
    if key not in people:
        people[key] = recipients_of(uow, clock)
    owed.append(notice_of(clock, kind, people[key]))


def recipients_of(uow: UnitOfWork, clock: Clock) -> list[str]:
    """The person responsible (when one is named) and the leaders of the responsible organisation."""
    people = [clock.responsible_subject] if clock.responsible_subject else []
    wanted = set(LEADERS.get(Step(clock.step), ()))
    if clock.responsible_org:
        for account in uow.accounts.active_in_unit(clock.responsible_org):
            if wanted & set(account.roles or []) and account.username not in people:
                people.append(account.username)
    return people or ([f"org:{clock.responsible_org}"] if clock.responsible_org else [])


def _vn(at: datetime) -> str:
    from paht.runtime.sla import VN

    return at.astimezone(VN).strftime("%H:%M %d/%m/%Y")


def notice_of(clock: Clock, kind: str, to: list[str]) -> dict:
    en, vi = Step(clock.step).label
    short = clock.report_id[:8]
    if kind == "sla_breach":
        subject = (f"Overdue: {en} of report {short}", f"Quá hạn: {vi} — phản ánh {short}")
        body = (f"The deadline was {_vn(clock.due_at)} (Vietnam time).", f"Hạn xử lý là {_vn(clock.due_at)}.")
    else:
        subject = (f"Due soon: {en} of report {short}", f"Sắp đến hạn: {vi} — phản ánh {short}")
        body = (f"80 % of the time is used; the deadline is {_vn(clock.due_at)} (Vietnam time).",
                f"Đã dùng 80 % thời gian; hạn xử lý là {_vn(clock.due_at)}.")
    return {"key": f"{kind}:{clock.clock_id}", "kind": kind, "to": to, "subject": list(subject), "body": list(body),
            "link": f"/dispatch/sla?report={clock.report_id}", "report_id": clock.report_id,
            "extra": {"step": clock.step, "due_at": clock.due_at.isoformat(), "org": clock.responsible_org}}


def monitor_pass(uow: UnitOfWork, now: datetime | None = None, batch: int = 500) -> PassResult:
    """Announce every clock that reached 80 % or 100 % of its time since the last pass, each exactly once.

    Clocks are claimed in batches, each in its own transaction with its events and notices: two replicas
    running passes at once take different clocks (SKIP LOCKED on PostgreSQL; SQLite has one writer), and a
    crash mid-pass leaves the unannounced clocks for the next pass.
    """
    now = now or datetime.now(timezone.utc)
    result = PassResult()
    people: dict = {}  # recipients per (step, organisation, person), looked up once per pass
    chains = Chains(uow)
    while True:
        with uow:
            engine, clocks, owed = sla_engine(uow), uow.clocks.to_warn(now, batch), []
            for clock in clocks:
                _announce(uow, clock, now, False, people, owed, _ratio(engine, chains, clock, now))
            uow.notices.owe(owed, now)
            uow.commit()
        result.warned += len(clocks)
        if len(clocks) < batch:
            break
    while True:
        with uow:
            engine, clocks, owed = sla_engine(uow), uow.clocks.to_breach(now, batch), []
            for clock in clocks:
                ratio = _ratio(engine, chains, clock, now)
                if clock.warned_at is None:  # opened already late (or the monitor was away): the warning comes first
                    _announce(uow, clock, now, False, people, owed, ratio)
                    result.warned += 1
                _announce(uow, clock, now, True, people, owed, ratio)
            uow.notices.owe(owed, now)
            uow.commit()
        result.breached += len(clocks)
        if len(clocks) < batch:
            break
    return result


def send_notices(uow: UnitOfWork, notifier, now: datetime | None = None, batch: int = 50) -> int:
    """Send the notices owed, each once; a failed one waits (back-off) and is tried again."""
    from paht.runtime.notify import Notice

    now = now or datetime.now(timezone.utc)
    sent = 0
    with uow:
        for row in uow.notices.due(now, batch):
            n = row.notice
            notice = Notice(key=n["key"], kind=n["kind"], to=tuple(n["to"]), subject=tuple(n["subject"]), body=tuple(n["body"]),
                            link=n.get("link", ""), report_id=n.get("report_id", ""), extra=n.get("extra", {}))
            try:
                notifier.send(notice)
            except Exception as exc:  # the gateway is outside: any failure is retried later, never lost
                uow.notices.failed(row.key, row.attempts + 1, f"{type(exc).__name__}: {exc}", now)
                continue
            uow.notices.sent(row.key, now)
            sent += 1
        uow.commit()
    return sent


# ---- what consoles and the Steering Committee read -------------------------------------------------------

def clock_view(clock: Clock, now: datetime, ratio: float) -> dict:
    standing = clock.standing(now)
    en, vi = Step(clock.step).label
    return {
        "clock_id": clock.clock_id, "report_id": clock.report_id, "step": clock.step, "step_label": {"en": en, "vi": vi},
        "n": clock.n, "started_at": clock.started_at.isoformat(), "due_at": clock.due_at.isoformat(),
        "warn_at": clock.warn_at.isoformat(), "responsible_org": clock.responsible_org or None,
        "responsible_subject": clock.responsible_subject or None, "state": clock.state,
        "stopped_at": clock.stopped_at.isoformat() if clock.stopped_at else None, "met": clock.met,
        "standing": standing.value, "standing_label": dict(zip(("en", "vi"), standing.label)),
        "elapsed_ratio": round(ratio, 3),
        "overdue_by_s": max(0, int((now - clock.due_at).total_seconds())) if standing is Standing.OVERDUE else 0,
        "warned_at": clock.warned_at.isoformat() if clock.warned_at else None,
        "breached_at": clock.breached_at.isoformat() if clock.breached_at else None,
    }


def clocks_of_report(uow: UnitOfWork, report_id: str) -> list[dict]:
    now = datetime.now(timezone.utc)
    with uow:
        engine, chains = sla_engine(uow), Chains(uow)
        return [clock_view(c, now, _ratio(engine, chains, c, now)) for c in uow.clocks.of_report(report_id)]


def overdue(uow: UnitOfWork, by: str, step: str | None, org: str | None, only: str, limit: int) -> dict:
    """Open clocks past their deadline (only="overdue") or past 80 % (only="warning"), grouped per step or agency."""
    now = datetime.now(timezone.utc)
    with uow:
        groups = [{"key": k, "overdue": o, "due_soon": s, "running": n}
                  for k, o, s, n in uow.clocks.overdue_counts(now, by, every_open=only == "open")]
        items = uow.clocks.open_clocks(step=step, org=org, limit=limit,
                                       overdue_at=now if only == "overdue" else None,
                                       warning_at=now if only == "warning" else None)
        names = {u.id: u.name for u in uow.directory.units()} if by == "org" or items else {}
        for g in groups:
            g["label"] = _group_label(g["key"], by, names)
        engine, chains = sla_engine(uow), Chains(uow)
        return {"as_of": now.isoformat(), "by": by, "groups": groups,
                "items": [{**clock_view(c, now, _ratio(engine, chains, c, now)), "responsible_name": names.get(c.responsible_org)}
                          for c in items]}


def _group_label(key: str, by: str, names: dict) -> dict:
    if by == "step":
        try:
            en, vi = Step(key).label
            return {"en": en, "vi": vi}
        except ValueError:
            return {"en": key, "vi": key}
    return {"en": names.get(key, key or "—"), "vi": names.get(key, key or "—")}


