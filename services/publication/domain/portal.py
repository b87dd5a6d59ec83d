"""The public portal's rules: what a citizen may filter the public reports by, the map's box and its grid. No I/O here.

Which reports are public at all is not decided here: the repository's `_shown(...)` and
`PublicReport.is_listed` are the one visibility rule; a filter only narrows what they let through.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from paht.runtime.errors import InvalidInput
from paht.runtime.sla import VN
from paht.runtime.text import fold, forbidden_character
from services.publication.domain.public_report import LISTED, Step

MAX_SPAN_DAYS = 366          # a period (from/to) covers at most a year: longer asks are refused, not slowed down
MAX_QUERY_CHARS = 100        # free text: at most this many characters and MAX_WORDS words
MAX_WORDS = 6
MAP_MAX_FEATURES = 2_000     # the map gets each report as a point up to this many; above, grid clusters
MAP_GRID = 48                # cells across and down the box when the map gets clusters (at most 48 x 48)
# A list's total is counted exactly up to this many (or to the end of the page asked, when deeper); beyond, the answer
# says "more than COUNT_CAP" instead of counting a million rows for every first page.
COUNT_CAP = 10_000
CODE = re.compile(r"[A-Za-z0-9._-]{1,60}")
# A citizen filters by the statuses a listed report can have (refused ones are on their own page).
FILTER_STATUSES = tuple(s.value for s in Step if s in LISTED)


def _bad(en: str, vi: str) -> InvalidInput:
    return InvalidInput(en, vi, key="error.bad_filter")


def _code(value: str | None, what_en: str, what_vi: str) -> str:
    value = (value or "").strip()
    if value and CODE.fullmatch(value) is None:
        raise _bad(f"The {what_en} code is not one PAHT uses (letters, digits, '.', '_' and '-', at most 60).",
                   f"Mã {what_vi} không hợp lệ (chữ cái, chữ số, '.', '_' và '-', tối đa 60 ký tự).")
    return value


def _day(value: str | None, what_en: str, what_vi: str) -> date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        if len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise _bad(f"The {what_en} date must be written YYYY-MM-DD, e.g. 2025-07-01.",
                   f"Ngày {what_vi} phải có dạng YYYY-MM-DD, ví dụ 2025-07-01.") from None


@dataclass(frozen=True)
class ReportFilter:
    """A citizen's narrowing of the public list and map: every field optional, all of them together (AND)."""

    group: str = ""
    topic: str = ""
    area: str = ""
    status: str = ""
    day_from: date | None = None
    day_to: date | None = None     # inclusive (a whole day in Vietnam's time)
    words: tuple[str, ...] = ()    # folded (lower case, no diacritics): each must appear in the searchable text
    text: str = ""                 # as typed, for the search box

    @classmethod
    def parse(cls, *, group: str | None = None, topic: str | None = None, area: str | None = None, status: str | None = None,
              day_from: str | None = None, day_to: str | None = None, q: str | None = None) -> "ReportFilter":
        """Read the query string's filters, or raise InvalidInput (400) saying, in both languages, what is wrong."""
        status = (status or "").strip()
        if status and status not in FILTER_STATUSES:
            raise _bad(f"Unknown status '{status[:30]}'; use one of: {', '.join(FILTER_STATUSES)}.",
                       f"Không có trạng thái '{status[:30]}'; hãy dùng một trong: {', '.join(FILTER_STATUSES)}.")
        start, end = _day(day_from, "from", "bắt đầu"), _day(day_to, "to", "kết thúc")
        if start and end and end < start:
            raise _bad("The period ends before it starts.", "Ngày kết thúc trước ngày bắt đầu.")
        if start and end and (end - start).days + 1 > MAX_SPAN_DAYS:
            raise _bad(f"A period covers at most {MAX_SPAN_DAYS} days.", f"Khoảng thời gian tối đa {MAX_SPAN_DAYS} ngày.")
        text = (q or "").strip()
        if len(text) > MAX_QUERY_CHARS or forbidden_character(text, multiline=False) is not None:
            raise _bad(f"Search for at most {MAX_QUERY_CHARS} characters of plain text.",
                       f"Nội dung tìm kiếm tối đa {MAX_QUERY_CHARS} ký tự, không chứa ký tự điều khiển.")
        words = tuple(dict.fromkeys(w for w in fold(text).split() if w))
        if len(words) > MAX_WORDS:
            raise _bad(f"Search for at most {MAX_WORDS} words.", f"Tìm kiếm tối đa {MAX_WORDS} từ.")
        return cls(group=_code(group, "group", "nhóm lĩnh vực"), topic=_code(topic, "topic", "lĩnh vực"), area=_code(area, "area", "địa bàn"),
                   status=status, day_from=start, day_to=end, words=words, text=text)

    @property
    def received_from(self) -> datetime | None:
        """The first instant of the period (00:00 in Vietnam on its first day)."""
        return datetime.combine(self.day_from, time.min, VN) if self.day_from else None

    @property
    def received_before(self) -> datetime | None:
        """The instant after the period (00:00 in Vietnam the day after its last day)."""
        return datetime.combine(self.day_to + timedelta(days=1), time.min, VN) if self.day_to else None

    def query(self) -> dict[str, str]:
        """The filters as query-string parameters (for links to other pages of the same search)."""
        pairs = {"q": self.text, "group": self.group, "topic": self.topic, "area": self.area, "status": self.status,
                 "from": self.day_from.isoformat() if self.day_from else "", "to": self.day_to.isoformat() if self.day_to else ""}
        return {k: v for k, v in pairs.items() if v}

    @property
    def empty(self) -> bool:
        return not self.query()


