from datetime import datetime, timedelta, timezone

from services.dispatch.domain.deadlines import VN, WorkingCalendar, dispatch_due, handling_due


def vn(y, mo, d, h, mi=0):
    return datetime(y, mo, d, h, mi, tzinfo=VN)


def test_day_arrival_gives_one_hour():
    assert dispatch_due(vn(2026, 3, 2, 9, 15)) == vn(2026, 3, 2, 10, 15)
    assert dispatch_due(vn(2026, 3, 2, 6, 0)) == vn(2026, 3, 2, 7, 0)
    assert dispatch_due(vn(2026, 3, 2, 21, 59)) == vn(2026, 3, 2, 22, 59)


def test_steering_committee_gives_ninety_minutes_by_day_and_0730_at_night():
    assert dispatch_due(vn(2026, 3, 2, 9, 0), escalated=True) == vn(2026, 3, 2, 10, 30)
    assert dispatch_due(vn(2026, 3, 2, 23, 0), escalated=True) == vn(2026, 3, 3, 7, 30)


def test_night_arrival_is_due_at_seven_next_morning():
    assert dispatch_due(vn(2026, 3, 2, 22, 0)) == vn(2026, 3, 3, 7, 0)
    assert dispatch_due(vn(2026, 3, 2, 23, 40)) == vn(2026, 3, 3, 7, 0)
    # after midnight the "next morning" is the same calendar day
    assert dispatch_due(vn(2026, 3, 3, 2, 10)) == vn(2026, 3, 3, 7, 0)
    assert dispatch_due(vn(2026, 3, 3, 5, 59)) == vn(2026, 3, 3, 7, 0)


def test_urgent_reports_have_ten_minutes_at_any_hour():
    assert dispatch_due(vn(2026, 3, 3, 2, 0), urgent=True) == vn(2026, 3, 3, 2, 10)


def test_utc_input_keeps_its_zone():
    at = datetime(2026, 3, 2, 16, 0, tzinfo=timezone.utc)  # 23:00 in Vietnam
    due = dispatch_due(at)
    assert due.tzinfo == timezone.utc and due == datetime(2026, 3, 3, 0, 0, tzinfo=timezone.utc)


def test_five_working_days_skip_the_weekend_and_not_the_start_day():
    # Thursday 5 March 2026 -> Fri, Mon, Tue, Wed, Thu -> ends Thursday 12 March, end of day
    due = handling_due(vn(2026, 3, 5, 10, 0))
    assert due == vn(2026, 3, 12, 23, 59) + timedelta(seconds=59)
    assert WorkingCalendar().add_working_days(vn(2026, 3, 6, 16, 0), 1).date() == vn(2026, 3, 9, 0).date()
