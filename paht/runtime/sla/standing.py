"""How a deadline stands at an instant: the one vocabulary every console colours, sorts and filters by."""
from __future__ import annotations

from datetime import datetime
from enum import Enum

WARN_NUMERATOR, WARN_DENOMINATOR = 4, 5  # people are warned when 80 % of a clock's time has elapsed
WARN_AT = WARN_NUMERATOR / WARN_DENOMINATOR


class Standing(str, Enum):
    ON_TRACK = "on_track"  # running, less than 80 % of its time used
    WARNING = "warning"    # running, 80 % or more used
    OVERDUE = "overdue"    # running, past its deadline
    MET = "met"            # done in time
    MISSED = "missed"      # done late
    CANCELLED = "cancelled"  # will not be done by its holder (refused, recalled): neither met nor missed

    @property
    def label(self) -> tuple[str, str]:
        """(English, Vietnamese)."""
        return LABELS[self]


LABELS = {
    Standing.ON_TRACK: ("on track", "trong hạn"),
    Standing.WARNING: ("due soon", "sắp đến hạn"),
    Standing.OVERDUE: ("overdue", "quá hạn"),
    Standing.MET: ("met", "đúng hạn"),
    Standing.MISSED: ("missed", "trễ hạn"),
    Standing.CANCELLED: ("cancelled", "đã hủy"),
}


def standing_of(due: datetime | None, now: datetime, *, warn_at: datetime | None = None, start: datetime | None = None,
                done_at: datetime | None = None) -> Standing | None:
    """Return how a deadline stands: done (met/missed) when done_at is given, else by the time left.

    The warning starts at warn_at when known, else at 80 % of the wall time from start, else never
    (a deadline known without its start is on track until it passes). None: no deadline.
    """
    if due is None:
        return None
    if done_at is not None:
        return Standing.MET if done_at <= due else Standing.MISSED
    if now > due:
        return Standing.OVERDUE
    if warn_at is None and start is not None:
        warn_at = start + (due - start) * WARN_NUMERATOR // WARN_DENOMINATOR
    if warn_at is not None and now >= warn_at:
        return Standing.WARNING
    return Standing.ON_TRACK
