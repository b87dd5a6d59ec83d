"""What an administrator may edit in the business calendar: CalendarData and its parts.

The Vietnamese public holidays and the government's known day swaps come from the `holidays` package
(national.py); this data adds what the package cannot know: days off and worked days decided later
(for everyone, or one organisation's local holiday), working hours per organisation and season, and
agencies that set themselves a shorter limit than the procedure's 5 working days.

Everything is validated when built (from code or from a dict): a refused entry raises InvalidInput
naming it in English and Vietnamese. `to_dict()` / `from_dict()` are the one JSON-safe shape used in
events, the database and import/export files; `to_dict()` is stable (sorted) so two equal calendars
give the same text.

The dict shape (version 1):

    {"version": 1,
     "days": [{"day": "2026-08-22", "kind": "work", "name": "...", "org_id": ""}, ...],
     "schedules": {"": [{"valid_from": null, "valid_to": null, "weekdays": ["mon", ..., "fri"],
                         "intervals": [["07:00", "11:30"], ["13:30", "17:00"]]}],
                   "<org id>": [...]},
     "agency_limits": {"<org id>": 3}}

`org_id` "" means everyone. Times are "HH:MM" or "HH:MM:SS" strings ("24:00" may end an interval).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Iterable, Mapping

from paht.runtime.errors import InvalidInput
from paht.runtime.sla.zone import require_year
from paht.runtime.text import Label, clean_optional

FORMAT_VERSION = 1
OFF, WORK = "off", "work"
KINDS = (OFF, WORK)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()
DAY_SECONDS = 24 * 3600
MAX_HANDLING_DAYS = 5  # the procedure's limit for steps 3-6; an agency may only shorten it
MAX_NAME, MAX_ORG_ID = 200, 100
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


def _err(en: str, vi: str) -> InvalidInput:
    return InvalidInput(en, vi)


def _within(where: str, exc: InvalidInput) -> InvalidInput:
    """The same refusal, prefixed with where in the calendar the bad entry is."""
    return InvalidInput(f"Calendar entry {where}: {exc.detail_en}", f"Mục {where} của lịch: {exc.detail_vi}")


# ---- small value parsers ---------------------------------------------------------------------------------

def parse_clock(value: Any, what: str = "time") -> int:
    """Return seconds since midnight of "HH:MM[:SS]" (00:00 to 24:00), a datetime.time, or whole seconds."""
    if isinstance(value, bool):
        value = str(value)
    if isinstance(value, time):
        if value.tzinfo is not None or value.microsecond:
            raise _err(f"The {what} {value.isoformat()} must be a plain time of day to the second.",
                       f"Giờ {value.isoformat()} phải là giờ trong ngày, chính xác đến giây, không kèm múi giờ.")
        return value.hour * 3600 + value.minute * 60 + value.second
    if isinstance(value, int):
        if 0 <= value <= DAY_SECONDS:
            return value
        raise _err(f"The {what} {value} is not a number of seconds within a day.", f"Giờ {value} không phải số giây trong một ngày.")
    match = _CLOCK.match(value) if isinstance(value, str) else None
    if not match:
        raise _err(f"The {what} {value!r} is not a time of day written HH:MM or HH:MM:SS.",
                   f"Giờ {value!r} không đúng dạng HH:MM hoặc HH:MM:SS.")
    h, m, s = int(match[1]), int(match[2]), int(match[3] or 0)
    seconds = h * 3600 + m * 60 + s
    if m > 59 or s > 59 or seconds > DAY_SECONDS:
        raise _err(f"The {what} {value!r} is not between 00:00 and 24:00.", f"Giờ {value!r} không nằm trong khoảng 00:00 đến 24:00.")
    return seconds


def format_clock(seconds: int) -> str:
    """"HH:MM", or "HH:MM:SS" when the seconds are not zero (24:00 stays 24:00)."""
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h:02d}:{m:02d}:{s:02d}" if s else f"{h:02d}:{m:02d}"


def parse_day(value: Any, what_en: str = "The day", what_vi: str = "Ngày") -> date:
    """Return a calendar day from a date or an ISO "YYYY-MM-DD" string, within the calendar's years."""
    if isinstance(value, datetime):
        raise _err(f"{what_en} must be a date without a time ({value.isoformat()}).",
                   f"{what_vi} phải là ngày, không kèm giờ ({value.isoformat()}).")
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            raise _err(f"{what_en} {value!r} is not a valid date written YYYY-MM-DD.",
                       f"{what_vi} {value!r} không phải ngày hợp lệ dạng YYYY-MM-DD.") from None
    if not isinstance(value, date):
        raise _err(f"{what_en} must be a date written YYYY-MM-DD, not {value!r}.",
                   f"{what_vi} phải là ngày dạng YYYY-MM-DD, không phải {value!r}.")
    require_year(value, what_en, what_vi)
    return value


