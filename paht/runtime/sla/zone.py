"""Vietnam time and the years the business calendar covers.

Every deadline of the procedure is counted in Asia/Ho_Chi_Minh (UTC+7, no daylight saving since 1975).
The years are bounded by what the `holidays` package knows: its lunar tables (Tết, Hùng Kings' day)
end with 2100, and a calendar that silently lost Tết would give wrong deadlines, so instants outside
2000–2100 are refused rather than guessed.
"""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from paht.runtime.errors import InvalidInput

VN = ZoneInfo("Asia/Ho_Chi_Minh")
FIRST_YEAR, LAST_YEAR = 2000, 2100
FIRST_ORDINAL = date(FIRST_YEAR, 1, 1).toordinal()
LAST_ORDINAL = date(LAST_YEAR, 12, 31).toordinal()


def require_year(day: date, what_en: str, what_vi: str) -> None:
    """Refuse a day outside the years the calendar covers (a typo such as 0226 or 2206 most likely)."""
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise InvalidInput(f"{what_en} ({day.isoformat()}) is outside the years the business calendar covers ({FIRST_YEAR}–{LAST_YEAR}).",
                           f"{what_vi} ({day.isoformat()}) nằm ngoài khoảng năm lịch làm việc hỗ trợ ({FIRST_YEAR}–{LAST_YEAR}).")


def local(at: datetime, what_en: str = "The time", what_vi: str = "Thời điểm") -> datetime:
    """Return an aware instant in Vietnam time; a naive one is refused (its meaning would be a guess)."""
    if not isinstance(at, datetime):
        raise InvalidInput(f"{what_en} must be a date and time.", f"{what_vi} phải là ngày giờ.")
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput(f"{what_en} ({at.isoformat()}) has no UTC offset; give one, e.g. +07:00.",
                           f"{what_vi} ({at.isoformat()}) thiếu múi giờ; hãy ghi rõ, ví dụ +07:00.")
    try:
        at = at.astimezone(VN)
    except OverflowError:
        raise InvalidInput(f"{what_en} ({at.isoformat()}) is out of range.",
                           f"{what_vi} ({at.isoformat()}) nằm ngoài phạm vi cho phép.") from None
    require_year(at.date(), what_en, what_vi)
    return at
