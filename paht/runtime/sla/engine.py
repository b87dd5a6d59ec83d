"""The deadline of every step of the procedure (appendix IV.1; DOMAIN.md §6 and §8), in Vietnam time.

Three kinds of clock:
- the IOC's 24/7 clock (dispatch = steps 1+2, publish = step 8), holidays included. Arrival from 06:00:00
  to 22:00:00 inclusive ("từ 06h00 đến 22h00"; the arrival is read to the second, so 22:00:00.4 is still
  22:00:00) → start + 1 h (dispatch escalated to the Steering Committee: 1.5 h); after 22:00:00 and
  before 06:00 → 07:00 the next morning (escalated: 07:30), the same calendar date for an arrival
  from 00:00 to 05:59:59. Urgent (113/114/115, dispatch only) → start + 10 minutes at any hour; it
  wins over `escalated` (an urgent report is forwarded at once, never waits for the Committee).
- working time on the business calendar of the organisation whose clock it is: agency (step 3)
  1 working hour; handling (steps 3–6) 5 working days of 8 hours, or the agency's shorter limit;
  approval (step 7) and clarify 1 working day (8 working hours).
- calendar days: reporter-edit and verification 48 hours, any day.
`escalated` exists only for dispatch and `urgent` only for dispatch: anything else is InvalidInput.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import lru_cache

from paht.runtime.errors import InvalidInput
from paht.runtime.sla.calendar import WORKING_DAY, BusinessCalendar, Org
from paht.runtime.sla.data import CalendarData
from paht.runtime.sla.standing import WARN_DENOMINATOR, WARN_NUMERATOR
from paht.runtime.sla.steps import Step
from paht.runtime.sla.zone import VN, local

DAY_STARTS, DAY_ENDS = time(6, 0), time(22, 0)          # both inclusive
NEXT_MORNING, NEXT_MORNING_ESCALATED = time(7, 0), time(7, 30)
BY_DAY, BY_DAY_ESCALATED = timedelta(hours=1), timedelta(hours=1, minutes=30)
URGENT = timedelta(minutes=10)
CALENDAR_DAYS = timedelta(hours=48)

IOC_CLOCK = frozenset({Step.DISPATCH, Step.PUBLISH})
WALL_CLOCK = frozenset({Step.REPORTER_EDIT, Step.VERIFICATION})
WORKING_TIME: dict[Step, timedelta | None] = {
    Step.AGENCY: timedelta(hours=1),
    Step.HANDLING: None,  # the agency's limit (5 working days at most)
    Step.APPROVAL: WORKING_DAY,
    Step.CLARIFY: WORKING_DAY,
}


@dataclass(frozen=True)
class ClockTimes:
    """One clock: when it started, when it is due, and when 80 % of its time has elapsed (all in Vietnam time)."""

    step: Step
    start: datetime
    due: datetime
    warn_at: datetime


class SlaEngine:
    """Deadlines from one CalendarData (default: no admin data, i.e. national holidays and default hours)."""

    def __init__(self, data: CalendarData | None = None):
        if data is not None and not isinstance(data, CalendarData):
            raise TypeError("SlaEngine takes a CalendarData (use CalendarData.from_dict for a dict)")
        self.data = data if data is not None else CalendarData()
        self.calendar = BusinessCalendar(self.data)

    # ---- the calendar's arithmetic, for callers holding an engine ----

    def add_working(self, start: datetime, duration: timedelta, org: Org = ()) -> datetime:
        return self.calendar.add_working(start, duration, org)

    def working_time_between(self, a: datetime, b: datetime, org: Org = ()) -> timedelta:
        return self.calendar.working_time_between(a, b, org)

    # ---- deadlines ----

    @staticmethod
    def _checked(step: Step | str, escalated: bool, urgent: bool) -> Step:
        step = Step.parse(step)
        if urgent and step is not Step.DISPATCH:
            raise InvalidInput(f"Only step 2 (dispatch) has an urgent deadline, not '{step.value}'.",
                               f"Chỉ bước 2 (chuyển xử lý) có thời hạn khẩn cấp, bước '{step.value}' thì không.")
        if escalated and step is not Step.DISPATCH:
            raise InvalidInput(f"Only step 2 (dispatch) can be reported to the Steering Committee, not '{step.value}'.",
                               f"Chỉ bước 2 (chuyển xử lý) mới báo cáo Ban Chỉ đạo tỉnh, bước '{step.value}' thì không.")
        return step

    def working_limit(self, step: Step | str, org: Org = ()) -> timedelta | None:
        """The working time a working-time step allows (handling: the nearest agency's own limit); None for other steps."""
        step = Step.parse(step)
        if step not in WORKING_TIME:
            return None
        limit = WORKING_TIME[step]
        if limit is None:
            chain = (org,) if isinstance(org, str) else tuple(org or ())
            limit = WORKING_DAY * self.data.limit_days(chain)
        return limit

    def due(self, step: Step | str, start: datetime, *, escalated: bool = False, urgent: bool = False, org: Org = ()) -> datetime:
        """When the step must be done, for a clock starting at `start` (an aware instant); in Vietnam time."""
        step = self._checked(step, escalated, urgent)
        at = local(start, "The start", "Thời điểm bắt đầu")
        if step in IOC_CLOCK:
            if urgent:
                return at + URGENT
            clock = at.time().replace(microsecond=0)
            if DAY_STARTS <= clock <= DAY_ENDS:
                return at + (BY_DAY_ESCALATED if escalated else BY_DAY)
            morning = at.date() if clock < DAY_STARTS else at.date() + timedelta(days=1)
            return datetime.combine(morning, NEXT_MORNING_ESCALATED if escalated else NEXT_MORNING, tzinfo=VN)
        if step in WALL_CLOCK:
            return at + CALENDAR_DAYS
        return self.calendar.add_working(at, self.working_limit(step, org), org)

    def clock(self, step: Step | str, start: datetime, *, escalated: bool = False, urgent: bool = False, org: Org = ()) -> ClockTimes:
        """The clock's start, due and warning instants (80 %: of working time for working-time steps, else of wall time)."""
        step = self._checked(step, escalated, urgent)
        at = local(start, "The start", "Thời điểm bắt đầu")
        due = self.due(step, at, escalated=escalated, urgent=urgent, org=org)
        return ClockTimes(step, at, due, self.warn_at(step, at, due, org))

    def warn_at(self, step: Step | str, start: datetime, due: datetime, org: Org = ()) -> datetime:
        """When 80 % of a clock's time has elapsed, for a clock whose deadline is already known (e.g. from an event):
        of the working time between start and due for working-time steps, else of the wall time; never after due."""
        step = Step.parse(step)
        at = local(start, "The start", "Thời điểm bắt đầu")
        due = local(due, "The deadline", "Thời hạn")
        if due <= at:
            return due
        if step in WORKING_TIME:
            span = self.calendar.working_time_between(at, due, org)
            return min(due, self.calendar.add_working(at, span * WARN_NUMERATOR // WARN_DENOMINATOR, org))
        return at + (due - at) * WARN_NUMERATOR // WARN_DENOMINATOR

    def elapsed_ratio(self, step: Step | str, start: datetime, due: datetime, now: datetime, org: Org = ()) -> float:
        """How much of a clock's time has elapsed at `now`: 0 before it starts, 1 at its deadline, more after it."""
        step = Step.parse(step)
        if step in WORKING_TIME:
            total = self.calendar.working_time_between(start, due, org)
            done = self.calendar.working_time_between(start, now, org)
        else:
            s = local(start, "The start", "Thời điểm bắt đầu")
            total = local(due, "The deadline", "Thời hạn") - s
            done = local(now, "Now", "Thời điểm hiện tại") - s
        if done <= timedelta(0):
            return 0.0
        if total <= timedelta(0):
            return 1.0
        return done / total


@lru_cache(maxsize=1)
def default_engine() -> SlaEngine:
    """The engine of the default calendar (national holidays, default hours, no admin data), built once."""
    return SlaEngine()
