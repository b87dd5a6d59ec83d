"""Vietnam's national days off and worked weekend days, from the `holidays` package (0.109, VN).

What the package gives (read from holidays/countries/vietnam.py, holiday_base.py and groups/custom.py):

- `country_holidays("VN", years=y)` holds every day off of year y: New Year, Tết (the eve and 4 days,
  plus "29 Tết"/"Mùng năm" moves when one falls on a weekend), Hùng Kings' day with its "(observed)"
  Monday, 30/4, 1/5, 2/9 with its adjacent day, 24/11 from 2026, and the government's swaps.
- A swap is listed in `VietnamStaticHolidays.special_public_holidays` as (to, from): the weekday "to"
  becomes a day off labelled "Day off (substituted from MM/DD/YYYY)" (vi: "Ngày nghỉ (thay cho ngày
  DD/MM/YYYY)"), and the weekend day "from" is WORKED. The worked day is not a holiday entry: the
  package records it in the instance's `weekend_workdays` set (cross-year ones always, same-year ones
  once year y is populated) and its own `is_working_day()` reads that set. Example: 2026-08-31 (Mon) is
  "Day off (substituted from 08/22/2026)", and Saturday 2026-08-22 is in `weekend_workdays`; likewise
  2025-05-02 off for Saturday 2025-04-26 worked.

So a weekend day is worked when it is in `weekend_workdays`; as a second source (should a later
version stop filling the set) the date in a "substituted from" label is also taken when it is a weekend
day. The lunar tables end with 2100 (the package returns nothing for 2101), hence zone.LAST_YEAR.
"""
from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import holidays

_SUBSTITUTED = re.compile(r"substituted from (\d{2})/(\d{2})/(\d{4})")


@dataclass(frozen=True)
class NationalYear:
    """One year's national days off and worked weekend days, each with its (English, Vietnamese) name."""

    off: dict[date, tuple[str, str]]
    worked: dict[date, tuple[str, str]]


def _swaps(en: holidays.HolidayBase) -> dict[date, date]:
    """Worked weekend day -> the weekday given off in exchange, read from the substituted-day labels."""
    found = {}
    for day, name in en.items():
        for label in name.split("; "):
            m = _SUBSTITUTED.search(label)
            if m:
                worked = date(int(m[3]), int(m[1]), int(m[2]))
                if worked.weekday() >= 5:
                    found[worked] = day
    return found


@lru_cache(maxsize=1)
def vietnam_class() -> type:
    """The package's class of Vietnam's holidays — without the 300 other countries that `holidays.countries` (and so
    `country_holidays`) imports with it: ≈ 7 MB resident in every process that computes a deadline (decision 0027).
    Its module is loaded alone from the package's own file (its imports are the package's calendars and groups, not
    the countries); should the package ever move it, the usual import is used. tests/unit/test_sla_calendar.py holds
    the two to the same days."""
    try:
        path = Path(importlib.util.find_spec("holidays").origin).parent / "countries" / "vietnam.py"
        spec = importlib.util.spec_from_file_location("paht_holidays_vietnam", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.Vietnam
    except Exception:  # noqa: BLE001  (any failure: the package's usual way)
        from holidays.countries.vietnam import Vietnam

        return Vietnam


@lru_cache(maxsize=None)
def national_year(year: int) -> NationalYear:
    """Return year's national calendar (computed once per year and process: the package's data is fixed)."""
    vietnam = vietnam_class()
    en = vietnam(years=[year, year + 1], language="en_US")
    vi = vietnam(years=[year, year + 1], language="vi")
    off = {d: (name, vi.get(d, name)) for d, name in en.items() if d.year == year}
    swaps = _swaps(en)
    worked_days = {d for d in en.weekend_workdays if d.year == year} | {d for d in swaps if d.year == year}
    worked = {}
    for d in sorted(worked_days):
        instead = swaps.get(d)
        if instead is not None:
            worked[d] = (f"Worked day, in exchange for {instead.isoformat()} off",
                         f"Ngày làm bù cho ngày nghỉ {instead.strftime('%d/%m/%Y')}")
        else:
            worked[d] = ("Worked weekend day (government day swap)", "Ngày làm bù (hoán đổi ngày làm việc)")
    return NationalYear(off=off, worked=worked)
