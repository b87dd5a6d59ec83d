"""How a deadline stands (the vocabulary every console shows) and one engine per distinct calendar."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from paht.runtime.sla import CalendarData, Standing, Step, default_engine, standing_of
from paht.runtime.sla.cache import digest, engine_for

T = datetime(2026, 3, 3, 2, 0, tzinfo=timezone.utc)


def test_a_deadline_is_on_track_then_due_soon_at_80_percent_then_overdue():
    due = T + timedelta(hours=1)
    assert standing_of(due, T + timedelta(minutes=47), start=T) is Standing.ON_TRACK
    assert standing_of(due, T + timedelta(minutes=48), start=T) is Standing.WARNING
    assert standing_of(due, due, start=T) is Standing.WARNING  # the deadline itself is still in time
    assert standing_of(due, due + timedelta(seconds=1), start=T) is Standing.OVERDUE
    assert standing_of(due, T + timedelta(minutes=50)) is Standing.ON_TRACK  # no start, no warn instant: only overdue shows
    assert standing_of(due, T, warn_at=T) is Standing.WARNING
    assert standing_of(None, T) is None


def test_a_done_deadline_is_met_or_missed_whatever_the_time_now():
    due = T + timedelta(hours=1)
    assert standing_of(due, T + timedelta(days=9), done_at=due) is Standing.MET
    assert standing_of(due, T, done_at=due + timedelta(seconds=1)) is Standing.MISSED
    assert Standing.OVERDUE.label == ("overdue", "quá hạn")


def test_one_engine_per_distinct_calendar_and_the_default_for_none():
    assert engine_for(None) is default_engine()
    data = CalendarData.from_dict({"version": 1, "days": [{"day": "2026-03-04", "kind": "off", "name": "Nghỉ", "org_id": ""}]}).to_dict()
    one, again = engine_for(data), engine_for(dict(data))
    assert one is again and one is not default_engine()
    assert digest(data) == digest(dict(reversed(list(data.items()))))  # key order does not matter
    # the added day off moves a working-time deadline: Tuesday 16:00 + 1 working day skips Wednesday
    start = datetime(2026, 3, 3, 9, 0, tzinfo=timezone.utc)
    assert default_engine().due(Step.APPROVAL, start).day == 4 and one.due(Step.APPROVAL, start).day == 5