def parse_weekday(value: Any) -> int:
    """Return 0 (Monday) to 6 (Sunday) from a name ("mon".."sun" or "monday".., any case) or that number."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
        return value
    key = value.strip().lower() if isinstance(value, str) else None
    if key in WEEKDAYS:
        return WEEKDAYS.index(key)
    if key in _LONG_NAMES:
        return _LONG_NAMES.index(key)
    names = ", ".join(WEEKDAYS)
    raise _err(f"{value!r} is not a day of the week (one of: {names}).", f"{value!r} không phải thứ trong tuần (chọn một trong: {names}).")


_LONG_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _org_id(value: Any, *, allow_everyone: bool) -> str:
    if value is None:
        value = ""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # a numeric code left unquoted in YAML
    if not isinstance(value, str):
        raise _err(f"The organisation id must be text, not {value!r}.", f"Mã đơn vị phải là chuỗi ký tự, không phải {value!r}.")
    org = clean_optional(value, Label("The organisation id", "Mã đơn vị"), MAX_ORG_ID, multiline=False)
    if not org and not allow_everyone:
        raise _err("The organisation id is empty.", "Mã đơn vị đang để trống.")
    return org


def _org_text(org: str) -> tuple[str, str]:
    return ("everyone", "mọi đơn vị") if not org else (f"organisation '{org}'", f"đơn vị '{org}'")


# ---- the parts -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DayRule:
    """One day decided by an administrator: "off" (a day off) or "work" (a worked day, e.g. a Saturday).

    `org_id` "" applies to everyone; an organisation's rule (a local holiday, a local worked day) wins
    over everyone's rule and over the national holidays for that organisation and its sub-units.
    """

    day: date
    kind: str
    name: str
    org_id: str = ""

    def __post_init__(self):
        day = parse_day(self.day, "The day of a day rule", "Ngày của quy định ngày nghỉ/làm việc")
        object.__setattr__(self, "day", day)
        what_en, what_vi = f"Day rule {day.isoformat()}", f"Quy định ngày {day.isoformat()}"
        if self.kind not in KINDS:
            raise _err(f"{what_en}: the kind must be 'off' or 'work', not {self.kind!r}.",
                       f"{what_vi}: loại phải là 'off' (nghỉ) hoặc 'work' (làm việc), không phải {self.kind!r}.")
        if not isinstance(self.name, str):
            raise _err(f"{what_en}: the name must be text.", f"{what_vi}: tên phải là chuỗi ký tự.")
        name_label = Label(f"{what_en}: the name", f"{what_vi}: tên")
        object.__setattr__(self, "name", clean_optional(self.name, name_label, MAX_NAME, multiline=False))
        try:
            object.__setattr__(self, "org_id", _org_id(self.org_id, allow_everyone=True))
        except InvalidInput as exc:
            raise _err(f"{what_en}: {exc.detail_en}", f"{what_vi}: {exc.detail_vi}") from None

    def to_dict(self) -> dict:
        return {"day": self.day.isoformat(), "kind": self.kind, "name": self.name, "org_id": self.org_id}


@dataclass(frozen=True)
class Schedule:
    """Working hours for a period: the weekdays worked and the intervals of the day, in Vietnam time.

    `valid_from` is the first day it applies (None: since always), `valid_to` the first day it no longer
    does (None: open). `weekdays` are 0 (Monday) to 6 (Sunday) and may be given as "mon".."sun";
    `intervals` are (start, end) seconds since midnight and may be given as "HH:MM" strings or
    datetime.time; they are stored sorted, must not overlap, and lie within 00:00–24:00.
    """

    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    intervals: tuple[tuple[int, int], ...] = ((7 * 3600, 11 * 3600 + 1800), (13 * 3600 + 1800, 17 * 3600))
    valid_from: date | None = None
    valid_to: date | None = None

    def __post_init__(self):
        start, end = self.valid_from, self.valid_to
        if start is not None:
            start = parse_day(start, "The first day of a schedule", "Ngày bắt đầu của lịch giờ làm việc")
        if end is not None:
            end = parse_day(end, "The end day of a schedule", "Ngày kết thúc của lịch giờ làm việc")
        object.__setattr__(self, "valid_from", start)
        object.__setattr__(self, "valid_to", end)
        what_en, what_vi = self.describe()
        if start is not None and end is not None and end <= start:
            raise _err(f"{what_en}: its end day must come after its first day (the end day is not included).",
                       f"{what_vi}: ngày kết thúc phải sau ngày bắt đầu (không tính ngày kết thúc).")
        try:
            days = tuple(parse_weekday(d) for d in _as_list(self.weekdays))
        except InvalidInput as exc:
            raise _err(f"{what_en}: {exc.detail_en}", f"{what_vi}: {exc.detail_vi}") from None
        if not days:
            raise _err(f"{what_en}: name at least one weekday worked.", f"{what_vi}: cần ít nhất một ngày làm việc trong tuần.")
        if len(set(days)) != len(days):
            raise _err(f"{what_en}: a weekday is named twice.", f"{what_vi}: có thứ trong tuần bị lặp lại.")
        object.__setattr__(self, "weekdays", tuple(sorted(days)))
        object.__setattr__(self, "intervals", self._checked_intervals(what_en, what_vi))

    def _checked_intervals(self, what_en: str, what_vi: str) -> tuple[tuple[int, int], ...]:
        pairs = []
        for i, pair in enumerate(_as_list(self.intervals), start=1):
            items = _as_list(pair) if not isinstance(pair, str) else None
            if items is None or len(items) != 2:
                raise _err(f"{what_en}: interval {i} must be a pair [start, end], e.g. [\"07:00\", \"11:30\"].",
                           f"{what_vi}: khoảng giờ {i} phải là một cặp [bắt đầu, kết thúc], ví dụ [\"07:00\", \"11:30\"].")
            try:
                a, b = parse_clock(items[0], "start time"), parse_clock(items[1], "end time")
            except InvalidInput as exc:
                raise _err(f"{what_en}: interval {i}: {exc.detail_en}", f"{what_vi}: khoảng giờ {i}: {exc.detail_vi}") from None
            if a >= b:
                shown = f"{format_clock(a)}–{format_clock(b)}"
                raise _err(f"{what_en}: interval {i} ({shown}) must end after it starts, within 00:00–24:00.",
                           f"{what_vi}: khoảng giờ {i} ({shown}) phải kết thúc sau khi bắt đầu, trong khoảng 00:00–24:00.")
            pairs.append((a, b))
        if not pairs:
            raise _err(f"{what_en}: give at least one interval of working hours.", f"{what_vi}: cần ít nhất một khoảng giờ làm việc.")
        pairs.sort()
        for (a1, b1), (a2, b2) in zip(pairs, pairs[1:]):
            if a2 < b1:
                first, second = f"{format_clock(a1)}–{format_clock(b1)}", f"{format_clock(a2)}–{format_clock(b2)}"
                raise _err(f"{what_en}: intervals {first} and {second} overlap.",
                           f"{what_vi}: các khoảng giờ {first} và {second} chồng lên nhau.")
        return tuple(pairs)

    def describe(self) -> tuple[str, str]:
        """(English, Vietnamese) name of this schedule by its period, for messages."""
        f_en = self.valid_from.isoformat() if self.valid_from else "always"
        t_en = self.valid_to.isoformat() if self.valid_to else "open end"
        f_vi = self.valid_from.isoformat() if self.valid_from else "không giới hạn"
        t_vi = self.valid_to.isoformat() if self.valid_to else "không giới hạn"
        return f"Schedule from {f_en} to {t_en}", f"Lịch giờ làm việc từ {f_vi} đến {t_vi}"

    def covers(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (self.valid_to is None or day < self.valid_to)

    def overlaps(self, other: "Schedule") -> bool:
        return ((self.valid_from is None or other.valid_to is None or self.valid_from < other.valid_to)
                and (other.valid_from is None or self.valid_to is None or other.valid_from < self.valid_to))

    @property
    def seconds_per_day(self) -> int:
        return sum(b - a for a, b in self.intervals)

    def to_dict(self) -> dict:
        return {"valid_from": self.valid_from.isoformat() if self.valid_from else None,
                "valid_to": self.valid_to.isoformat() if self.valid_to else None,
                "weekdays": [WEEKDAYS[d] for d in self.weekdays],
                "intervals": [[format_clock(a), format_clock(b)] for a, b in self.intervals]}

    @classmethod
    def from_dict(cls, data: Any) -> "Schedule":
        data = _mapping(data, {"valid_from", "valid_to", "weekdays", "intervals"}, "A schedule", "Lịch giờ làm việc")
        for key in ("weekdays", "intervals"):
            if key not in data:
                raise _err(f"A schedule needs '{key}'.", f"Lịch giờ làm việc cần có '{key}'.")
        for value in _as_list(data["weekdays"]):
            if not isinstance(value, str):
                raise _err(f"The weekday {value!r} must be written as a name: {', '.join(WEEKDAYS)}.",
                           f"Thứ {value!r} phải được viết bằng tên: {', '.join(WEEKDAYS)}.")
        for pair in _as_list(data["intervals"]):
            for value in _as_list(pair) if not isinstance(pair, str) else ():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    raise _err(f"The time {value!r} is a number: write times as quoted text, e.g. \"13:30\" "
                               "(in YAML an unquoted 13:30 is read as the number 810).",
                               f"Giờ {value!r} đang là số: hãy viết giờ trong dấu ngoặc kép, ví dụ \"13:30\" "
                               "(trong YAML, 13:30 không có ngoặc bị đọc thành số 810).")
        return cls(weekdays=tuple(_as_list(data["weekdays"])), intervals=tuple(_as_list(data["intervals"])),
                   valid_from=data.get("valid_from"), valid_to=data.get("valid_to"))


def _as_list(value: Any) -> list:
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    raise _err(f"Expected a list, not {value!r}.", f"Cần một danh sách, không phải {value!r}.")


def _mapping(data: Any, allowed: set[str], what_en: str, what_vi: str) -> Mapping:
    if not isinstance(data, Mapping):
        raise _err(f"{what_en} must be an object with named fields, not {type(data).__name__}.",
                   f"{what_vi} phải là một đối tượng có các trường được đặt tên, không phải {type(data).__name__}.")
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        known = ", ".join(sorted(allowed))
        raise _err(f"{what_en} has unknown fields: {', '.join(unknown)} (known: {known}).",
                   f"{what_vi} có trường không hợp lệ: {', '.join(unknown)} (các trường hợp lệ: {known}).")
    return data


# ---- the whole calendar ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class CalendarData:
    """The whole admin-editable input of the business calendar (empty: public holidays and default hours).

    `schedules` maps an organisation id to its schedules ("" = everyone's default, overriding the
    built-in Monday–Friday 07:00–11:30, 13:30–17:00); one organisation's periods may not overlap.
    `agency_limits` maps an agency's id to its own limit for steps 3–6 in working days (1 to 5: an
    agency may be stricter than the procedure, never looser).
    """

    days: tuple[DayRule, ...] = ()
    schedules: dict[str, tuple[Schedule, ...]] = field(default_factory=dict)
    agency_limits: dict[str, int] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "days", self._checked_days())
        object.__setattr__(self, "schedules", self._checked_schedules())
        object.__setattr__(self, "agency_limits", self._checked_limits())

    def _checked_days(self) -> tuple[DayRule, ...]:
        rules = _as_list(self.days)
        for i, rule in enumerate(rules):
            if not isinstance(rule, DayRule):
                raise _within(f"days[{i}]", _err(f"expected a DayRule, not {type(rule).__name__}.",
                              f"cần một DayRule, không phải {type(rule).__name__}."))
        seen: dict[tuple[date, str], DayRule] = {}
        for rule in rules:
            key = (rule.day, rule.org_id)
            if key in seen:
                who_en, who_vi = _org_text(rule.org_id)
                raise _err(f"The day {rule.day.isoformat()} is given twice for {who_en} ({seen[key].kind} and {rule.kind}).",
                           f"Ngày {rule.day.isoformat()} được khai báo hai lần cho {who_vi} ({seen[key].kind} và {rule.kind}).")
            seen[key] = rule
        return tuple(sorted(rules, key=lambda r: (r.day, r.org_id)))

    def _checked_schedules(self) -> dict[str, tuple[Schedule, ...]]:
        if not isinstance(self.schedules, Mapping):
            raise _err("The schedules must map organisation ids to lists of schedules.",
                       "Lịch giờ làm việc phải là bảng mã đơn vị → danh sách lịch.")
        out: dict[str, tuple[Schedule, ...]] = {}
        for raw_org, items in self.schedules.items():
            org = _org_id(raw_org, allow_everyone=True)
            who_en, who_vi = _org_text(org)
            items = _as_list(items)
            for i, s in enumerate(items):
                if not isinstance(s, Schedule):
                    raise _err(f"The schedules of {who_en}: entry {i} is not a Schedule.",
                               f"Lịch giờ làm việc của {who_vi}: mục {i} không phải Schedule.")
            ordered = sorted(items, key=lambda s: s.valid_from or date.min)
            for a, b in zip(ordered, ordered[1:]):
                if a.overlaps(b):
                    (a_en, a_vi), (b_en, b_vi) = a.describe(), b.describe()
                    raise _err(f"The schedules of {who_en} overlap: {a_en} and {b_en}; one period must end before the next starts.",
                               f"Lịch giờ làm việc của {who_vi} bị chồng thời gian: {a_vi} và {b_vi}; "
                               "giai đoạn trước phải kết thúc trước khi giai đoạn sau bắt đầu.")
            if org in out:
                raise _err(f"The schedules of {who_en} are given twice.", f"Lịch giờ làm việc của {who_vi} được khai báo hai lần.")
            if ordered:
                out[org] = tuple(ordered)
        return dict(sorted(out.items()))

    def _checked_limits(self) -> dict[str, int]:
        if not isinstance(self.agency_limits, Mapping):
            raise _err("The agency limits must map organisation ids to numbers of working days.",
                       "Thời hạn riêng của cơ quan phải là bảng mã đơn vị → số ngày làm việc.")
        out: dict[str, int] = {}
        for raw_org, days in self.agency_limits.items():
            org = _org_id(raw_org, allow_everyone=False)
            if isinstance(days, bool) or not isinstance(days, int):
                raise _err(f"The limit of organisation '{org}' must be a whole number of working days, not {days!r}.",
                           f"Thời hạn của đơn vị '{org}' phải là số nguyên ngày làm việc, không phải {days!r}.")
            if days > MAX_HANDLING_DAYS:
                raise _err(f"The limit of organisation '{org}' ({days} working days) is longer than the procedure's {MAX_HANDLING_DAYS}: "
                           "an agency may be stricter, never looser.",
                           f"Thời hạn của đơn vị '{org}' ({days} ngày làm việc) dài hơn mức {MAX_HANDLING_DAYS} ngày của quy trình: "
                           "cơ quan chỉ được quy định ngắn hơn, không được dài hơn.")
            if days < 1:
                raise _err(f"The limit of organisation '{org}' must be at least 1 working day, not {days}.",
                           f"Thời hạn của đơn vị '{org}' phải ít nhất 1 ngày làm việc, không phải {days}.")
            if org in out:
                raise _err(f"The limit of organisation '{org}' is given twice.", f"Thời hạn của đơn vị '{org}' được khai báo hai lần.")
            out[org] = days
        return dict(sorted(out.items()))

    # ---- the one dict shape ----

    def to_dict(self) -> dict:
        """JSON-safe and stable: days sorted by (day, org), organisations sorted, schedules by first day."""
        return {"version": FORMAT_VERSION,
                "days": [r.to_dict() for r in self.days],
                "schedules": {org: [s.to_dict() for s in items] for org, items in self.schedules.items()},
                "agency_limits": dict(self.agency_limits)}

    @classmethod
    def from_dict(cls, data: Any) -> "CalendarData":
        """Build and validate a calendar from its dict shape (JSON or YAML); refusals name the bad entry."""
        if data is None:
            return cls()
        data = _mapping(data, {"version", "days", "schedules", "agency_limits"}, "The calendar", "Lịch làm việc")
        version = data.get("version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise _err(f"Calendar format version {version!r} is not known (this PAHT reads version {FORMAT_VERSION}).",
                       f"Phiên bản định dạng lịch {version!r} không được hỗ trợ (PAHT này đọc phiên bản {FORMAT_VERSION}).")
        days = []
        for i, item in enumerate(_as_list(data.get("days") or [])):
            try:
                item = _mapping(item, {"day", "kind", "name", "org_id"}, "A day rule", "Quy định ngày")
                if "day" not in item or "kind" not in item:
                    raise _err("A day rule needs 'day' and 'kind'.", "Quy định ngày cần có 'day' và 'kind'.")
                kind = item["kind"]
                if isinstance(kind, bool):  # YAML 1.1 reads an unquoted off as false
                    raise _err("The kind is a yes/no value: write 'off' or 'work' in quotes.",
                               "Loại đang là giá trị đúng/sai: hãy viết 'off' hoặc 'work' trong ngoặc.")
                days.append(DayRule(item["day"], kind, item.get("name") or "", item.get("org_id") or ""))
            except InvalidInput as exc:
                raise _within(f"days[{i}]", exc) from None
        schedules: dict[str, tuple[Schedule, ...]] = {}
        raw_schedules = data.get("schedules") or {}
        if not isinstance(raw_schedules, Mapping):
            raise _err("'schedules' must map organisation ids to lists of schedules.",
                       "'schedules' phải là bảng mã đơn vị → danh sách lịch giờ làm việc.")
        for org, items in raw_schedules.items():
            parsed = []
            for i, item in enumerate(_as_list(items or [])):
                try:
                    parsed.append(Schedule.from_dict(item))
                except InvalidInput as exc:
                    raise _within(f"schedules[{str(org)!r}][{i}]", exc) from None
            schedules[org] = tuple(parsed)
        return cls(days=tuple(days), schedules=schedules, agency_limits=dict(data.get("agency_limits") or {}))

    # ---- questions the calendar answers about itself ----

    def orgs_with_rules(self) -> frozenset[str]:
        """Organisations (not everyone) that have their own days or schedules: only they change a day's answer."""
        return frozenset({r.org_id for r in self.days if r.org_id} | {org for org in self.schedules if org})

    def limit_days(self, chain: Iterable[str]) -> int:
        """The handling limit of the nearest organisation in the chain that set one, else the procedure's 5 days."""
        for org in chain:
            if org in self.agency_limits:
                return self.agency_limits[org]
        return MAX_HANDLING_DAYS
