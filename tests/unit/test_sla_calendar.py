"""The business calendar: national days from the `holidays` package, admin data, working-time arithmetic,
and the validation, dict shape and files of CalendarData."""
from __future__ import annotations

import json
import unicodedata
from datetime import date, datetime, time, timedelta

import pytest

from paht.runtime.errors import InvalidInput
from paht.runtime.sla import VN, BusinessCalendar, CalendarData, DayRule, Schedule, load_calendar, parse_calendar_text
from paht.runtime.sla.national import national_year

CAL = BusinessCalendar()
H = timedelta(hours=1)


def vn(y, mo, d, h=0, mi=0, s=0, us=0):
    return datetime(y, mo, d, h, mi, s, us, tzinfo=VN)


# ---- national days ----

@pytest.mark.parametrize("day, working, source", [
    (date(2026, 2, 13), True, "schedule"),    # Friday before Tết
    *[(date(2026, 2, d), False, "national") for d in range(16, 21)],  # Tết 2026: Mon 16 – Fri 20 Feb
    (date(2026, 2, 23), True, "schedule"),
    (date(2026, 4, 26), False, "national"),   # Hùng Kings' day on a Sunday...
    (date(2026, 4, 27), False, "national"),   # ...observed on Monday
    (date(2026, 4, 30), False, "national"),
    (date(2026, 5, 1), False, "national"),
    (date(2026, 8, 22), True, "national"),    # Saturday worked in exchange for...
    (date(2026, 8, 31), False, "national"),   # ...Monday 31 Aug off
    (date(2026, 9, 1), False, "national"),
    (date(2026, 9, 2), False, "national"),
    (date(2026, 9, 3), True, "schedule"),
    (date(2025, 4, 26), True, "national"),    # 2025's swap: Saturday 26 Apr worked, Friday 2 May off
    (date(2025, 5, 2), False, "national"),
    (date(2026, 8, 29), False, "schedule"),   # an ordinary Saturday
])
def test_national_days_off_and_swapped_saturdays(day, working, source):
    info = CAL.describe(day)
    assert (info.working, info.source) == (working, source)
    assert CAL.is_working_day(day) is working


@pytest.mark.parametrize("year", [2024, 2025, 2026, 2027, 2030, 2045, 2100])
def test_vietnam_loaded_alone_gives_the_package_s_own_days(year):
    """national.vietnam_class() loads the package's Vietnam module by itself (not the other 300 countries): the same
    days off, names and worked weekend days as the package's own `country_holidays("VN")`."""
    import holidays

    from paht.runtime.sla.national import vietnam_class

    alone = vietnam_class()
    assert alone.__module__ == "paht_holidays_vietnam"  # the light way was taken, not the fallback
    for language in ("en_US", "vi"):
        ours, theirs = alone(years=[year], language=language), holidays.country_holidays("VN", years=[year], language=language)
        assert dict(ours) == dict(theirs) and len(ours) > 5
        assert ours.weekend_workdays == theirs.weekend_workdays


def test_a_swapped_saturday_is_named_and_worked_at_monday_hours():
    info = CAL.describe(date(2026, 8, 22))
    assert info.name == ("Worked day, in exchange for 2026-08-31 off", "Ngày làm bù cho ngày nghỉ 31/08/2026")
    assert info.working_time == timedelta(hours=8)
    assert CAL.working_intervals(date(2026, 8, 22)) == [(vn(2026, 8, 22, 7), vn(2026, 8, 22, 11, 30)),
                                                        (vn(2026, 8, 22, 13, 30), vn(2026, 8, 22, 17))]
    assert CAL.describe(date(2026, 8, 31)).name[1] == "Ngày nghỉ (thay cho ngày 22/08/2026)"
    assert national_year(2026).worked.keys() == {date(2026, 8, 22)}
    assert CAL.working_intervals(date(2026, 8, 31)) == []


def test_cross_year_swap_is_known_from_the_packages_workday_data():
    # 2 Jan 2015 off for Saturday 27 Dec 2014 worked: listed under 2015, worked in 2014
    assert CAL.describe(date(2014 + 1, 1, 2)).working is False
    assert CAL.describe(date(2019, 1, 5)).working is True  # 31 Dec 2018 off for Saturday 5 Jan 2019


# ---- admin data: who wins ----

