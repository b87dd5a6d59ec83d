"""Deadlines of the procedure (appendix IV.1), in Vietnam time (UTC+7, no daylight saving).

Working days here are Monday to Friday; public holidays, make-up days and per-organisation
working hours arrive with the business calendar (dispatch and SLA issue) and plug in behind
`WorkingCalendar`.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

VN = timezone(timedelta(hours=7), "ICT")
DAY_START, NIGHT_START = time(6, 0), time(22, 0)


def _local(at: datetime) -> datetime:
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return at.astimezone(VN)


def dispatch_due(received_at: datetime, *, urgent: bool = False, escalated: bool = False) -> datetime:
    """Return when steps 1+2 must be done: 1 h by day (1.5 h if escalated), 07:00 (07:30) after a night arrival, 10 min if urgent."""
    if urgent:
        return received_at + timedelta(minutes=10)
    local = _local(received_at)
    if DAY_START <= local.time() < NIGHT_START:
        return received_at + (timedelta(minutes=90) if escalated else timedelta(hours=1))
    morning = local.date() if local.time() < DAY_START else local.date() + timedelta(days=1)
    at = time(7, 30) if escalated else time(7, 0)
    return datetime.combine(morning, at, tzinfo=VN).astimezone(received_at.tzinfo or timezone.utc)


def publish_due(approved_at: datetime) -> datetime:
    """Return when step 8 must be done: 1 h by day, 07:00 next morning after a night arrival."""
    return dispatch_due(approved_at)


class WorkingCalendar:
    """Monday–Friday working days; holidays and swaps come with the business calendar."""

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """Civil Code art. 147–148: the starting day is not counted; the period ends at the end of the last working day."""
        local = _local(start)
        day = local.date()
        counted = 0
        while counted < days:
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        end = datetime.combine(day, time(23, 59, 59), tzinfo=VN)
        return end.astimezone(start.tzinfo or timezone.utc)


def handling_due(received_by_agency_at: datetime, calendar: WorkingCalendar | None = None) -> datetime:
    """Return the end of steps 3–6: 5 working days from the agency's receipt."""
    return (calendar or WorkingCalendar()).add_working_days(received_by_agency_at, 5)
