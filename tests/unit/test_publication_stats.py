"""The statistics' rules without a database: a report's facts, when steps end, what is overdue, the rollup's sums,
the 90th percentile, the request's period and filters, the series and the exports."""
from __future__ import annotations

import csv
import io
import math
import random
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from paht.intake.v1 import events_pb2 as intake_ev
from services.intake.domain.vocabulary import Channel
from services.publication.domain.feedback import Score
from services.publication.domain.public_report import Clock, PublicReport, Step, TimelineEntry
from services.publication.domain.stats import (
    ALL,
    MEASURES,
    STEPS,
    TIMED,
    BadStatsQuery,
    Delta,
    Every,
    ReportFacts,
    StatStep,
    StatsQuery,
    Tally,
    bucket_of,
    bucket_value,
    channel_of,
    facts_of,
    measures,
    nearest_rank,
    p90_from_histogram,
    parse_month,
    series,
)

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)  # 08:00 in Vietnam, a Monday
TODAY = date(2026, 3, 20)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def handled_report(**changes) -> PublicReport:
    """A report through every step: received T0, accepted +10, dispatched +20 (due +60), unit +30 (due +80), drafted +50
    (handling due +1 day), approved +70 (due +2 days), published +100 (due +130)."""
    r = PublicReport(report_id="r1", status=Step.PUBLISHED.value, tracking_code="QB-AAAA-BBBB", title="Đèn hỏng", topic_code="den",
                     area_code="18856", received_at=T0, channel="web", lead_agency_id="so-gtvt", lead_agency_name="Sở GTVT",
                     accepted_at=at(10), dispatched_at=at(20), dispatch_due=at(60), agency_due=at(80), handling_due=at(24 * 60),
                     unit_assigned_at=at(30), handled_at=at(50), drafted_at=at(50), approval_due=at(2 * 24 * 60), leader_approved_at=at(70),
                     approved_at=at(70), publish_due=at(130), published_at=at(100))
    for name, value in changes.items():
        setattr(r, name, value)
    return r


def entry(kind: Step, minutes: float, n: int = 0) -> TimelineEntry:
    return TimelineEntry(id=f"e{minutes:08.1f}-{n}", report_id="r1", kind=kind.value, at=at(minutes))


# --- facts ---------------------------------------------------------------------------------------------------------

def test_a_handled_reports_facts_time_every_step_from_its_start_to_its_end_and_say_on_time():
    f = facts_of(handled_report(), "satisfied")
    assert f.day == date(2026, 3, 2) and (f.topic_code, f.area_code, f.channel, f.agency_id, f.status) == ("den", "18856", "web", "so-gtvt", "published")
    assert dict(zip(STEPS, f.seconds)) == {StatStep.RECEIVE: 600, StatStep.DISPATCH: 1200, StatStep.AGENCY: 600, StatStep.HANDLING: 1800,
                                           StatStep.APPROVAL: 1200, StatStep.PUBLISH: 1800, StatStep.TOTAL: 6000}
    assert dict(zip(TIMED, f.on_time)) == {s: True for s in TIMED}
    assert f.score == "satisfied"
    assert not any(hasattr(f, name) for name in ("title", "description", "reporter_ref", "address_text"))  # counts, never content


def test_late_open_and_unknown_steps_are_told_apart():
    f = facts_of(handled_report(published_at=at(200), agency_due=None, leader_approved_at=None, status=Step.APPROVED.value))
    on_time = dict(zip(TIMED, f.on_time))
    seconds = dict(zip(STEPS, f.seconds))
    assert on_time[StatStep.PUBLISH] is False              # published after publish_due
    assert on_time[StatStep.AGENCY] is None and seconds[StatStep.AGENCY] == 600  # no deadline carried: timed, not judged
    assert on_time[StatStep.APPROVAL] is None and seconds[StatStep.APPROVAL] is None  # not done
    assert facts_of(PublicReport(report_id="early")) is None  # another producer's event first: nothing to count yet


def test_a_day_is_vietnams_day_and_a_step_never_takes_less_than_nothing():
    late_evening_utc = datetime(2026, 3, 1, 18, 30, tzinfo=timezone.utc)  # 01:30 on 2 March in Vietnam
    f = facts_of(handled_report(received_at=late_evening_utc, accepted_at=late_evening_utc - timedelta(seconds=5)))
    assert f.day == date(2026, 3, 2) and f.seconds[0] == 0


def test_channels_are_intakes_vocabulary_read_from_the_proto_enum_by_name():
    for channel in Channel:
        assert channel_of(intake_ev.Channel.Name(intake_ev.Channel.Value("CHANNEL_" + channel.name))) == channel.value
    assert channel_of("CHANNEL_UNSPECIFIED") == "" and channel_of("CHANNEL_CARRIER_PIGEON") == ""


