"""The SLA engine: the business calendar and the deadline of every step of the procedure.

One library every service uses (no I/O besides `load_calendar` reading a file):

    from paht.runtime.sla import Step, default_engine
    due = default_engine().due(Step.HANDLING, received_at, org=(unit_id, agency_id))

- zone.py: Vietnam time (VN) and the years covered;   national.py: public holidays and day swaps;
- data.py: CalendarData, what an administrator edits; calendar.py: BusinessCalendar, working time;
- steps.py: Step;   engine.py: SlaEngine, ClockTimes, default_engine;   loading.py: load_calendar;
- standing.py: how a deadline stands (Standing, standing_of);   cache.py: one engine per distinct calendar.
"""
from __future__ import annotations

from paht.runtime.sla.calendar import DEFAULT_SCHEDULE, WORKING_DAY, BusinessCalendar, DayInfo
from paht.runtime.sla.data import CalendarData, DayRule, Schedule
from paht.runtime.sla.engine import ClockTimes, SlaEngine, default_engine
from paht.runtime.sla.loading import load_calendar, parse_calendar_text
from paht.runtime.sla.standing import WARN_AT, Standing, standing_of
from paht.runtime.sla.steps import Step
from paht.runtime.sla.zone import VN

__all__ = ["VN", "Step", "Standing", "standing_of", "WARN_AT", "DayRule", "Schedule", "CalendarData", "BusinessCalendar", "DayInfo",
           "DEFAULT_SCHEDULE", "WORKING_DAY", "SlaEngine", "ClockTimes", "default_engine", "load_calendar", "parse_calendar_text"]