def test_nearest_organisation_decides_a_day_then_everyone_then_the_nation():
    data = CalendarData(days=(
        DayRule(date(2026, 3, 10), "off", "Lễ hội thành phố", "city"),
        DayRule(date(2026, 3, 10), "work", "Phường vẫn làm việc", "ward"),
        DayRule(date(2026, 3, 11), "off", "Nghỉ toàn tỉnh"),
        DayRule(date(2026, 3, 11), "work", "", "city"),
        DayRule(date(2026, 2, 17), "work", "Trực Tết", "hospital"),
    ))
    cal = BusinessCalendar(data)
    assert cal.is_working_day(date(2026, 3, 10)) is True
    assert cal.is_working_day(date(2026, 3, 10), "city") is False
    assert cal.is_working_day(date(2026, 3, 10), ("ward", "city")) is True      # the ward's own rule is nearer
    assert cal.is_working_day(date(2026, 3, 10), ("school", "city")) is False   # a unit without rules inherits the city's
    assert cal.is_working_day(date(2026, 3, 11)) is False
    assert cal.is_working_day(date(2026, 3, 11), ("ward", "city")) is True      # the city's rule beats everyone's
    assert cal.is_working_day(date(2026, 2, 17), "hospital") is True            # beats Tết
    assert cal.describe(date(2026, 3, 10), ("ward", "city")).source == "org:ward"
    assert cal.describe(date(2026, 3, 11)).source == "everyone"
    assert cal.profile(("school", "ward", "x", "city", "ward")) == ("ward", "city")


def test_everyones_schedule_replaces_the_built_in_one_and_seasons_switch_on_their_dates():
    winter = Schedule(intervals=(("07:30", "11:30"), ("13:00", "17:00")), valid_to=date(2026, 4, 15))
    summer = Schedule(intervals=(("07:00", "11:30"), ("14:00", "17:30")), valid_from=date(2026, 4, 15), valid_to=date(2026, 10, 15))
    cal = BusinessCalendar(CalendarData(schedules={"": (summer, winter)}))
    assert cal.schedule_on(date(2026, 4, 14)) == winter
    assert cal.schedule_on(date(2026, 4, 15)) == summer
    assert cal.schedule_on(date(2026, 10, 15)).intervals == ((7 * 3600, 11 * 3600 + 1800), (13 * 3600 + 1800, 17 * 3600))  # default again
    assert cal.add_working(vn(2026, 4, 14, 11, 0), H) == vn(2026, 4, 14, 13, 30)
    assert cal.add_working(vn(2026, 4, 15, 11, 0), H) == vn(2026, 4, 15, 14, 30)


def test_an_interval_may_run_to_midnight_and_the_next_day_continues():
    night = Schedule(weekdays=("mon", "tue", "wed", "thu", "fri", "sat", "sun"), intervals=(("18:00", "24:00"), ("00:00", "06:00")))
    cal = BusinessCalendar(CalendarData(schedules={"night-desk": (night,)}))
    assert cal.add_working(vn(2026, 3, 2, 23, 0), 2 * H, "night-desk") == vn(2026, 3, 3, 1, 0)
    assert cal.add_working(vn(2026, 3, 2, 23, 0), H, "night-desk") == vn(2026, 3, 3, 0, 0)
    assert cal.working_time_between(vn(2026, 3, 2, 17, 0), vn(2026, 3, 3, 7, 0), "night-desk") == 12 * H
    # Tết still applies to it: 15 Feb 23:00-24:00, then 16-20 Feb off, then Saturday 21 Feb 00:00-01:00
    assert cal.add_working(vn(2026, 2, 15, 23, 0), 2 * H, "night-desk") == vn(2026, 2, 21, 1, 0)


# ---- arithmetic ----