# --- when steps end ------------------------------------------------------------------------------------------------

def test_a_step_ends_at_the_first_entry_since_its_clock_started_whatever_order_the_events_come_in():
    r = PublicReport(report_id="r1")
    r.record_step_end(Step.ASSIGNED, at(30))  # handling's unit assignment before dispatch's event
    assert r.unit_assigned_at == at(30)
    assert r.record_dispatch_deadlines(at(20), at(60), at(80), at(600), agency_id="so-gtvt")
    r.place_step_ends([entry(Step.ASSIGNED, 30), entry(Step.DISPATCHED, 20)])
    assert r.unit_assigned_at == at(30) and r.lead_agency_id == "so-gtvt"
    r.record_step_end(Step.ASSIGNED, at(45))  # a second unit of the same round (the first refused): the first counts
    assert r.unit_assigned_at == at(30)


def test_a_new_round_ends_its_steps_at_its_own_first_unit_and_draft_even_when_handling_came_first():
    r = PublicReport(report_id="r1")
    timeline = [entry(Step.DISPATCHED, 20), entry(Step.ASSIGNED, 30), entry(Step.DRAFTED, 50)]
    r.record_dispatch_deadlines(at(20), at(60), at(80), at(600), agency_id="a1")
    r.place_step_ends(timeline)
    assert (r.unit_assigned_at, r.handled_at) == (at(30), at(50))
    timeline += [entry(Step.ASSIGNED, 200)]  # round 2's unit, from handling, before dispatch's round 2 arrives
    r.record_step_end(Step.ASSIGNED, at(200))
    assert r.unit_assigned_at == at(30)
    assert r.record_dispatch_deadlines(at(150), at(210), at(220), at(900), agency_id="a2")
    r.place_step_ends(timeline + [entry(Step.DISPATCHED, 150)])
    assert (r.unit_assigned_at, r.handled_at, r.lead_agency_id) == (at(200), None, "a2")
    assert not r.record_dispatch_deadlines(at(20), at(60), at(80), at(600), agency_id="a1")  # round 1 again, late: ignored
    assert r.lead_agency_id == "a2"


def test_step_7_ends_at_the_first_approval_of_the_newest_draft():
    r = PublicReport(report_id="r1")
    timeline = [entry(Step.DRAFTED, 50), entry(Step.APPROVED, 70)]
    r.record_approval_deadline(at(50), at(600))
    r.place_step_ends(timeline)
    assert r.leader_approved_at == at(70)
    timeline += [entry(Step.APPROVED, 300)]  # approved again after the IOC's return, without a new draft
    r.record_step_end(Step.APPROVED, at(300))
    assert r.leader_approved_at == at(70)
    timeline += [entry(Step.DRAFTED, 400)]
    assert r.record_approval_deadline(at(400), at(900))
    r.place_step_ends(timeline)
    assert r.leader_approved_at is None
    r.record_step_end(Step.APPROVED, at(450))
    assert r.leader_approved_at == at(450)


# --- overdue --------------------------------------------------------------------------------------------------------

def test_overdue_is_the_first_late_step_not_done_then_and_never_a_closed_report():
    waiting = handled_report(status=Step.DISPATCHED.value, unit_assigned_at=None, handled_at=None, drafted_at=None, approval_due=None,
                             leader_approved_at=None, approved_at=None, publish_due=None, published_at=None)
    assert waiting.overdue_at(at(70)) is None                       # step 3 due at +80
    late = waiting.overdue_at(at(90))
    assert (late.clock, late.due_at) == (Clock.AGENCY, at(80))
    assert waiting.overdue_at(at(2 * 24 * 60)).clock is Clock.AGENCY  # handling is late too: step 3 is where it is stuck
    done = handled_report()
    assert done.overdue_at(at(110)) is None                        # published by then
    assert done.overdue_at(at(90)) is None                         # every step done on time by +90
    at_publish = handled_report(published_at=None, status=Step.APPROVED.value)
    assert at_publish.overdue_at(at(140)).clock is Clock.PUBLISH
    returned = handled_report(published_at=None, status=Step.RETURNED_BY_IOC.value)
    assert returned.overdue_at(at(140)) is None                    # back with the unit: no step 8 clock
    assert handled_report(status=Step.CANCELLED.value, published_at=None).overdue_at(at(140)) is None
    # at a past moment: late then, done later
    assert handled_report(unit_assigned_at=at(100)).overdue_at(at(90)).clock is Clock.AGENCY


# --- the rollup's sums ----------------------------------------------------------------------------------------------

