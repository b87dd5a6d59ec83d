"""Statistics of the procedure for the IOC and the Steering Committee: what is counted, how, and over which period.
No I/O here.

Every report counts, private and state-secret ones included — as numbers only: no figure carries a title, a
place or anything about the reporter. A report is counted in the period of the day it was received (Vietnam's
time): its later steps, its overdue days and its rating stay with that day (a cohort), so a month's figures
complete themselves as its reports are handled.

Per report the read model keeps one narrow row of facts (`ReportFacts`, table report_stats) and adds it to a
per-day rollup (stats_days: the day's totals and each day's count per topic, area, channel, lead agency and
status; stats_durations: each step's time as a histogram). A period without filters is summed from the rollup;
with a filter the facts of the matching reports are summed directly. Both give the same figures (`Tally`).

Time of a step: whole seconds from the moment it started to the moment it ended (the second it ended minus the
second it started, never below 0). Steps and their clocks:

  step 1 (receive)    received → accepted            no deadline of its own: it shares steps 1-2's window, and no
                                                     event carries a step-1 deadline
  steps 1-2 (dispatch) received → dispatched         on time when dispatched by dispatch_due (dispatch's clock)
  step 3 (agency)     dispatched → lead unit named    agency_due
  steps 3-6 (handling) dispatched → draft reported    handling_due
  step 7 (approval)   newest draft → leader approved  approval_due
  step 8 (publish)    approval → published            publish_due
  total               received → published            no deadline

The current dispatch round counts (a re-dispatch replaces the round's start and deadlines, as on the timeline).
On time is `met` of the public timeline. The 90th percentile is the nearest-rank one (the smallest time that
at least 90 % of the steps took no longer than), stated as an upper bound at most 9 % above it: times are kept
in histogram buckets 1/8 of a doubling wide and the percentile is its bucket's upper end (`bucket_of`,
`bucket_value`) — the same figure whether the histogram is the rollup's or made from the facts' buckets.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from enum import Enum
from typing import Iterable, Mapping

from paht.runtime.errors import DomainError
from paht.runtime.sla import VN
from paht.runtime.text import Label
from paht.runtime.terms import Channel  # how reports come in: intake records it, with its wording
from services.publication.domain.feedback import Score
from services.publication.domain.public_report import CLOCKS, Clock, PublicReport, Step, met

MAX_SPAN_DAYS = 3 * 365 + 1     # a period covers at most three years
MAX_DAILY_SPAN_DAYS = 366        # day by day for at most a year (a longer period: by week or month)
EARLIEST = date(2000, 1, 1)
BUCKETS_PER_DOUBLING = 8         # histogram buckets: each 2^(1/8) ≈ 9 % wider than the one before
OVERDUE_SHOWN = 200              # the overdue list on a page; exports take up to OVERDUE_EXPORTED
OVERDUE_EXPORTED = 10_000
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
MONTH = re.compile(r"\d{4}-\d{2}")
CODE = re.compile(r"[A-Za-z0-9._-]{1,80}")


class BadStatsQuery(DomainError):
    """A statistics request that cannot be answered as asked (400, both languages, saying what to change)."""

    key = "error.bad_stats_query"


class StatStep(str, Enum):
    """A measured stretch of the procedure (see the module's docstring); five of them are a Clock of the timeline."""

    RECEIVE = "receive"
    DISPATCH = "dispatch"
    AGENCY = "agency"
    HANDLING = "handling"
    APPROVAL = "approval"
    PUBLISH = "publish"
    TOTAL = "total"

    @property
    def clock(self) -> Clock | None:
        """The clock whose deadline this step is held to (None: no deadline)."""
        return Clock(self.value) if self.value in Clock._value2member_map_ else None

    @property
    def label(self) -> Label:
        return CLOCKS[self.clock].label if self.clock else OWN_LABELS[self]


OWN_LABELS = {
    StatStep.RECEIVE: Label("Step 1: check and accept (shares the window of steps 1–2)", "Bước 1: kiểm tra, tiếp nhận (chung thời hạn bước 1–2)"),
    StatStep.TOTAL: Label("From receipt to the published answer", "Từ tiếp nhận đến công khai kết quả"),
}
STEPS: tuple[StatStep, ...] = tuple(StatStep)
TIMED: tuple[StatStep, ...] = tuple(s for s in StatStep if s.clock is not None)
AGENCY_STEPS: tuple[StatStep, ...] = (StatStep.AGENCY, StatStep.HANDLING, StatStep.APPROVAL)  # what a lead agency answers for


class Dim(str, Enum):
    """What the volume is broken down by (and what a request may filter on, with the group of topics)."""

    TOPIC = "topic"
    AREA = "area"
    CHANNEL = "channel"
    AGENCY = "agency"
    STATUS = "status"


ALL = ""  # the rollup's dimension for a day's totals
DIMS: tuple[Dim, ...] = tuple(Dim)


class Every(str, Enum):
    """The length of one bar of the volume series."""

    DAY = "day"
    WEEK = "week"   # ISO weeks, from Monday
    MONTH = "month"


def channel_of(proto_name: str) -> str:
    """Intake's Channel value of a proto enum name (CHANNEL_<NAME>, the rule intake's events follow); "" if unknown."""
    name = proto_name.removeprefix("CHANNEL_")
    return Channel[name].value if name in Channel.__members__ else ""


def channel_label(value: str) -> Label | None:
    """A channel's wording, as intake words it (None for a value intake does not have)."""
    try:
        en, vi = Channel(value).label
    except ValueError:
        return None
    return Label(en[:1].upper() + en[1:], vi[:1].upper() + vi[1:])


def local_day(at: datetime) -> date:
    """The day (in Vietnam) an instant falls on."""
    return (at if at.tzinfo else at.replace(tzinfo=timezone.utc)).astimezone(VN).date()


def start_of(day: date) -> datetime:
    """The first instant of a day in Vietnam."""
    return datetime.combine(day, time.min, VN)


# --- one report's facts -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReportFacts:
    """What the statistics know of one report: no title, no place beyond the area code, nothing of the reporter."""

    report_id: str
    day: date
    topic_code: str
    area_code: str
    channel: str
    agency_id: str
    agency_name: str
    status: str
    seconds: tuple[int | None, ...]  # per STEPS: how long the step took, None while it runs (or never ran)
    on_time: tuple[bool | None, ...]  # per TIMED: met its deadline; None while open, or when no deadline was carried
    score: str = ""                  # the reporter's rating ("" when not rated)

    def code(self, dim: Dim) -> str:
        return {Dim.TOPIC: self.topic_code, Dim.AREA: self.area_code, Dim.CHANNEL: self.channel, Dim.AGENCY: self.agency_id,
                Dim.STATUS: self.status}[dim]


def _seconds(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, math.floor(end.timestamp()) - math.floor(start.timestamp()))


def _on_time(end: datetime | None, due: datetime | None) -> bool | None:
    return met(end, due) if end is not None and due is not None else None


def facts_of(report, score: str = "") -> ReportFacts | None:
    """A report's facts from its public record (None until intake's content has arrived: nothing to count yet)."""
    if report.received_at is None:
        return None
    r = report
    spans = {
        StatStep.RECEIVE: (r.received_at, r.accepted_at),
        StatStep.DISPATCH: (r.received_at, r.dispatched_at),
        StatStep.AGENCY: (r.dispatched_at, r.unit_assigned_at),
        StatStep.HANDLING: (r.dispatched_at, r.handled_at),
        StatStep.APPROVAL: (r.drafted_at, r.leader_approved_at),
        StatStep.PUBLISH: (r.approved_at, r.published_at),
        StatStep.TOTAL: (r.received_at, r.published_at),
    }
    dues = {StatStep.DISPATCH: r.dispatch_due, StatStep.AGENCY: r.agency_due, StatStep.HANDLING: r.handling_due,
            StatStep.APPROVAL: r.approval_due, StatStep.PUBLISH: r.publish_due}
    return ReportFacts(
        report_id=r.report_id, day=local_day(r.received_at), topic_code=r.topic_code or "", area_code=r.area_code or "",
        channel=r.channel or "", agency_id=r.lead_agency_id or "", agency_name=r.lead_agency_name or "", status=r.status,
        seconds=tuple(_seconds(*spans[s]) for s in STEPS),
        on_time=tuple(_on_time(spans[s][1], dues[s]) for s in TIMED),
        score=score or "",
    )


# --- what one report adds to the rollup ----------------------------------------------------------------------------

MEASURES: tuple[str, ...] = (
    "reports",
    *(f"{s.value}_{m}" for s in STEPS for m in ("done", "seconds")),
    *(f"{s.value}_{m}" for s in TIMED for m in ("timed", "on_time")),
    *(s.value for s in Score),
)
INDEX = {name: i for i, name in enumerate(MEASURES)}


def measures(facts: ReportFacts) -> tuple[int, ...]:
    """The report's contribution to every sum, in MEASURES order."""
    by = {"reports": 1}
    for step, seconds in zip(STEPS, facts.seconds):
        if seconds is not None:
            by[f"{step.value}_done"], by[f"{step.value}_seconds"] = 1, seconds
    for step, on_time in zip(TIMED, facts.on_time):
        if on_time is not None:
            by[f"{step.value}_timed"], by[f"{step.value}_on_time"] = 1, int(on_time)
    if facts.score in Score._value2member_map_:
        by[facts.score] = 1
    return tuple(by.get(name, 0) for name in MEASURES)


def rollup_keys(facts: ReportFacts) -> list[tuple[date, str, str]]:
    """The rollup rows a report counts in: its day's totals, and its day under each dimension's code."""
    return [(facts.day, ALL, "")] + [(facts.day, d.value, facts.code(d)) for d in DIMS]


def bucket_of(seconds: int) -> int:
    """The histogram bucket of a time: 0 for under a second, then BUCKETS_PER_DOUBLING buckets per doubling."""
    if seconds < 1:
        return 0
    return math.floor(BUCKETS_PER_DOUBLING * math.log2(seconds)) + 1


def bucket_value(bucket: int) -> int:
    """The time a bucket stands for: its upper end in whole seconds (every time in it is at most that, and at most
    9 % shorter), so "90 % of the steps took at most this long" stays true."""
    return 0 if bucket <= 0 else math.ceil(2 ** (bucket / BUCKETS_PER_DOUBLING))


def histogram_keys(facts: ReportFacts) -> list[tuple[date, str, int]]:
    return [(facts.day, step.value, bucket_of(seconds)) for step, seconds in zip(STEPS, facts.seconds) if seconds is not None]


@dataclass
class Delta:
    """What a batch of changed reports adds to (or takes from) the rollup rows."""

    days: dict[tuple[date, str, str], list[int]] = field(default_factory=dict)
    durations: dict[tuple[date, str, int], int] = field(default_factory=dict)

    def add(self, facts: ReportFacts | None, sign: int) -> None:
        if facts is None:
            return
        vector = measures(facts)
        for key in rollup_keys(facts):
            row = self.days.setdefault(key, [0] * len(MEASURES))
            for i, v in enumerate(vector):
                row[i] += sign * v
        for key in histogram_keys(facts):
            self.durations[key] = self.durations.get(key, 0) + sign

    def change(self, old: ReportFacts | None, new: ReportFacts | None) -> None:
        self.add(old, -1)
        self.add(new, +1)

    def rows(self) -> tuple[list[tuple[tuple[date, str, str], list[int]]], list[tuple[tuple[date, str, int], int]]]:
        """The non-zero changes in key order (writers take the rows' locks in one order: no deadlock between them)."""
        days = sorted(((k, v) for k, v in self.days.items() if any(v)), key=lambda kv: (kv[0][1], kv[0][0], kv[0][2]))
        durations = sorted(((k, v) for k, v in self.durations.items() if v), key=lambda kv: (kv[0][1], kv[0][0], kv[0][2]))
        return days, durations


# --- sums and what they say -----------------------------------------------------------------------------------------

@dataclass
class StepFigure:
    step: StatStep
    done: int
    mean_seconds: int | None
    p90_seconds: int | None
    timed: int
    on_time: int

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.timed if self.timed else None


@dataclass
class Tally:
    """A sum of reports' measures (MEASURES order)."""

    values: list[int] = field(default_factory=lambda: [0] * len(MEASURES))

    def add(self, vector: Iterable[int]) -> "Tally":
        for i, v in enumerate(vector):
            self.values[i] += int(v or 0)
        return self

    def __getitem__(self, name: str) -> int:
        return self.values[INDEX[name]]

    @property
    def reports(self) -> int:
        return self["reports"]

    def step(self, step: StatStep, p90: int | None = None) -> StepFigure:
        done = self[f"{step.value}_done"]
        timed = self[f"{step.value}_timed"] if step in TIMED else 0
        on_time = self[f"{step.value}_on_time"] if step in TIMED else 0
        mean = round(self[f"{step.value}_seconds"] / done) if done else None
        return StepFigure(step, done, mean, p90, timed, on_time)

    @property
    def rated(self) -> int:
        return sum(self[s.value] for s in Score)

    def score(self, score: Score) -> int:
        return self[score.value]

    def rate_of(self, score: Score) -> float | None:
        return self[score.value] / self.rated if self.rated else None


def nearest_rank(count: int, p: int = 90) -> int:
    """The 1-based rank of the p-th percentile among `count` sorted values (nearest rank: ceil(p% of count))."""
    return max(1, -(-p * count // 100))


def p90_from_histogram(buckets: Mapping[int, int]) -> int | None:
    """The 90th percentile of the times counted in a histogram {bucket: how many}, as its bucket's value."""
    total = sum(buckets.values())
    if total <= 0:
        return None
    rank, seen = nearest_rank(total), 0
    for bucket in sorted(buckets):
        seen += buckets[bucket]
        if seen >= rank:
            return bucket_value(bucket)
    return None



@dataclass(frozen=True)
class LateReport:
    """What the overdue list shows of a report: light enough for ten thousand rows (not a mapped record). Whether the
    public may see it is PublicReport's own rule, applied to these fields (`is_public`, `is_public_record`)."""

    report_id: str
    tracking_code: str
    title: str
    visibility: str
    status: str
    received_at: datetime
    lead_agency_id: str
    lead_agency_name: str

    has_content = True  # received: its content is known

    @property
    def step(self) -> Step:
        return Step(self.status)

    @property
    def is_public(self) -> bool:
        return PublicReport.is_public.fget(self)

    @property
    def is_public_record(self) -> bool:
        return PublicReport.is_public_record.fget(self)


# --- a request: period, filters, series -----------------------------------------------------------------------------

def _bad(en: str, vi: str) -> BadStatsQuery:
    return BadStatsQuery(en, vi)


def _day(value: str, what_en: str, what_vi: str) -> date:
    value = value.strip()
    try:
        if DAY.fullmatch(value) is None:
            raise ValueError(value)
        day = date.fromisoformat(value)
    except ValueError:
        raise _bad(f"The {what_en} date must be a day written YYYY-MM-DD, e.g. 2025-07-01.",
                   f"Ngày {what_vi} phải là một ngày dạng YYYY-MM-DD, ví dụ 2025-07-01.") from None
    if day < EARLIEST:
        raise _bad(f"The {what_en} date is before {EARLIEST.isoformat()}: PAHT has no reports that old.",
                   f"Ngày {what_vi} trước {EARLIEST.isoformat()}: hệ thống không có phản ánh cũ như vậy.")
    return day


def parse_month(value: str | None, today: date) -> date:
    """A month written YYYY-MM (its first day); absent: the month before this one. Not after the current month."""
    value = (value or "").strip()
    if not value:
        first = today.replace(day=1)
        return (first - timedelta(days=1)).replace(day=1)
    try:
        if MONTH.fullmatch(value) is None:
            raise ValueError(value)
        month = date(int(value[:4]), int(value[5:]), 1)
    except ValueError:
        raise _bad("The month must be written YYYY-MM, e.g. 2025-07.", "Tháng phải có dạng YYYY-MM, ví dụ 2025-07.") from None
    if month < EARLIEST or month > today.replace(day=1):
        raise _bad(f"Choose a month from {EARLIEST:%Y-%m} to this month ({today:%Y-%m}).",
                   f"Hãy chọn một tháng từ {EARLIEST:%Y-%m} đến tháng này ({today:%Y-%m}).")
    return month


def month_end(month: date) -> date:
    """The last day of a month."""
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def previous_month(month: date) -> date:
    return (month - timedelta(days=1)).replace(day=1)


FILTERS = ("group", "topic", "area", "agency", "channel")
PARAMETERS = frozenset({"from", "to", "every", *FILTERS})


@dataclass(frozen=True)
class StatsQuery:
    """A period (Vietnam's days, both included), the series' bar, and the filters (all together)."""

    day_from: date
    day_to: date
    every: Every
    group: str = ""
    topic: str = ""
    area: str = ""
    agency: str = ""
    channel: str = ""

    @classmethod
    def default_period(cls, today: date) -> tuple[date, date]:
        """The twelve months up to today, from the first day of the month eleven months ago."""
        month = today.replace(day=1)
        for _ in range(11):
            month = previous_month(month)
        return month, today

    @classmethod
    def parse(cls, params: Mapping[str, str], today: date, allowed: frozenset[str] = PARAMETERS) -> "StatsQuery":
        """Read a request's query string; BadStatsQuery (400) names, in both languages, what cannot be answered."""
        unknown = sorted(k for k in params if k not in allowed)
        if unknown:
            shown = ", ".join(k[:30] for k in unknown[:5])
            raise _bad(f"Unknown parameter {shown}; use: {', '.join(sorted(allowed))}.",
                       f"Tham số không hợp lệ: {shown}; hãy dùng: {', '.join(sorted(allowed))}.")
        get = {k: (params.get(k) or "").strip() for k in allowed}
        first, last = cls.default_period(today)
        day_from = _day(get["from"], "from", "bắt đầu") if get["from"] else (first if not get["to"] else None)
        day_to = _day(get["to"], "to", "kết thúc") if get["to"] else today
        if day_from is None:  # only `to`: the twelve months before it
            day_from = cls.default_period(day_to)[0]
        if day_to < day_from:
            raise _bad("The period ends before it starts.", "Ngày kết thúc trước ngày bắt đầu.")
        span = (day_to - day_from).days + 1
        if span > MAX_SPAN_DAYS:
            raise _bad(f"A period covers at most 3 years ({MAX_SPAN_DAYS} days); this one has {span}.",
                       f"Khoảng thời gian tối đa 3 năm ({MAX_SPAN_DAYS} ngày); khoảng đã chọn có {span} ngày.")
        if get["every"]:
            try:
                every = Every(get["every"])
            except ValueError:
                raise _bad("'every' is day, week or month.", "'every' là day (ngày), week (tuần) hoặc month (tháng).") from None
        else:
            every = Every.DAY if span <= 62 else Every.WEEK if span <= 190 else Every.MONTH
        if every is Every.DAY and span > MAX_DAILY_SPAN_DAYS:
            raise _bad(f"Day by day covers at most {MAX_DAILY_SPAN_DAYS} days: choose week or month for a longer period.",
                       f"Theo ngày chỉ áp dụng tối đa {MAX_DAILY_SPAN_DAYS} ngày: hãy chọn theo tuần hoặc tháng cho khoảng dài hơn.")
        codes = {}
        for name, (en, vi) in {"group": ("group", "nhóm lĩnh vực"), "topic": ("topic", "lĩnh vực"), "area": ("area", "địa bàn"),
                               "agency": ("agency", "cơ quan"), "channel": ("channel", "kênh tiếp nhận")}.items():
            value = get[name]
            if value and CODE.fullmatch(value) is None:
                raise _bad(f"The {en} code is not one PAHT uses (letters, digits, '.', '_' and '-', at most 80).",
                           f"Mã {vi} không hợp lệ (chữ cái, chữ số, '.', '_' và '-', tối đa 80 ký tự).")
            codes[name] = value
        if codes["channel"] and codes["channel"] not in Channel._value2member_map_:
            known = ", ".join(c.value for c in Channel)
            raise _bad(f"Unknown channel '{codes['channel']}' (one of: {known}).",
                       f"Kênh tiếp nhận '{codes['channel']}' không có (chọn một trong: {known}).")
        return cls(day_from, day_to, every, **codes)

    @property
    def filtered(self) -> bool:
        return any(getattr(self, name) for name in FILTERS)

    def filters(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in FILTERS if getattr(self, name)}

    def params(self) -> dict[str, str]:
        """The request as query-string parameters (links to the exports, the same page in another language)."""
        return {"from": self.day_from.isoformat(), "to": self.day_to.isoformat(), "every": self.every.value, **self.filters()}

    def slug(self) -> str:
        """The period in a file name."""
        return f"{self.day_from.isoformat()}_{self.day_to.isoformat()}"


def unknown_filter(name: str, value: str) -> BadStatsQuery:
    """A well-formed code no report and no copy of dispatch's names knows."""
    en, vi = {"group": ("group", "nhóm lĩnh vực"), "topic": ("topic", "lĩnh vực"), "area": ("area", "địa bàn"),
              "agency": ("lead agency", "cơ quan đầu mối")}[name]
    return _bad(f"There is no {en} '{value}': choose one from the form's list.",
                f"Không có {vi} '{value}': hãy chọn trong danh sách của biểu mẫu.")


def period_start(day: date, every: Every) -> date:
    if every is Every.DAY:
        return day
    if every is Every.WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def series(day_counts: Mapping[date, int], day_from: date, day_to: date, every: Every) -> list[tuple[date, date, int]]:
    """(first day, last day, reports) of every bar of the period, empty ones included, clipped to the period."""
    bars: list[list] = []
    day = day_from
    while day <= day_to:
        start = period_start(day, every)
        if every is Every.DAY:
            end = day
        elif every is Every.WEEK:
            end = start + timedelta(days=6)
        else:
            end = month_end(start)
        end = min(end, day_to)
        bars.append([max(start, day_from), end, 0])
        day = end + timedelta(days=1)
    for d, n in day_counts.items():
        if day_from <= d <= day_to:
            for bar in bars:
                if bar[0] <= d <= bar[1]:
                    bar[2] += n
                    break
    return [tuple(b) for b in bars]


@dataclass
class Statistics:
    """The sums of one request: the period's tally, the reports per day, per dimension and code (volumes; the
    lead agencies with every measure), and each step's 90th percentile."""

    query: StatsQuery
    total: Tally
    per_day: dict[date, int]
    by: dict[Dim, dict[str, Tally]]
    p90: dict[StatStep, int | None]

    def steps(self) -> list[StepFigure]:
        return [self.total.step(s, self.p90.get(s)) for s in STEPS]

    def bars(self) -> list[tuple[date, date, int]]:
        return series(self.per_day, self.query.day_from, self.query.day_to, self.query.every)