@pytest.mark.parametrize("start, duration, expected", [
    (vn(2026, 3, 3, 9, 15), 40 * H, vn(2026, 3, 10, 9, 15)),      # 5 working days from Tuesday 09:15
    (vn(2026, 3, 2, 11, 0), H, vn(2026, 3, 2, 14, 0)),             # over lunch
    (vn(2026, 3, 6, 17, 30), H, vn(2026, 3, 9, 8, 0)),             # from Friday evening
    (vn(2026, 3, 2, 10, 0, 0, 500), timedelta(0), vn(2026, 3, 2, 10, 0, 0, 500)),  # zero, inside: start itself
    (vn(2026, 3, 2, 11, 30), timedelta(0), vn(2026, 3, 2, 11, 30)),  # zero at an interval's end: still inside (closed)
    (vn(2026, 3, 2, 11, 30), timedelta(seconds=1), vn(2026, 3, 2, 13, 30, 1)),
    (vn(2026, 3, 2, 12, 0), timedelta(0), vn(2026, 3, 2, 13, 30)),  # zero in the break: the next working minute
    (vn(2026, 3, 7, 10, 0), timedelta(0), vn(2026, 3, 9, 7, 0)),    # zero on Saturday: Monday 07:00
    (vn(2026, 3, 6, 17, 0), timedelta(0), vn(2026, 3, 6, 17, 0)),   # zero at Friday 17:00: itself
    (vn(2026, 3, 6, 17, 0, 0, 1), timedelta(0), vn(2026, 3, 9, 7, 0)),
    (vn(2026, 3, 2, 7, 0), 8 * H, vn(2026, 3, 2, 17, 0)),           # a full day ends at 17:00, not next 07:00
    (vn(2026, 3, 2, 7, 0), timedelta(microseconds=1), vn(2026, 3, 2, 7, 0, 0, 1)),
    # a long span, 250 working days: 6 h on Fri 2 Jan, 248 more days in 2026 (1990 h), 1 Jan 2027 off, Mon 4 Jan 8 h, Tue 5 Jan 2 h
    (vn(2026, 1, 2, 9, 0), 8 * H * 250, vn(2027, 1, 5, 9, 0)),
])
def test_add_working(start, duration, expected):
    assert CAL.add_working(start, duration) == expected
    assert CAL.working_time_between(start, expected) == duration


def test_working_time_between_counts_only_working_intervals_and_is_signed():
    assert CAL.working_time_between(vn(2026, 3, 2, 0, 0), vn(2026, 3, 3, 0, 0)) == 8 * H
    assert CAL.working_time_between(vn(2026, 3, 2, 11, 0), vn(2026, 3, 2, 14, 0)) == H
    assert CAL.working_time_between(vn(2026, 3, 6, 16, 0), vn(2026, 3, 9, 8, 0)) == 2 * H
    assert CAL.working_time_between(vn(2026, 3, 9, 8, 0), vn(2026, 3, 6, 16, 0)) == -2 * H
    assert CAL.working_time_between(vn(2026, 2, 14, 0, 0), vn(2026, 2, 22, 0, 0)) == timedelta(0)  # Tết week
    # 2026: 261 weekdays, 13 of them off (1 Jan, Tết ×5, 27 Apr, 30 Apr, 1 May, 31 Aug, 1–2 Sep, 24 Nov), 1 Saturday worked
    assert CAL.working_time_between(vn(2026, 1, 1), vn(2027, 1, 1)) == 8 * H * 249
    assert CAL.next_working_instant(vn(2026, 2, 16, 9, 0)) == vn(2026, 2, 23, 7, 0)


def test_utc_and_other_offsets_are_read_as_the_same_instant():
    from datetime import timezone

    assert CAL.add_working(datetime(2026, 3, 2, 4, 0, tzinfo=timezone.utc), H) == vn(2026, 3, 2, 14, 0)  # 11:00 in Vietnam
    assert CAL.add_working(vn(2026, 3, 2, 11, 0), H).tzinfo is VN


@pytest.mark.parametrize("call, words", [
    (lambda: CAL.add_working(vn(2026, 3, 2, 9), -H), "negative"),
    (lambda: CAL.add_working(datetime(2026, 3, 2, 9), H), "no UTC offset"),
    (lambda: CAL.add_working(vn(2026, 3, 2, 9), 8), "length of time"),
    (lambda: CAL.add_working(vn(2100, 12, 30, 9), 40 * H), "after 2100"),
    (lambda: CAL.working_time_between(vn(1999, 1, 1), vn(2026, 1, 1)), "outside the years"),
    (lambda: CAL.describe(date(2101, 1, 1)), "outside the years"),
    (lambda: CAL.add_working(vn(2026, 3, 2, 9), H, org=("a", 3)), "organisation id"),
])
def test_bad_arithmetic_requests_are_invalid_input(call, words):
    with pytest.raises(InvalidInput) as caught:
        call()
    assert words in caught.value.detail_en