def random_facts(rnd: random.Random, report_id: str) -> ReportFacts | None:
    if rnd.random() < 0.1:
        return None
    return ReportFacts(report_id=report_id, day=date(2026, 3, rnd.randint(1, 4)), topic_code=rnd.choice(["a", "b", ""]),
                       area_code=rnd.choice(["1", "2"]), channel=rnd.choice(["web", "app", ""]), agency_id=rnd.choice(["x", "y", ""]),
                       agency_name="", status=rnd.choice(["accepted", "published", "refused"]),
                       seconds=tuple(rnd.choice([None, rnd.randint(0, 10 ** 6)]) for _ in STEPS),
                       on_time=tuple(rnd.choice([None, True, False]) for _ in TIMED), score=rnd.choice(["", "satisfied", "unsatisfied"]))


def summed(facts: list[ReportFacts | None]) -> Delta:
    total = Delta()
    for f in facts:
        total.add(f, +1)
    return total


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=10 ** 6))
def test_adding_each_change_as_a_difference_gives_the_sum_of_the_final_facts(seed):
    rnd = random.Random(seed)
    current: dict[str, ReportFacts | None] = {}
    rollup = Delta()
    for _ in range(40):  # reports change in any order, some several times, some vanish (no content) and come back
        rid = f"r{rnd.randint(1, 8)}"
        new = random_facts(rnd, rid)
        rollup.change(current.get(rid), new)
        current[rid] = new
    expected = summed(list(current.values()))
    days, durations = rollup.rows()
    want_days, want_durations = expected.rows()
    assert days == want_days and durations == want_durations


def test_a_report_counts_once_in_its_days_totals_and_once_under_each_dimension():
    f = facts_of(handled_report(), "acceptable")
    d = summed([f])
    keys = {k for k, v in d.rows()[0]}
    assert keys == {(f.day, ALL, ""), (f.day, "topic", "den"), (f.day, "area", "18856"), (f.day, "channel", "web"), (f.day, "agency", "so-gtvt"),
                    (f.day, "status", "published")}
    vector = dict(zip(MEASURES, measures(f)))
    assert vector["reports"] == 1 and vector["acceptable"] == 1 and vector["publish_on_time"] == 1 and vector["total_seconds"] == 6000


def test_a_tally_says_means_rates_and_satisfaction():
    t = Tally()
    for seconds, ok, score in ((600, True, "satisfied"), (1800, False, "acceptable"), (None, None, "")):
        f = facts_of(handled_report(), score)
        f = replace(f, seconds=(seconds,) + f.seconds[1:], on_time=(ok,) + f.on_time[1:])
        t.add(measures(f))
    receive, dispatch = t.step(StatStep.RECEIVE), t.step(StatStep.DISPATCH)
    assert (receive.done, receive.mean_seconds, receive.timed) == (2, 1200, 0)
    assert (dispatch.timed, dispatch.on_time, dispatch.on_time_rate) == (2, 1, 0.5)
    assert t.rated == 2 and t.rate_of(Score.SATISFIED) == 0.5


# --- the 90th percentile --------------------------------------------------------------------------------------------

def test_nearest_rank_is_the_ceiling_of_ninety_per_cent():
    assert [nearest_rank(n) for n in (1, 2, 9, 10, 11, 100, 101)] == [1, 2, 9, 9, 10, 90, 91]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=400 * 86400), min_size=1, max_size=300))
def test_the_histograms_p90_is_the_exact_p90s_bucket_an_upper_bound_at_most_9_per_cent_above(times):
    exact = sorted(times)[nearest_rank(len(times)) - 1]
    histogram: dict[int, int] = {}
    for s in times:
        histogram[bucket_of(s)] = histogram.get(bucket_of(s), 0) + 1
    stated = p90_from_histogram(histogram)
    assert stated == bucket_value(bucket_of(exact))  # the exact nearest-rank time's bucket
    assert exact <= stated <= math.ceil(exact * 2 ** (1 / 8)) + 1


def test_buckets_grow_by_an_eighth_of_a_doubling():
    assert bucket_of(0) == 0 and bucket_value(0) == 0
    assert bucket_of(1) == 1 and bucket_of(2) == 9 and bucket_of(3600) == math.floor(8 * math.log2(3600)) + 1
    assert all(s <= bucket_value(bucket_of(s)) for s in range(0, 5000))
    assert p90_from_histogram({}) is None


# --- a request ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("params, says", [
    ({"from": "2026-13-01"}, "YYYY-MM-DD"),
    ({"from": "2026-1-1"}, "YYYY-MM-DD"),
    ({"to": "hôm nay"}, "YYYY-MM-DD"),
    ({"from": "2026-03-10", "to": "2026-03-01"}, "ends before it starts"),
    ({"from": "2020-01-01", "to": "2026-01-01"}, "at most 3 years"),
    ({"from": "1999-12-31", "to": "2000-01-05"}, "no reports that old"),
    ({"from": "2025-01-01", "to": "2026-03-01", "every": "day"}, "week or month"),
    ({"every": "year"}, "day, week or month"),
    ({"topic": "den'; drop"}, "topic code"),
    ({"channel": "fax"}, "Unknown channel"),
    ({"page": "2"}, "Unknown parameter page"),
])
def test_a_request_that_cannot_be_answered_says_why_in_both_languages(params, says):
    with pytest.raises(BadStatsQuery) as refused:
        StatsQuery.parse(params, TODAY)
    assert says in refused.value.detail_en and refused.value.detail_vi and refused.value.detail_vi != refused.value.detail_en


