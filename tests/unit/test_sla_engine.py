"""Worked examples of every deadline of the procedure (appendix IV.1), computed by the SLA engine.

All times are Vietnam time. 2026: Tết is Mon 16 – Fri 20 Feb; Hùng Kings' day is Sun 26 Apr, observed
Mon 27 Apr; 30 Apr (Thu) and 1 May (Fri) are off; Sat 22 Aug is worked in exchange for Mon 31 Aug off;
1 and 2 Sep (Tue, Wed) are off.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from paht.runtime.errors import InvalidInput
from paht.runtime.sla import VN, CalendarData, ClockTimes, DayRule, Schedule, SlaEngine, Step, default_engine


def vn(y, mo, d, h=0, mi=0, s=0, us=0):
    return datetime(y, mo, d, h, mi, s, us, tzinfo=VN)


SUMMER = Schedule(weekdays=("mon", "tue", "wed", "thu", "fri"), intervals=(("07:00", "11:30"), ("14:00", "17:30")),
                  valid_from=date(2026, 4, 15), valid_to=date(2026, 10, 15))
DATA = CalendarData(
    days=(
        DayRule(date(2026, 3, 10), "off", "Lễ hội địa phương", org_id="dong-hoi"),    # a local holiday of one city
        DayRule(date(2026, 3, 9), "off", "Nghỉ đột xuất", org_id="so-gd"),           # a day off for one agency only
        DayRule(date(2026, 9, 2), "work", "Trực lễ", org_id="benh-vien"),            # a hospital works on National Day
        DayRule(date(2026, 3, 21), "work", "Làm bù"),                                  # a Saturday worked by everyone
        DayRule(date(2026, 3, 20), "off", "Nghỉ bù"),                                  # ... for a Friday off
    ),
    schedules={
        "ioc-summer": (SUMMER,),
        "one-stop": (Schedule(weekdays=("mon", "tue", "wed", "thu", "fri", "sat"), intervals=(("07:30", "11:30"), ("13:30", "17:30"))),),
        "no-monday": (Schedule(weekdays=("tue", "wed", "thu", "fri"), intervals=(("08:00", "12:00"), ("13:00", "17:00"))),),
    },
    agency_limits={"so-xd": 3, "so-yt": 5, "ubnd-huyen": 4},
)
ENGINE = SlaEngine(DATA)

# (step, start, flags, org, expected due)
EXAMPLES = [
    # ---- steps 1+2, the IOC's 24/7 clock ----
    pytest.param(Step.DISPATCH, vn(2026, 3, 2, 9, 15), {}, (), vn(2026, 3, 2, 10, 15), id="day arrival: 1 hour"),
    pytest.param(Step.DISPATCH, vn(2026, 3, 2, 6, 0), {}, (), vn(2026, 3, 2, 7, 0), id="06:00 is day"),
    pytest.param(Step.DISPATCH, vn(2026, 3, 2, 5, 59, 59), {}, (), vn(2026, 3, 2, 7, 0), id="05:59:59 is night: 07:00 the same date"),
    pytest.param(Step.DISPATCH, vn(2026, 3, 2, 21, 59), {}, (), vn(2026, 3, 2, 22, 59), id="21:59 is day"),
    pytest.param(Step.DISPATCH, vn(2026, 3, 2, 22, 0, 0), {}, (), vn(2026, 3, 2, 23, 0), id="22:00:00 exactly is day (inclusive)"),
    pytest.param(Step.DISPATCH, vn(2026, 3, 2, 22, 0, 0, 400_000), {}, (), vn(2026, 3, 2, 23, 0, 0, 400_000),
                 id="22:00:00.4 still reads 22:00:00: day"),
    pytest.param(Step.DISPATCH, vn(2026, 3, 2, 22, 0, 1), {}, (), vn(2026, 3, 3, 7, 0), id="22:00:01 is night: 07:00 next morning"),
    pytest.param(Step.DISPATCH, vn(2026, 3, 2, 23, 59), {}, (), vn(2026, 3, 3, 7, 0), id="23:59: 07:00 next morning"),
    pytest.param(Step.DISPATCH, vn(2026, 3, 3, 0, 0), {}, (), vn(2026, 3, 3, 7, 0), id="00:00: 07:00 the same date"),
    pytest.param(Step.DISPATCH, vn(2026, 2, 17, 10, 0), {}, (), vn(2026, 2, 17, 11, 0), id="Tết changes nothing for the IOC"),
    pytest.param(Step.DISPATCH, vn(2026, 3, 1, 23, 0), {}, (), vn(2026, 3, 2, 7, 0), id="Sunday night: Monday 07:00"),
    pytest.param(Step.DISPATCH, vn(2026, 3, 2, 9, 0), {"escalated": True}, (), vn(2026, 3, 2, 10, 30), id="escalated by day: 1.5 hours"),
    pytest.param(Step.DISPATCH, vn(2026, 3, 2, 22, 0), {"escalated": True}, (), vn(2026, 3, 2, 23, 30),
                 id="escalated at 22:00:00: 1.5 hours"),
    pytest.param(Step.DISPATCH, vn(2026, 3, 2, 23, 0), {"escalated": True}, (), vn(2026, 3, 3, 7, 30), id="escalated at night: 07:30"),
    pytest.param(Step.DISPATCH, vn(2026, 3, 3, 5, 59, 59), {"escalated": True}, (), vn(2026, 3, 3, 7, 30),
                 id="escalated 05:59:59: 07:30 same date"),
    pytest.param(Step.DISPATCH, vn(2026, 3, 3, 2, 0), {"urgent": True}, (), vn(2026, 3, 3, 2, 10), id="urgent at night: 10 minutes"),
    pytest.param(Step.DISPATCH, vn(2026, 3, 3, 14, 0), {"urgent": True}, (), vn(2026, 3, 3, 14, 10), id="urgent by day: 10 minutes"),
    pytest.param(Step.DISPATCH, vn(2026, 3, 3, 23, 0), {"urgent": True, "escalated": True}, (), vn(2026, 3, 3, 23, 10),
                 id="urgent wins over escalated"),
    pytest.param(Step.DISPATCH, datetime(2026, 3, 2, 16, 0, tzinfo=timezone.utc), {}, (), vn(2026, 3, 3, 7, 0),
                 id="16:00 UTC is 23:00 in Vietnam: night"),
    # ---- step 8, the IOC publishes ----
    pytest.param(Step.PUBLISH, vn(2026, 3, 2, 9, 0), {}, (), vn(2026, 3, 2, 10, 0), id="publish by day: 1 hour"),
    pytest.param(Step.PUBLISH, vn(2026, 3, 2, 22, 0, 1), {}, (), vn(2026, 3, 3, 7, 0), id="publish at night: 07:00"),
    pytest.param(Step.PUBLISH, vn(2026, 3, 3, 5, 59, 59), {}, (), vn(2026, 3, 3, 7, 0), id="publish 05:59:59: 07:00 same date"),
    # ---- step 3: 1 working hour ----
    pytest.param(Step.AGENCY, vn(2026, 3, 2, 11, 0), {}, (), vn(2026, 3, 2, 14, 0), id="11:00: 11:00-11:30 then 13:30-14:00"),
    pytest.param(Step.AGENCY, vn(2026, 3, 2, 10, 30), {}, (), vn(2026, 3, 2, 11, 30), id="ends exactly at 11:30, not 13:30"),
    pytest.param(Step.AGENCY, vn(2026, 3, 2, 12, 0), {}, (), vn(2026, 3, 2, 14, 30), id="lunch break: counts from 13:30"),
    pytest.param(Step.AGENCY, vn(2026, 3, 2, 6, 0), {}, (), vn(2026, 3, 2, 8, 0), id="before 07:00: counts from 07:00"),
    pytest.param(Step.AGENCY, vn(2026, 3, 6, 16, 30), {}, (), vn(2026, 3, 9, 7, 30), id="Friday 16:30: 30 min, then Monday"),
    pytest.param(Step.AGENCY, vn(2026, 3, 6, 17, 30), {}, (), vn(2026, 3, 9, 8, 0), id="Friday 17:30: Monday 08:00"),
    pytest.param(Step.AGENCY, vn(2026, 2, 13, 16, 30), {}, (), vn(2026, 2, 23, 7, 30), id="Friday before Tết: Monday after it"),
    pytest.param(Step.AGENCY, vn(2026, 9, 2, 10, 0), {}, (), vn(2026, 9, 3, 8, 0), id="2 September is off: Thursday 08:00"),
    pytest.param(Step.AGENCY, vn(2026, 4, 26, 10, 0), {}, (), vn(2026, 4, 28, 8, 0), id="Hùng Kings' Sunday, observed Monday: Tuesday"),
    pytest.param(Step.AGENCY, vn(2026, 9, 2, 10, 0), {}, "benh-vien", vn(2026, 9, 2, 11, 0), id="a hospital that works on 2 September"),
    # ---- steps 3-6: 5 working days = 40 working hours ----
    pytest.param(Step.HANDLING, vn(2026, 3, 3, 9, 15), {}, (), vn(2026, 3, 10, 9, 15), id="Tuesday 09:15: next Tuesday 09:15"),
    pytest.param(Step.HANDLING, vn(2026, 2, 13, 10, 0), {}, (), vn(2026, 2, 27, 10, 0), id="over Tết 2026 (16-20 Feb)"),
    pytest.param(Step.HANDLING, vn(2026, 4, 23, 9, 0), {}, (), vn(2026, 5, 5, 9, 0), id="over Hùng Kings (27 Apr), 30 Apr and 1 May"),
    pytest.param(Step.HANDLING, vn(2026, 8, 27, 9, 0), {}, (), vn(2026, 9, 8, 9, 0), id="31 Aug, 1 and 2 Sep off"),
    pytest.param(Step.HANDLING, vn(2026, 8, 20, 9, 0), {}, (), vn(2026, 8, 26, 9, 0), id="Saturday 22 Aug is worked"),
    pytest.param(Step.HANDLING, vn(2026, 3, 3, 9, 15), {}, "so-xd", vn(2026, 3, 6, 9, 15), id="an agency's own 3-day limit"),
    pytest.param(Step.HANDLING, vn(2026, 3, 3, 9, 15), {}, ("phong-qlxd", "so-xd"), vn(2026, 3, 6, 9, 15),
                 id="a unit under that agency: the agency's limit"),
    pytest.param(Step.HANDLING, vn(2026, 3, 3, 9, 15), {}, ("ubnd-xa", "ubnd-huyen", "so-xd"), vn(2026, 3, 9, 9, 15),
                 id="nearest limit wins (4 days)"),
    pytest.param(Step.HANDLING, vn(2026, 3, 3, 9, 15), {}, "so-yt", vn(2026, 3, 10, 9, 15), id="a limit of 5 changes nothing"),
    pytest.param(Step.HANDLING, vn(2026, 3, 3, 9, 15), {}, "dong-hoi", vn(2026, 3, 11, 9, 15), id="a local holiday (10 Mar) of that city"),
    pytest.param(Step.HANDLING, vn(2026, 3, 3, 9, 15), {}, ("phuong-1", "dong-hoi"), vn(2026, 3, 11, 9, 15),
                 id="the city's local holiday holds for its ward"),
    pytest.param(Step.HANDLING, vn(2026, 3, 3, 9, 15), {}, "so-gd", vn(2026, 3, 11, 9, 15), id="an agency's own day off (9 Mar)"),
    pytest.param(Step.HANDLING, vn(2026, 3, 17, 9, 0), {}, (), vn(2026, 3, 24, 9, 0), id="admin swap: Fri 20 off, Sat 21 worked"),
    # ---- per-organisation hours ----
    pytest.param(Step.AGENCY, vn(2026, 6, 2, 11, 0), {}, "ioc-summer", vn(2026, 6, 2, 14, 30), id="summer hours: lunch until 14:00"),
    pytest.param(Step.AGENCY, vn(2026, 6, 2, 17, 0), {}, "ioc-summer", vn(2026, 6, 3, 7, 30), id="summer hours: day ends 17:30"),
    pytest.param(Step.AGENCY, vn(2026, 11, 3, 11, 0), {}, "ioc-summer", vn(2026, 11, 3, 14, 0), id="after 15 Oct: default hours again"),
    pytest.param(Step.AGENCY, vn(2026, 4, 14, 11, 0), {}, "ioc-summer", vn(2026, 4, 14, 14, 0), id="14 Apr: summer not begun"),
    pytest.param(Step.AGENCY, vn(2026, 4, 15, 11, 0), {}, ("xa-a", "ioc-summer"), vn(2026, 4, 15, 14, 30), id="summer hours inherited"),
    pytest.param(Step.AGENCY, vn(2026, 3, 7, 10, 0), {}, "one-stop", vn(2026, 3, 7, 11, 0), id="an office open on Saturdays"),
    pytest.param(Step.AGENCY, vn(2026, 8, 22, 7, 0), {}, (), vn(2026, 8, 22, 8, 0), id="worked Saturday uses Monday hours"),
    pytest.param(Step.AGENCY, vn(2026, 8, 22, 7, 0), {}, "no-monday", vn(2026, 8, 22, 8, 0),
                 id="worked Saturday, schedule without Monday: default hours"),
    pytest.param(Step.AGENCY, vn(2026, 8, 25, 7, 0), {}, "no-monday", vn(2026, 8, 25, 9, 0), id="that schedule on its Tuesday: 08:00-"),
    # ---- step 7 and clarification: 1 working day ----
    pytest.param(Step.APPROVAL, vn(2026, 8, 21, 10, 0), {}, (), vn(2026, 8, 22, 10, 0), id="approval: into worked Saturday 22 Aug"),
    pytest.param(Step.APPROVAL, vn(2026, 8, 28, 10, 0), {}, (), vn(2026, 9, 3, 10, 0), id="approval: over 31 Aug, 1-2 Sep"),
    pytest.param(Step.APPROVAL, vn(2026, 3, 2, 7, 0), {}, (), vn(2026, 3, 2, 17, 0), id="approval from 07:00: 17:00 the same day"),
    pytest.param(Step.CLARIFY, vn(2026, 8, 22, 8, 0), {}, (), vn(2026, 8, 24, 8, 0), id="clarify from the worked Saturday"),
    pytest.param(Step.CLARIFY, vn(2026, 3, 20, 9, 0), {}, (), vn(2026, 3, 21, 17, 0),
                 id="clarify on the admin's Friday off: the worked Saturday 07:00-17:00"),
    # ---- step 1 waits on the reporter: 48 calendar hours ----
    pytest.param(Step.REPORTER_EDIT, vn(2026, 2, 13, 10, 0), {}, (), vn(2026, 2, 15, 10, 0), id="reporter edit: 2 days, Sunday too"),
    pytest.param(Step.VERIFICATION, vn(2026, 2, 16, 23, 0), {}, (), vn(2026, 2, 18, 23, 0), id="verification: 2 days over Tết"),
]


@pytest.mark.parametrize("step, start, flags, org, expected", EXAMPLES)
def test_worked_examples(step, start, flags, org, expected):
    due = ENGINE.due(step, start, org=org, **flags)
    assert due == expected
    assert due.tzinfo is VN and due.utcoffset() == timedelta(hours=7)


def test_default_engine_is_one_engine_with_no_admin_data():
    assert default_engine() is default_engine()
    assert default_engine().data == CalendarData()
    # the admin's swap (Friday 20 Mar off, Saturday 21 worked) is not there: 6 h on Friday, 2 h on Monday
    assert default_engine().due(Step.CLARIFY, vn(2026, 3, 20, 9, 0)) == vn(2026, 3, 23, 9, 0)
    assert default_engine().due(Step.HANDLING, vn(2026, 3, 17, 9, 0)) == vn(2026, 3, 24, 9, 0)
    assert default_engine().due(Step.AGENCY, vn(2026, 6, 2, 11, 0), org="ioc-summer") == vn(2026, 6, 2, 14, 0)


def test_steps_are_named_in_both_languages_and_parse_from_their_value():
    assert [s.value for s in Step] == ["dispatch", "agency", "handling", "approval", "publish", "clarify", "reporter-edit", "verification"]
    for step in Step:
        en, vi = step.label
        assert en and vi and en != vi
        assert Step.parse(step.value) is step
    assert ENGINE.due("handling", vn(2026, 3, 3, 9, 15)) == vn(2026, 3, 10, 9, 15)


@pytest.mark.parametrize("step, flags, words", [
    (Step.PUBLISH, {"escalated": True}, "Steering Committee"),
    (Step.HANDLING, {"escalated": True}, "Steering Committee"),
    (Step.HANDLING, {"urgent": True}, "urgent"),
    (Step.PUBLISH, {"urgent": True}, "urgent"),
    (Step.VERIFICATION, {"urgent": True}, "urgent"),
])
def test_flags_belong_to_dispatch_only(step, flags, words):
    with pytest.raises(InvalidInput) as caught:
        ENGINE.due(step, vn(2026, 3, 2, 9, 0), **flags)
    assert words in caught.value.detail_en and caught.value.detail_vi != caught.value.detail_en
    with pytest.raises(InvalidInput):
        ENGINE.clock(step, vn(2026, 3, 2, 9, 0), **flags)


@pytest.mark.parametrize("step, start, words", [
    ("lunch", vn(2026, 3, 2, 9, 0), "Unknown step"),
    (Step.HANDLING, datetime(2026, 3, 2, 9, 0), "no UTC offset"),
    (Step.DISPATCH, datetime(2026, 3, 2, 9, 0), "no UTC offset"),
    (Step.HANDLING, "2026-03-02T09:00:00+07:00", "date and time"),
    (Step.HANDLING, vn(1999, 12, 31, 9, 0), "outside the years"),
    (Step.DISPATCH, vn(2101, 1, 1, 9, 0), "outside the years"),
    (Step.HANDLING, vn(2100, 12, 31, 9, 0), "after 2100"),
])
def test_bad_requests_are_invalid_input_not_crashes(step, start, words):
    with pytest.raises(InvalidInput) as caught:
        ENGINE.due(step, start)
    assert words in caught.value.detail_en


@pytest.mark.parametrize("step, start, flags, org, due, warn", [
    # 40 working hours; 80 % = 32 h: Monday 09:15
    (Step.HANDLING, vn(2026, 3, 3, 9, 15), {}, (), vn(2026, 3, 10, 9, 15), vn(2026, 3, 9, 9, 15)),
    # 1 working hour; 48 working minutes: 11:00-11:30, then 13:30-13:48
    (Step.AGENCY, vn(2026, 3, 2, 11, 0), {}, (), vn(2026, 3, 2, 14, 0), vn(2026, 3, 2, 13, 48)),
    # 1 hour wall time: 48 minutes
    (Step.DISPATCH, vn(2026, 3, 2, 9, 0), {}, (), vn(2026, 3, 2, 10, 0), vn(2026, 3, 2, 9, 48)),
    # night: 23:00 → 07:00 is 8 wall hours; 80 % is 6 h 24 min
    (Step.DISPATCH, vn(2026, 3, 2, 23, 0), {}, (), vn(2026, 3, 3, 7, 0), vn(2026, 3, 3, 5, 24)),
    # urgent: 8 of the 10 minutes
    (Step.DISPATCH, vn(2026, 3, 2, 23, 0), {"urgent": True}, (), vn(2026, 3, 2, 23, 10), vn(2026, 3, 2, 23, 8)),
    # 48 h: 38 h 24 min
    (Step.VERIFICATION, vn(2026, 3, 2, 9, 0), {}, (), vn(2026, 3, 4, 9, 0), vn(2026, 3, 3, 23, 24)),
    # an agency's 3 days: 24 h, 80 % = 19 h 12 min: Tuesday 5 h 45, Wednesday 8 h, Thursday 4 h 30 to 11:30 and 57 min → 14:27
    (Step.HANDLING, vn(2026, 3, 3, 9, 15), {}, "so-xd", vn(2026, 3, 6, 9, 15), vn(2026, 3, 5, 14, 27)),
])
def test_clock_gives_start_due_and_the_80_percent_warning(step, start, flags, org, due, warn):
    clock = ENGINE.clock(step, start, org=org, **flags)
    assert clock == ClockTimes(step, start, due, warn)
    assert ENGINE.elapsed_ratio(step, start, due, warn, org=org) == pytest.approx(0.8)


def test_elapsed_ratio_counts_working_time_for_working_steps_and_wall_time_otherwise():
    start, due = vn(2026, 3, 3, 9, 15), vn(2026, 3, 10, 9, 15)
    assert ENGINE.elapsed_ratio(Step.HANDLING, start, due, vn(2026, 3, 6, 9, 15)) == pytest.approx(0.6)  # 24 of 40 h
    # by Friday 17:00, 29 h 45 of 40 h; the weekend adds nothing
    assert ENGINE.elapsed_ratio(Step.HANDLING, start, due, vn(2026, 3, 6, 17, 0)) == pytest.approx(29.75 / 40)
    assert ENGINE.elapsed_ratio(Step.HANDLING, start, due, vn(2026, 3, 8, 23, 0)) == pytest.approx(29.75 / 40)
    assert ENGINE.elapsed_ratio(Step.HANDLING, start, due, due) == 1.0
    assert ENGINE.elapsed_ratio(Step.HANDLING, start, due, vn(2026, 3, 11, 9, 15)) == pytest.approx(1.2)  # breached by 8 h
    assert ENGINE.elapsed_ratio(Step.HANDLING, start, due, vn(2026, 3, 1, 9, 0)) == 0.0  # not started
    # Friday 16:30 → Monday 07:30: by Saturday noon half of the working hour has gone (wall time would say 31 %)
    assert ENGINE.elapsed_ratio(Step.AGENCY, vn(2026, 3, 6, 16, 30), vn(2026, 3, 9, 7, 30), vn(2026, 3, 7, 12, 0)) == 0.5
    assert ENGINE.elapsed_ratio(Step.DISPATCH, vn(2026, 3, 2, 23, 0), vn(2026, 3, 3, 7, 0), vn(2026, 3, 3, 3, 0)) == 0.5
    # the organisation's calendar counts: 10 Mar is the city's holiday, so that day adds nothing to its clock
    city_due = ENGINE.due(Step.HANDLING, start, org="dong-hoi")
    assert city_due == vn(2026, 3, 11, 9, 15)
    assert ENGINE.elapsed_ratio(Step.HANDLING, start, city_due, vn(2026, 3, 10, 17, 0), org="dong-hoi") == pytest.approx(37.75 / 40)
    assert ENGINE.elapsed_ratio(Step.HANDLING, start, due, vn(2026, 3, 10, 17, 0)) == pytest.approx(45.75 / 40)


def test_working_limit_reports_each_working_step_and_none_for_the_others():
    assert ENGINE.working_limit(Step.AGENCY) == timedelta(hours=1)
    assert ENGINE.working_limit(Step.HANDLING) == timedelta(hours=40)
    assert ENGINE.working_limit(Step.HANDLING, ("x", "so-xd")) == timedelta(hours=24)
    assert ENGINE.working_limit(Step.APPROVAL) == ENGINE.working_limit(Step.CLARIFY) == timedelta(hours=8)
    assert ENGINE.working_limit(Step.DISPATCH) is None and ENGINE.working_limit(Step.REPORTER_EDIT) is None


def test_engine_takes_calendar_data_only():
    with pytest.raises(TypeError):
        SlaEngine({"days": []})


def test_the_warning_instant_of_a_deadline_given_by_an_event_is_the_same_80_percent_rule():
    # a consumer knows the start and the deadline (from the producer's event), not how it was computed
    start = vn(2026, 3, 3, 16, 0)
    for step in (Step.HANDLING, Step.APPROVAL, Step.DISPATCH, Step.REPORTER_EDIT):
        clock = ENGINE.clock(step, start)
        assert ENGINE.warn_at(step, start, clock.due) == clock.warn_at
    assert ENGINE.warn_at(Step.APPROVAL, start, vn(2026, 3, 4, 16, 0)) == vn(2026, 3, 4, 14, 24)  # 6 h 24 of 8 working hours
    assert ENGINE.warn_at(Step.AGENCY, start, start) == start  # a deadline already reached warns at once