# ---- CalendarData: validation ----

def _calendar(**parts):
    return {"version": 1, "days": [], "schedules": {}, "agency_limits": {}, **parts}


def _schedule(**fields):
    return {"valid_from": None, "valid_to": None, "weekdays": ["mon", "tue", "wed", "thu", "fri"],
            "intervals": [["07:00", "11:30"], ["13:30", "17:00"]], **fields}


BAD = [
    pytest.param(_calendar(days=[{"day": "2026-02-30", "kind": "off", "name": "x"}]), ["days[0]", "2026-02-30", "not a valid date"],
                 id="bad date"),
    pytest.param(_calendar(days=[{"day": "30/04/2026", "kind": "off"}]), ["days[0]", "YYYY-MM-DD"], id="date in the wrong order"),
    pytest.param(_calendar(days=[{"day": "2026-05-04", "kind": "holiday"}]), ["days[0]", "2026-05-04", "'off' or 'work'"],
                 id="unknown kind"),
    pytest.param(_calendar(days=[{"day": "2026-05-04", "kind": False}]), ["days[0]", "in quotes"], id="YAML off read as false"),
    pytest.param(_calendar(days=[{"day": "2026-05-04"}]), ["days[0]", "'kind'"], id="kind missing"),
    pytest.param(_calendar(days=[{"day": "2026-05-04", "kind": "off", "when": 1}]), ["days[0]", "unknown fields: when"],
                 id="unknown field"),
    pytest.param(_calendar(days=[{"day": "2026-05-04", "kind": "off", "name": "a\u202eb"}]), ["days[0]", "U+202E"],
                 id="bidi control in name"),
    pytest.param(_calendar(days=[{"day": "2026-05-04", "kind": "off", "name": "x" * 201}]), ["days[0]", "too long"], id="name too long"),
    pytest.param(_calendar(days=[{"day": "2206-05-04", "kind": "off"}]), ["days[0]", "2206-05-04", "outside the years"],
                 id="year out of range"),
    pytest.param(_calendar(days=[{"day": "2026-05-04", "kind": "off"}, {"day": "2026-05-04", "kind": "work", "org_id": ""}]),
                 ["2026-05-04", "twice", "everyone"], id="duplicate day"),
    pytest.param(_calendar(days=[{"day": "2026-05-04", "kind": "off", "org_id": "a"}, {"day": "2026-05-04", "kind": "off", "org_id": "a"}]),
                 ["2026-05-04", "twice", "organisation 'a'"], id="duplicate day of one organisation"),
    pytest.param(_calendar(schedules={"x": [_schedule(intervals=[["07:00", "12:00"], ["11:30", "17:00"]])]}),
                 ["schedules['x'][0]", "07:00–12:00", "11:30–17:00", "overlap"], id="intervals overlap"),
    pytest.param(_calendar(schedules={"x": [_schedule(intervals=[["13:30", "11:30"]])]}), ["schedules['x'][0]", "interval 1", "end after"],
                 id="interval ends before it starts"),
    pytest.param(_calendar(schedules={"x": [_schedule(intervals=[["22:00", "24:30"]])]}), ["schedules['x'][0]", "24:30", "00:00 and 24:00"],
                 id="interval past 24:00"),
    pytest.param(_calendar(schedules={"x": [_schedule(intervals=[["07:00", "11:61"]])]}), ["11:61"], id="minute 61"),
    pytest.param(_calendar(schedules={"x": [_schedule(intervals=[["7h", "11:30"]])]}), ["'7h'", "HH:MM"], id="not a time"),
    pytest.param(_calendar(schedules={"x": [_schedule(intervals=[[420, 690]])]}), ["420", "quoted"], id="YAML 1.1 sexagesimal number"),
    pytest.param(_calendar(schedules={"x": [_schedule(intervals=[["07:00"]])]}), ["interval 1", "pair"], id="half an interval"),
    pytest.param(_calendar(schedules={"x": [_schedule(intervals=[])]}), ["at least one interval"], id="no interval"),
    pytest.param(_calendar(schedules={"x": [_schedule(weekdays=[])]}), ["schedules['x'][0]", "at least one weekday"], id="empty weekdays"),
    pytest.param(_calendar(schedules={"x": [_schedule(weekdays=["mon", "funday"])]}), ["'funday'", "mon, tue"], id="unknown weekday"),
    pytest.param(_calendar(schedules={"x": [_schedule(weekdays=[1, 2])]}), ["weekday 1", "name"], id="weekday as a number"),
    pytest.param(_calendar(schedules={"x": [_schedule(weekdays=["mon", "Mon"])]}), ["named twice"], id="weekday twice"),
    pytest.param(_calendar(schedules={"x": [_schedule(valid_from="2026-10-15", valid_to="2026-04-15")]}),
                 ["schedules['x'][0]", "end day must come after"], id="period ends before it starts"),
    pytest.param(_calendar(schedules={"x": [_schedule(valid_from="2026-04-15", valid_to="2026-10-15"),
                                            _schedule(valid_from="2026-10-01")]}),
                 ["organisation 'x'", "overlap", "2026-04-15 to 2026-10-15", "2026-10-01 to open end"], id="periods overlap"),
    pytest.param(_calendar(schedules={"": [_schedule(), _schedule(valid_from="2027-01-01")]}), ["everyone", "overlap"],
                 id="an open period overlaps a later one"),
    pytest.param(_calendar(schedules={"x": [_schedule(weekdays=None)]}), ["a list"], id="weekdays not a list"),
    pytest.param(_calendar(schedules={"x": [{"weekdays": ["mon"]}]}), ["'intervals'"], id="intervals missing"),
    pytest.param(_calendar(agency_limits={"so-xd": 6}), ["so-xd", "6 working days", "never looser"], id="agency limit looser"),
    pytest.param(_calendar(agency_limits={"so-xd": 0}), ["so-xd", "at least 1"], id="agency limit zero"),
    pytest.param(_calendar(agency_limits={"so-xd": "3"}), ["so-xd", "whole number"], id="agency limit as text"),
    pytest.param(_calendar(agency_limits={"so-xd": 2.5}), ["so-xd", "whole number"], id="agency limit fractional"),
    pytest.param(_calendar(agency_limits={"so-xd": True}), ["so-xd", "whole number"], id="agency limit yes/no"),
    pytest.param(_calendar(agency_limits={"": 3}), ["organisation id is empty"], id="agency limit for nobody"),
    pytest.param(_calendar(version=2), ["version 2"], id="unknown format version"),
    pytest.param(_calendar(holidays=[]), ["unknown fields: holidays"], id="unknown top-level field"),
    pytest.param(["not", "a", "calendar"], ["object with named fields"], id="not an object"),
]