def test_the_default_period_is_twelve_months_and_its_bar_follows_its_length():
    q = StatsQuery.parse({}, TODAY)
    assert (q.day_from, q.day_to, q.every, q.filtered) == (date(2025, 4, 1), TODAY, Every.MONTH, False)
    assert StatsQuery.parse({"from": "2026-03-01", "to": "2026-03-31"}, TODAY).every is Every.DAY
    assert StatsQuery.parse({"from": "2026-01-01", "to": "2026-03-31"}, TODAY).every is Every.WEEK
    q = StatsQuery.parse({"from": "2023-03-21", "to": "2026-03-20", "channel": "call_center", "agency": "so-gtvt"}, TODAY)
    assert q.filtered and q.filters() == {"agency": "so-gtvt", "channel": "call_center"} and q.slug() == "2023-03-21_2026-03-20"
    assert StatsQuery.parse({"lang": "en"}, TODAY, allowed=frozenset({"from", "to", "every", "group", "topic", "area", "agency", "channel", "lang"}))


def test_a_month_is_yyyy_mm_up_to_this_one():
    assert parse_month("2026-02", TODAY) == date(2026, 2, 1) and parse_month("", TODAY) == date(2026, 2, 1)
    for bad in ("2026-2", "2026-13", "2026-04", "tháng 3"):
        with pytest.raises(BadStatsQuery):
            parse_month(bad, TODAY)


def test_the_series_has_every_bar_of_the_period_clipped_to_it():
    days = {date(2026, 2, 27): 2, date(2026, 3, 2): 5, date(2026, 3, 9): 1, date(2026, 1, 1): 99}
    weekly = series(days, date(2026, 2, 26), date(2026, 3, 10), Every.WEEK)
    assert weekly == [(date(2026, 2, 26), date(2026, 3, 1), 2), (date(2026, 3, 2), date(2026, 3, 8), 5), (date(2026, 3, 9), date(2026, 3, 10), 1)]
    monthly = series(days, date(2026, 2, 26), date(2026, 3, 10), Every.MONTH)
    assert monthly == [(date(2026, 2, 26), date(2026, 2, 28), 2), (date(2026, 3, 1), date(2026, 3, 10), 6)]
    daily = series(days, date(2026, 2, 26), date(2026, 3, 10), Every.DAY)
    assert len(daily) == 13 and sum(n for *_d, n in daily) == 8


# --- pages and exports ----------------------------------------------------------------------------------------------

def test_times_numbers_and_rates_are_written_as_each_language_writes_them():
    from services.publication.entrypoints.stats_pages import change, duration, number, percent

    assert [duration(s, "vi") for s in (None, 42, 600, 3 * 3600 + 1200, 2 * 86400 + 4 * 3600)] == ["—", "42 giây", "10 phút", "3 giờ 20 phút", "2 ngày 4 giờ"]
    assert duration(2 * 86400, "en") == "2 d"
    assert number(1234567, "vi") == "1.234.567" and number(1234567, "en") == "1,234,567"
    assert percent(0.875, "vi") == "87,5 %" and percent(None, "en") == "—"
    assert change(12, 10, "vi") == "+2 (+20,0 %)" and change(0.5, 0.6, "en", "rate") == "-10.0 pts"


def test_the_csv_opens_in_excel_with_vietnamese_and_never_runs_a_title_as_a_formula():
    from services.publication.entrypoints.stats_export import Table, to_csv, to_xlsx

    parts = [Table("Tổng quan", ["Chỉ tiêu", "Giá trị"], [["Phản ánh tiếp nhận", 3]]),
             Table("Quá hạn", ["Mã", "Tiêu đề"], [["QB-1", "=HYPERLINK(\"http://x\")"], ["QB-2", None]])]
    body = to_csv(parts)
    assert body.startswith("\ufeff".encode("utf-8"))
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == ["Tổng quan"] and rows[2] == ["Phản ánh tiếp nhận", "3"] and rows[3] == []
    assert rows[6][1].startswith("'=") and rows[7] == ["QB-2", ""]
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx(parts)))
    assert book.sheetnames == ["Tổng quan", "Quá hạn"]
    sheet = book["Quá hạn"]
    assert sheet["A1"].value == "Quá hạn" and sheet["B3"].value == "=HYPERLINK(\"http://x\")" and sheet["B3"].data_type == "s"
