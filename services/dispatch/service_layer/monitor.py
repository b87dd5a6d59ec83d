"""Dispatch's SLA monitor: each clock announced once at 80 % (SlaWarning) and once at 100 % (SlaBreached), the notices
owed to the person responsible and their leaders, and what consoles and the Steering Committee read about deadlines.

The clocks themselves are opened and stopped by events in `clocks.py`; decision 0014 says why it is built this way.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from google.protobuf.message import Message

from paht.common.v1 import common_pb2
from paht.dispatch.v1 import events_pb2 as dispatch_ev
from paht.runtime import roles
from paht.runtime.sla import SlaEngine, Step
from paht.runtime.uow import UnitOfWork
from services.dispatch.domain.clocks import Clock, Standing
from services.dispatch.service_layer.calendar import sla_engine
from services.dispatch.service_layer.clocks import Chains

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


# At these steps' deadline the procedure ends the report itself (intake cancels it: "sau 02 ngày"): the breach is
# recorded and announced as an event, but nobody is told "overdue" — there is nothing left for a person to do.
# The 80 % warning still goes out: the IOC can still call the reporter once more.
ENDS_ITSELF = frozenset({Step.REPORTER_EDIT, Step.VERIFICATION})


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


def _announce(uow: UnitOfWork, clock: Clock, now: datetime, breach: bool, people: dict, owed: list[dict], ratio: float = 1.0) -> None:
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
    if breach and Step(clock.step) in ENDS_ITSELF:
        return
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
            with uow.session.no_autoflush:  # the look-ups of people and units need not flush the clocks announced so far
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
            with uow.session.no_autoflush:
                for clock in clocks:
                    if clock.warned_at is None:  # opened already late (or the monitor was away): the warning comes first
                        _announce(uow, clock, now, False, people, owed, _ratio(engine, chains, clock, now))
                        result.warned += 1
                    _announce(uow, clock, now, True, people, owed)
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