@pytest.mark.parametrize("data, words", BAD)
def test_bad_calendars_are_refused_naming_the_entry_in_both_languages(data, words):
    with pytest.raises(InvalidInput) as caught:
        CalendarData.from_dict(data)
    for word in words:
        assert word in caught.value.detail_en
    assert caught.value.detail_vi and caught.value.detail_vi != caught.value.detail_en
    assert caught.value.key == "error.validation" or caught.value.key.startswith("error.")


def test_building_from_code_is_validated_the_same_way():
    with pytest.raises(InvalidInput, match="never looser"):
        CalendarData(agency_limits={"a": 9})
    with pytest.raises(InvalidInput, match="overlap"):
        Schedule(intervals=((time(7), time(12)), (time(11), time(13))))
    with pytest.raises(InvalidInput, match="twice"):
        CalendarData(days=(DayRule(date(2026, 1, 5), "off", ""), DayRule(date(2026, 1, 5), "off", "again")))
    with pytest.raises(InvalidInput, match="without a time"):
        DayRule(datetime(2026, 1, 5, 9), "off", "")
    with pytest.raises(InvalidInput, match="not a Schedule"):
        CalendarData(schedules={"x": ({"weekdays": ["mon"]},)})


# ---- CalendarData: the dict shape ----

FULL = CalendarData(
    days=(DayRule(date(2026, 9, 2), "work", "Trực lễ", "hospital"), DayRule(date(2026, 3, 21), "work", "Làm bù"),
          DayRule(date(2026, 3, 20), "off", "Nghỉ bù"), DayRule(date(2026, 3, 10), "off", "Lễ hội", "city")),
    schedules={"zeta": (Schedule(weekdays=(5, 0), intervals=(("13:30", "17:00:30"), ("07:00", "11:30"))),),
               "": (Schedule(valid_from=date(2026, 4, 15), valid_to=date(2026, 10, 15), intervals=(("07:00", "11:30"), ("14:00", "17:30"))),
                    Schedule(valid_to=date(2026, 4, 15)))},
    agency_limits={"so-yt": 5, "so-xd": 3},
)