@dataclass(frozen=True)
class BBox:
    west: float
    south: float
    east: float
    north: float

    @classmethod
    def parse(cls, raw: str | None) -> "BBox":
        """Read bbox=west,south,east,north (degrees, WGS 84), or raise InvalidInput (400)."""
        parts = (raw or "").split(",")
        try:
            if len(parts) != 4 or len(raw) > 200:
                raise ValueError(raw)
            west, south, east, north = (float(p) for p in parts)
        except ValueError:
            raise _bad("bbox must be four numbers: west,south,east,north (degrees), e.g. 106.5,17.4,106.7,17.5.",
                       "bbox phải gồm bốn số: tây,nam,đông,bắc (độ), ví dụ 106.5,17.4,106.7,17.5.") from None
        if not all(math.isfinite(v) for v in (west, south, east, north)) or not (
                -180 <= west < east <= 180 and -90 <= south < north <= 90):
            raise _bad("bbox must lie within -180..180 and -90..90 with west < east and south < north.",
                       "bbox phải nằm trong -180..180 và -90..90, với tây < đông và nam < bắc.")
        return cls(west, south, east, north)

    def band(self, grid: int = MAP_GRID) -> int:
        """The map's grid for this box: cells of 2**-band degrees, fixed on the world (so a cell, and its cluster, stay
        where they are when the map pans), the finest whose cells are at most `grid` across and down the box: between
        grid / 2 and grid of them (fewer where the box is narrower in one direction)."""
        return min(40, max(-8, math.floor(math.log2(grid / max(self.east - self.west, self.north - self.south)))))


# The map's cells: cell (cx, cy) of level L holds lon in [cx, cx + 1) * 2**-L and lat in [cy, cy + 1) * 2**-L. The
# publication keeps the number of listed reports in each cell of these levels (adapters/map_cells.py), so that a box
# with many reports is answered from a few thousand cells instead of every report in it. A band between two levels is
# read from the finer one (at most 4 x 4 of its cells in one cell of the band, from band 1 on); a band finer than the
# last level (a box under ~600 m across that still holds more than MAP_MAX_FEATURES) is read from the reports themselves.
MAP_LEVELS = (3, 6, 9, 12)


def cell_of(lat: float, lon: float, level: int) -> tuple[int, int]:
    """The cell (cx, cy) of a position at a level (scaling by a power of two is exact: SQL's floor(lon * 2^L) agrees;
    for every normal float, i.e. any coordinate but a subnormal one below 1e-307 degrees)."""
    scale = float(2 ** level) if level >= 0 else 2.0 ** level
    return math.floor(lon * scale), math.floor(lat * scale)


def level_for(band: int) -> int | None:
    """The coarsest kept level at least as fine as the band (its cells group exactly into the band's), or None when
    the band is finer than every kept level (a box of a few metres: read from the reports themselves)."""
    return next((level for level in MAP_LEVELS if level >= band), None)


class Total(int):
    """How many reports a list holds: an int, exact when `exact`; otherwise the lower bound it stopped counting at
    (more than this many match). Arithmetic on it (pages, "is there more") is that of the int."""

    exact: bool

    def __new__(cls, value: int, exact: bool = True) -> "Total":
        total = super().__new__(cls, value)
        total.exact = exact
        return total

    def __repr__(self) -> str:
        return f"Total({int(self)}, exact={self.exact})"

    def __str__(self) -> str:  # shown as the number it is
        return int.__repr__(self)


def counting_limit(limit: int, offset: int) -> int:
    """Count matches up to this many (then one more, to know whether there are more): COUNT_CAP, or the page's end."""
    return max(COUNT_CAP, offset + limit)


def total_of(page_len: int, limit: int, offset: int, counted: int | None) -> Total:
    """The list's total from the page read and (when the page alone cannot tell) the capped count.

    A page shorter than asked (and not past the end) ends the list: the total is exact without counting. Otherwise
    `counted` is the number of matches counted up to counting_limit() + 1."""
    if counted is None:
        return Total(offset + page_len)
    cap = counting_limit(limit, offset)
    return Total(cap, exact=False) if counted > cap else Total(counted)


def page_ends_list(page_len: int, limit: int, offset: int) -> bool:
    """Whether the page read tells the total by itself (shorter than asked, and not an empty page past the end)."""
    return page_len < limit and (page_len > 0 or offset == 0)

