"""Properties of the SLA engine that must hold for every start, duration and organisation (hypothesis).

Definition tested here (paht/runtime/sla/calendar.py): for a positive working duration, the deadline lies
in (a, b] of a working interval [a, b) of a working day of that organisation: strictly after the
interval's start and at most at its end (so 11:30:00 or 17:00:00 exactly are possible deadlines; a
minute of the lunch break, a night or a day off is not). A zero duration gives the start itself when it
lies in [a, b], else the next interval's start.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paht.runtime.sla import VN, CalendarData, DayRule, Schedule, SlaEngine, Step
from paht.runtime.sla.data import DAY_SECONDS

US = 1_000_000
DATA = CalendarData(
    days=(DayRule(date(2026, 3, 10), "off", "Lễ hội", "dong-hoi"), DayRule(date(2026, 3, 8), "work", "Chủ nhật làm việc"),
          DayRule(date(2025, 12, 31), "off", "Nghỉ cuối năm", "ward"), DayRule(date(2026, 9, 2), "work", "Trực lễ", "ward")),
    schedules={
        "ioc-summer": tuple(Schedule(intervals=(("07:00", "11:30"), ("14:00", "17:30")),
                                     valid_from=date(y, 4, 15), valid_to=date(y, 10, 15)) for y in (2025, 2026)),
        "night-desk": (Schedule(weekdays=(0, 1, 2, 3, 4, 5, 6), intervals=(("00:00", "06:00"), ("18:00", "24:00"))),),
        "odd-hours": (Schedule(weekdays=("tue", "thu", "sat"), intervals=(("08:15:30", "09:00"), ("09:00", "12:00:01"))),),
    },
    agency_limits={"so-xd": 3, "ward": 2},
)
ENGINE = SlaEngine(DATA)
CAL = ENGINE.calendar
ORGS = st.sampled_from([(), "dong-hoi", ("ward", "dong-hoi"), "ioc-summer", ("school", "ioc-summer"), "night-desk", "odd-hours", "so-xd"])

BOUNDARIES = [time(0, 0), time(5, 59, 59), time(6, 0), time(7, 0), time(11, 30), time(13, 30), time(14, 0), time(17, 0), time(17, 30),
              time(18, 0), time(21, 59, 59), time(22, 0), time(22, 0, 1), time(23, 59, 59)]
_days = st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31))
_anywhen = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31, 23, 59, 59, 999_999))
_on_a_boundary = st.builds(lambda d, t, nudge: datetime.combine(d, t) + timedelta(microseconds=nudge),
                           _days, st.sampled_from(BOUNDARIES), st.sampled_from([0, 0, 0, -1, 1, 500_000]))
INSTANTS = st.one_of(_anywhen, _on_a_boundary).map(lambda d: d.replace(tzinfo=VN))
DURATIONS = st.one_of(
    st.integers(0, 120 * 3600 * US).map(lambda us: timedelta(microseconds=us)),
    st.sampled_from([0, 1, 30, 60, 480, 2400]).map(lambda minutes: timedelta(minutes=minutes)),
)
STEP_FLAGS = st.sampled_from([(Step.DISPATCH, {}), (Step.DISPATCH, {"escalated": True}), (Step.DISPATCH, {"urgent": True}),
                              (Step.PUBLISH, {}), (Step.AGENCY, {}), (Step.HANDLING, {}), (Step.APPROVAL, {}), (Step.CLARIFY, {}),
                              (Step.REPORTER_EDIT, {}), (Step.VERIFICATION, {})])
WORKING_STEPS = st.sampled_from([Step.AGENCY, Step.HANDLING, Step.APPROVAL, Step.CLARIFY])
quick = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _us_of_day(t: datetime) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * US + t.microsecond


def after_start_at_most_end(t: datetime, org) -> bool:
    """t lies in (a, b] of a working interval of its day (or is midnight ending the previous day's interval at 24:00)."""
    t = t.astimezone(VN)
    pos = _us_of_day(t)
    if any(a * US < pos <= b * US for a, b in CAL.describe(t.date(), org).intervals):
        return True
    return pos == 0 and any(b == DAY_SECONDS for _, b in CAL.describe(t.date() - timedelta(days=1), org).intervals)


def closed_inside(t: datetime, org) -> bool:
    """t lies in [a, b] of a working interval (both ends included)."""
    t = t.astimezone(VN)
    pos = _us_of_day(t)
    return (any(a * US <= pos <= b * US for a, b in CAL.describe(t.date(), org).intervals)
            or (pos == 0 and any(b == DAY_SECONDS for _, b in CAL.describe(t.date() - timedelta(days=1), org).intervals)))


@quick
@given(STEP_FLAGS, INSTANTS, INSTANTS, ORGS)
def test_due_never_decreases_when_the_start_is_later(step_flags, s1, s2, org):
    step, flags = step_flags
    s1, s2 = sorted((s1, s2))
    assert ENGINE.due(step, s1, org=org, **flags) <= ENGINE.due(step, s2, org=org, **flags)


@quick
@given(STEP_FLAGS, INSTANTS, st.integers(1, 5 * 24 * 3600 * US), ORGS)
def test_due_never_decreases_for_a_start_a_little_later(step_flags, s, later_us, org):
    step, flags = step_flags
    assert ENGINE.due(step, s, org=org, **flags) <= ENGINE.due(step, s + timedelta(microseconds=later_us), org=org, **flags)


@quick
@given(WORKING_STEPS, INSTANTS, ORGS)
def test_a_working_time_deadline_is_never_in_a_break_a_night_or_a_day_off(step, s, org):
    due = ENGINE.due(step, s, org=org)
    assert due > s
    assert after_start_at_most_end(due, org), due
    assert ENGINE.working_time_between(s, due, org=org) == ENGINE.working_limit(step, org)


@quick
@given(INSTANTS, DURATIONS, DURATIONS, ORGS)
def test_adding_working_time_in_two_parts_is_adding_it_at_once(s, a, b, org):
    assert CAL.add_working(CAL.add_working(s, a, org), b, org) == CAL.add_working(s, a + b, org)


@quick
@given(INSTANTS, DURATIONS, ORGS)
def test_working_time_between_is_the_inverse_of_add_working(s, d, org):
    end = CAL.add_working(s, d, org)
    assert CAL.working_time_between(s, end, org) == d
    assert CAL.working_time_between(end, s, org) == -d
    assert end >= s
    if d > timedelta(0):
        assert end > s and after_start_at_most_end(end, org)
    else:
        assert closed_inside(end, org)
        assert (end == s) == closed_inside(s, org)


@quick
@given(INSTANTS, INSTANTS, INSTANTS, ORGS)
def test_working_time_adds_up_over_consecutive_spans(a, b, c, org):
    a, b, c = sorted((a, b, c))
    assert CAL.working_time_between(a, b, org) + CAL.working_time_between(b, c, org) == CAL.working_time_between(a, c, org)
    assert CAL.working_time_between(a, c, org) <= c - a


@quick
@given(STEP_FLAGS, INSTANTS, ORGS)
def test_the_warning_comes_between_start_and_due_at_80_percent(step_flags, s, org):
    step, flags = step_flags
    clock = ENGINE.clock(step, s, org=org, **flags)
    assert clock.start == s and clock.due == ENGINE.due(step, s, org=org, **flags)
    assert clock.start <= clock.warn_at <= clock.due
    assert ENGINE.elapsed_ratio(step, s, clock.due, clock.due, org=org) == 1.0
    assert abs(ENGINE.elapsed_ratio(step, s, clock.due, clock.warn_at, org=org) - 0.8) < 1e-6


RULES = st.builds(lambda d, kind, name, org: DayRule(d, kind, name, org),
                  st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)), st.sampled_from(["off", "work"]),
                  st.sampled_from(["", "Lễ hội", "Nghỉ bù"]), st.sampled_from(["", "a", "b"]))


@settings(max_examples=100, deadline=None)
@given(st.lists(RULES, max_size=8, unique_by=lambda r: (r.day, r.org_id)),
       st.dictionaries(st.sampled_from(["x", "y", "so-xd"]), st.integers(1, 5), max_size=3))
def test_any_valid_calendar_survives_its_dict_shape(rules, limits):
    data = CalendarData(days=tuple(rules), schedules=DATA.schedules, agency_limits=limits)
    again = CalendarData.from_dict(data.to_dict())
    assert again == data and again.to_dict() == data.to_dict()