def test_to_dict_is_json_safe_sorted_and_round_trips():
    d = FULL.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert [r["day"] for r in d["days"]] == ["2026-03-10", "2026-03-20", "2026-03-21", "2026-09-02"]
    assert list(d["schedules"]) == ["", "zeta"] and list(d["agency_limits"]) == ["so-xd", "so-yt"]
    assert [s["valid_from"] for s in d["schedules"][""]] == [None, "2026-04-15"]
    assert d["schedules"]["zeta"] == [{"valid_from": None, "valid_to": None, "weekdays": ["mon", "sat"],
                                       "intervals": [["07:00", "11:30"], ["13:30", "17:00:30"]]}]
    assert d["days"][0] == {"day": "2026-03-10", "kind": "off", "name": "Lễ hội", "org_id": "city"}
    again = CalendarData.from_dict(json.loads(json.dumps(d)))
    assert again == FULL and again.to_dict() == d
    assert CalendarData.from_dict(None) == CalendarData.from_dict({}) == CalendarData()


def test_names_and_ids_are_cleaned_and_optional_fields_default():
    decomposed = unicodedata.normalize("NFD", "  Lễ hội  ")
    rule = CalendarData.from_dict({"days": [{"day": "2026-03-10", "kind": "off", "name": decomposed, "org_id": " city "}]}).days[0]
    assert rule.name == "Lễ hội" and rule.org_id == "city"
    assert CalendarData.from_dict({"days": [{"day": "2026-03-10", "kind": "off"}]}).days[0] == DayRule(date(2026, 3, 10), "off", "")


# ---- files ----

YAML_TEXT = """\
# a calendar written by hand: unquoted times and 'off' are read as the words they look like
version: 1
days:
  - {day: 2026-03-10, kind: off, name: Lễ hội thành phố, org_id: city}
  - day: 2026-03-21
    kind: work
schedules:
  "":
    - valid_from: 2026-04-15
      valid_to: 2026-10-15
      weekdays: [mon, tue, wed, thu, fri]
      intervals: [[07:00, 11:30], [14:00, 17:30]]
agency_limits:
  so-xd: 3
"""


def test_yaml_and_json_files_load_to_the_same_calendar(tmp_path):
    yaml_file = tmp_path / "calendar.yaml"
    yaml_file.write_text(YAML_TEXT, encoding="utf-8")
    data = load_calendar(yaml_file)
    assert data.days[0] == DayRule(date(2026, 3, 10), "off", "Lễ hội thành phố", "city")
    assert data.schedules[""][0].intervals == ((7 * 3600, 11 * 3600 + 1800), (14 * 3600, 17 * 3600 + 1800))
    assert data.agency_limits == {"so-xd": 3}
    json_file = tmp_path / "calendar.json"
    json_file.write_text(json.dumps(data.to_dict(), ensure_ascii=False), encoding="utf-8")
    assert load_calendar(json_file) == data
    assert load_calendar(str(json_file)) == data
    assert load_calendar(None) == CalendarData()


@pytest.mark.parametrize("name, content, words", [
    ("missing.json", None, "Cannot read the calendar file"),
    ("bad.json", "{not json", "is not valid JSON"),
    ("bad.yaml", "days: [", "is not valid YAML"),
    ("latin1.yaml", "days: []\n# L\xea h\xf4i".encode("latin-1"), "Cannot read the calendar file"),
    ("limits.yaml", "agency_limits: {so-xd: 7}\n", "never looser"),
])
def test_unreadable_calendar_files_are_invalid_input(tmp_path, name, content, words):
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(InvalidInput) as caught:
        load_calendar(path)
    assert words in caught.value.detail_en
    with pytest.raises(InvalidInput):
        load_calendar(tmp_path)  # a folder


def test_parse_calendar_text_reads_json_too():
    assert parse_calendar_text(json.dumps(FULL.to_dict()), yaml_text=False) == FULL
