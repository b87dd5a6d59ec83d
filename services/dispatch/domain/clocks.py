"""SLA clocks: every deadline of every report, as the monitor watches it. No I/O here.

A clock belongs to one step of one report (`<report id>:<step>:<n>`, n counting that step's clocks:
a re-dispatch opens the dispatch clock again as n=2). It is opened by the event that starts the step
and stopped by the event that ends it, with the deadline computed by the SLA engine where the step
starts (the same instant the producing service carries on its own events). The monitor announces
each clock once at 80 % of its time (warning) and once at 100 % (breach).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from paht.runtime.sla import Step
from paht.runtime.sla.standing import Standing

CLOCK_NAMESPACE = uuid.UUID("6c0c1a57-0000-4000-8000-00000000c10c")


class ClockState(str, Enum):
    OPEN = "open"            # running: the monitor watches it
    STOPPED = "stopped"      # the step was done: met or missed
    CANCELLED = "cancelled"  # the step will not be done by its holder (refused, recalled, withdrawn): neither met nor missed

    @property
    def label(self) -> tuple[str, str]:
        return STATE_LABELS[self]


STATE_LABELS = {
    ClockState.OPEN: ("running", "đang tính"),
    ClockState.STOPPED: ("done", "đã xong"),
    ClockState.CANCELLED: ("cancelled", "đã hủy"),
}


def clock_id(report_id: str, step: Step | str, n: int) -> str:
    return f"{report_id}:{Step(step).value}:{n}"


@dataclass
class Clock:
    clock_id: str
    report_id: str
    step: str
    n: int
    started_at: datetime
    due_at: datetime
    warn_at: datetime
    responsible_org: str = ""
    responsible_subject: str = ""
    state: str = ClockState.OPEN.value
    stopped_at: datetime | None = None
    met: bool | None = None
    warned_at: datetime | None = None
    breached_at: datetime | None = None
    announced: int = 0  # events announced about this clock (warning, breach): their versions

    @classmethod
    def open(cls, report_id: str, step: Step | str, n: int, started_at: datetime, due_at: datetime, warn_at: datetime,
             responsible_org: str = "", responsible_subject: str = "") -> "Clock":
        step = Step(step)
        return cls(clock_id(report_id, step, n), report_id, step.value, n, started_at, due_at, min(warn_at, due_at),
                   responsible_org, responsible_subject)

    @property
    def is_open(self) -> bool:
        return self.state == ClockState.OPEN.value

    def stop(self, at: datetime, met: bool | None = None) -> None:
        """The step was done at `at`: met when by the deadline (or as the producing service decided)."""
        if not self.is_open:
            return
        self.state, self.stopped_at = ClockState.STOPPED.value, at
        self.met = (at <= self.due_at) if met is None else met

    def cancel(self, at: datetime) -> None:
        if not self.is_open:
            return
        self.state, self.stopped_at, self.met = ClockState.CANCELLED.value, at, None

    def reopen(self) -> None:
        """The step is to be done again under the same deadline (e.g. the leader returned the draft to staff)."""
        self.state, self.stopped_at, self.met = ClockState.OPEN.value, None, None

    def reschedule(self, due_at: datetime, warn_at: datetime) -> None:
        """A new deadline for the same step (e.g. escalated to the Steering Committee). A warning or breach
        already announced stays announced: each is said once per clock."""
        self.due_at, self.warn_at = due_at, min(warn_at, due_at)

    def hand_to(self, org: str | None = None, subject: str | None = None) -> None:
        if org is not None:
            self.responsible_org = org
        if subject is not None:
            self.responsible_subject = subject

    def standing(self, now: datetime) -> Standing:
        if self.state == ClockState.CANCELLED.value:
            return Standing.CANCELLED
        if self.state == ClockState.STOPPED.value:
            return Standing.MET if self.met else Standing.MISSED
        if now > self.due_at:
            return Standing.OVERDUE
        if now >= self.warn_at:
            return Standing.WARNING
        return Standing.ON_TRACK

    @property
    def event_stream_id(self) -> str:
        """The id the monitor's events about this clock are ordered under (warning = 1, breach = 2, ...)."""
        return str(uuid.uuid5(CLOCK_NAMESPACE, self.clock_id))

    def next_announcement(self) -> int:
        self.announced += 1
        return self.announced
