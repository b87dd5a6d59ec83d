"""The business calendar: which days are worked, at which hours, and working-time arithmetic on them.

A day's answer for an organisation, first rule that speaks wins:
1. a DayRule of the nearest organisation in the chain that has one for that day (a local holiday or a
   local worked day);
2. a DayRule for everyone (org_id "");
3. the national calendar (national.py): a public holiday or substituted day is off, a swapped weekend
   day (e.g. Saturday 2026-08-22) is worked;
4. the weekday, against the schedule in force.
The schedule in force on a day is the one covering it of the nearest organisation in the chain that has
one covering it, else everyone's ("") covering it, else the built-in DEFAULT_SCHEDULE (Monday–Friday
07:00–11:30, 13:30–17:00). A worked day whose weekday the schedule does not list (a worked Saturday)
uses the schedule's Monday hours, or the default hours when the schedule does not list Monday.

`org` is an organisation id, or its chain nearest first (the unit, then its ancestors); () means
everyone. Only organisations that have rules of their own change anything, so chains reduce to a
"profile" of those; each profile keeps a table of its days (intervals in microseconds since local
midnight, and their total), filled on first use, so a deadline costs a few dictionary look-ups a day.

Working time is exact to the microsecond. Instants are "inside working time" when they lie in a
working interval [a, b] of a working day, both ends included:
- `add_working(start, d)` is the earliest instant t >= start at which d of working time has elapsed
  since start and that lies inside working time. For d > 0, t lies in (a, b] of some interval: after
  an interval's start, possibly exactly at its end (11:30:00 or 17:00:00), never in a break, a night
  or a day off. For d = 0, t is start itself when start is inside working time (11:30:00 included),
  else the start of the next interval ("the next working minute"). Hence add_working(add_working(s, a), b)
  == add_working(s, a + b) for all s, a, b >= 0.
- `working_time_between(a, b)` is the working time in [a, b] (negative when b < a), so that
  working_time_between(s, add_working(s, d)) == d for every s.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Iterable

from paht.runtime.errors import InvalidInput
from paht.runtime.sla.data import DAY_SECONDS, WORK, CalendarData, Schedule
from paht.runtime.sla.national import national_year
from paht.runtime.sla.zone import LAST_ORDINAL, LAST_YEAR, VN, local, require_year

DEFAULT_SCHEDULE = Schedule()  # Monday–Friday, 07:00–11:30 and 13:30–17:00: 8 hours
WORKING_DAY = timedelta(hours=8)  # "one working day" of the procedure, whatever an organisation's hours
US = 1_000_000
DAY_US = DAY_SECONDS * US
_ONE_US = timedelta(microseconds=1)
_MAX_PROFILES = 10_000

Org = str | Iterable[str]


@dataclass(frozen=True)
class DayInfo:
    """How one day works for one organisation, and why (for pages and explanations)."""

    day: date
    working: bool
    intervals: tuple[tuple[int, int], ...]  # seconds since local midnight
    name: tuple[str, str] | None             # (English, Vietnamese) name of the holiday or worked day, if any
    source: str                               # "schedule", "national", "everyone" or "org:<id>"

    @property
    def working_time(self) -> timedelta:
        return timedelta(seconds=sum(b - a for a, b in self.intervals))


class BusinessCalendar:
    """Working days and hours per organisation (CalendarData + national holidays), with fast arithmetic."""

    def __init__(self, data: CalendarData | None = None):
        self.data = data if data is not None else CalendarData()
        self._rules = {(r.org_id, r.day): r for r in self.data.days}
        self._schedules = self.data.schedules
        self._with_rules = self.data.orgs_with_rules()
        self._profiles: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._tables: dict[tuple[str, ...], dict[int, tuple[tuple[tuple[int, int], ...], int]]] = {}

    # ---- what a day is ----

    def profile(self, org: Org = ()) -> tuple[str, ...]:
        """The organisations of the chain that have rules of their own, nearest first."""
        if not org:
            return ()
        key = (org,) if isinstance(org, str) else tuple(org)
        found = self._profiles.get(key)
        if found is None:
            for o in key:
                if not isinstance(o, str):
                    raise InvalidInput(f"An organisation id must be text, not {o!r}.", f"Mã đơn vị phải là chuỗi ký tự, không phải {o!r}.")
            found = tuple(dict.fromkeys(o for o in key if o in self._with_rules))
            if len(self._profiles) >= _MAX_PROFILES:
                self._profiles.clear()
            self._profiles[key] = found
        return found

    def schedule_on(self, day: date, org: Org = ()) -> Schedule:
        """The schedule in force on a day for an organisation (nearest organisation's, everyone's, or the default)."""
        return self._schedule(self.profile(org), day)

    def _schedule(self, profile: tuple[str, ...], day: date) -> Schedule:
        for org in (*profile, ""):
            for s in self._schedules.get(org, ()):
                if s.covers(day):
                    return s
        return DEFAULT_SCHEDULE

    def describe(self, day: date, org: Org = ()) -> DayInfo:
        """Whether a day is worked for an organisation, its hours, and which rule decided."""
        require_year(day, "The day", "Ngày")
        return self._describe(self.profile(org), day)

    def _describe(self, profile: tuple[str, ...], day: date) -> DayInfo:
        schedule = self._schedule(profile, day)
        working, name, source = self._decide(profile, day, schedule)
        if not working:
            intervals: tuple[tuple[int, int], ...] = ()
        elif day.weekday() in schedule.weekdays or 0 in schedule.weekdays:
            intervals = schedule.intervals  # its own hours, or its Monday hours on a worked weekend day
        else:
            intervals = DEFAULT_SCHEDULE.intervals
        return DayInfo(day, working, intervals, name, source)

    def _decide(self, profile: tuple[str, ...], day: date, schedule: Schedule) -> tuple[bool, tuple[str, str] | None, str]:
        for org in profile:
            rule = self._rules.get((org, day))
            if rule is not None:
                return rule.kind == WORK, (rule.name, rule.name) if rule.name else None, f"org:{org}"
        rule = self._rules.get(("", day))
        if rule is not None:
            return rule.kind == WORK, (rule.name, rule.name) if rule.name else None, "everyone"
        national = national_year(day.year)
        if day in national.off:
            return False, national.off[day], "national"
        if day in national.worked:
            return True, national.worked[day], "national"
        return day.weekday() in schedule.weekdays, None, "schedule"

    def is_working_day(self, day: date, org: Org = ()) -> bool:
        return self.describe(day, org).working

    def working_intervals(self, day: date, org: Org = ()) -> list[tuple[datetime, datetime]]:
        """The working intervals of a day as aware instants in Vietnam time (empty on a day off)."""
        info = self.describe(day, org)
        midnight = datetime(day.year, day.month, day.day, tzinfo=VN)
        return [(midnight + timedelta(seconds=a), midnight + timedelta(seconds=b)) for a, b in info.intervals]

    def _table(self, profile: tuple[str, ...]) -> dict[int, tuple[tuple[tuple[int, int], ...], int]]:
        table = self._tables.get(profile)
        if table is None:
            table = self._tables[profile] = {}
        return table

    def _entry(self, profile: tuple[str, ...], ordinal: int) -> tuple[tuple[tuple[int, int], ...], int]:
        """A day's working intervals in microseconds since midnight, and their total (computed once)."""
        if ordinal > LAST_ORDINAL:
            raise InvalidInput(f"The deadline would fall after {LAST_YEAR}, beyond the years the business calendar covers.",
                               f"Thời hạn sẽ rơi vào sau năm {LAST_YEAR}, ngoài khoảng năm lịch làm việc hỗ trợ.")
        info = self._describe(profile, date.fromordinal(ordinal))
        intervals = tuple((a * US, b * US) for a, b in info.intervals)
        entry = (intervals, sum(b - a for a, b in intervals))
        self._table(profile)[ordinal] = entry
        return entry

    # ---- arithmetic ----

    def add_working(self, start: datetime, duration: timedelta, org: Org = ()) -> datetime:
        """The instant (in Vietnam time) at which `duration` of working time has elapsed after start."""
        at = local(start, "The start", "Thời điểm bắt đầu")
        if not isinstance(duration, timedelta):
            raise InvalidInput("A working duration must be a length of time.", "Thời lượng làm việc phải là một khoảng thời gian.")
        remaining = duration // _ONE_US
        if remaining < 0:
            raise InvalidInput("A working duration cannot be negative.", "Thời lượng làm việc không được âm.")
        profile = self.profile(org)
        table = self._table(profile)
        ordinal = at.toordinal()
        pos = ((at.hour * 60 + at.minute) * 60 + at.second) * US + at.microsecond
        while True:
            entry = table.get(ordinal) or self._entry(profile, ordinal)
            intervals, total = entry
            if total:
                if pos == 0 and remaining > total:
                    remaining -= total  # the whole day passes
                else:
                    for a, b in intervals:
                        if b < pos:
                            continue
                        begin = a if a > pos else pos
                        available = b - begin
                        if remaining <= available:
                            return datetime.fromordinal(ordinal).replace(tzinfo=VN) + timedelta(microseconds=begin + remaining)
                        remaining -= available
            ordinal += 1
            pos = 0

    def next_working_instant(self, at: datetime, org: Org = ()) -> datetime:
        """`at` when it is inside working time, else the start of the next working interval."""
        return self.add_working(at, timedelta(0), org)

    def working_time_between(self, a: datetime, b: datetime, org: Org = ()) -> timedelta:
        """The working time from a to b (negative when b comes before a)."""
        la, lb = local(a, "The first instant", "Thời điểm đầu"), local(b, "The second instant", "Thời điểm cuối")
        if lb < la:
            return -self.working_time_between(b, a, org)
        profile = self.profile(org)
        table = self._table(profile)
        oa, ob = la.toordinal(), lb.toordinal()
        pa = ((la.hour * 60 + la.minute) * 60 + la.second) * US + la.microsecond
        pb = ((lb.hour * 60 + lb.minute) * 60 + lb.second) * US + lb.microsecond

        def worked(ordinal: int, x: int, y: int) -> int:
            intervals, total = table.get(ordinal) or self._entry(profile, ordinal)
            if x == 0 and y >= DAY_US:
                return total
            return sum(max(0, min(e, y) - max(s, x)) for s, e in intervals)

        if oa == ob:
            total = worked(oa, pa, pb)
        else:
            total = worked(oa, pa, DAY_US) + worked(ob, 0, pb)
            for ordinal in range(oa + 1, ob):
                total += (table.get(ordinal) or self._entry(profile, ordinal))[1]
        return timedelta(microseconds=total)
