"""The feedback rules without I/O: who (only the reporter), when (after publication), once, and the change window."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from paht.runtime.errors import Forbidden, InvalidInput, NotFound, StateConflict
from services.publication.domain import feedback as rules
from services.publication.domain.feedback import CHANGE_WINDOW, Clarification, ReportRating, Score
from services.publication.domain.public_report import PublicReport, Step, Visibility

T = datetime(2026, 5, 4, 9, 0, tzinfo=timezone.utc)


def report(status: Step = Step.PUBLISHED, ref: str = "rep-1", visibility: Visibility = Visibility.PUBLIC) -> PublicReport:
    return PublicReport(report_id="r1", status=status.value, received_at=T, reporter_ref=ref, visibility=visibility.value)


def test_only_the_reporter_a_stranger_gets_403_on_a_public_report_and_404_on_one_they_cannot_see():
    rules.require_reporter(report(), ["other", "rep-1"])  # one of the phone's reporter rows
    with pytest.raises(Forbidden):
        rules.require_reporter(report(), ["rep-2"])
    with pytest.raises(Forbidden):
        rules.require_reporter(report(ref=""), [""])  # a report whose reporter is not known yet is nobody's
    with pytest.raises(NotFound):
        rules.require_reporter(report(Step.SUBMITTED), ["rep-2"])  # before step 1: not a public record


def test_only_after_publication():
    rules.require_published(report())
    for step in (Step.APPROVED, Step.RETURNED_BY_IOC, Step.IN_PROGRESS):
        with pytest.raises(StateConflict):
            rules.require_published(report(step))


def test_once_then_changed_within_seven_days_and_not_after():
    rules.first_rating(None)
    rating = ReportRating(report_id="r1", score="satisfied", comment="", rated_at=T)
    with pytest.raises(StateConflict):
        rules.first_rating(rating)
    assert CHANGE_WINDOW == timedelta(days=7)
    rating.change(Score.UNSATISFIED, "vẫn hỏng", T + CHANGE_WINDOW)  # the last moment counts
    assert (rating.score, rating.comment, rating.changes) == ("unsatisfied", "vẫn hỏng", 1)
    with pytest.raises(StateConflict):
        rating.change(Score.ACCEPTABLE, "", T + CHANGE_WINDOW + timedelta(seconds=1))
    assert rating.score == "unsatisfied" and rating.changeable_until == T + CHANGE_WINDOW  # the window runs from the first rating


def test_the_three_ratings_and_their_words():
    assert [s.label.vi for s in Score] == ["Hài lòng", "Chấp nhận", "Không hài lòng"]
    assert rules.clean_score(" Acceptable ") is Score.ACCEPTABLE
    with pytest.raises(InvalidInput):
        rules.clean_score("excellent")
    assert rules.clean_comment("   ") == ""


def test_one_open_request_to_clarify_at_a_time():
    asked = Clarification(id="c1", report_id="r1", question="Khi nào?", asked_at=T, due_at=T + timedelta(hours=8))
    rules.no_open_request(None)
    with pytest.raises(StateConflict):
        rules.no_open_request(asked)
    due = T + timedelta(hours=4)
    assert asked.approve("Ngày 15/5 sẽ thay.", T + timedelta(hours=2), due) and asked.awaits_ioc and asked.is_open  # with the IOC
    assert not asked.approve("again", T + timedelta(hours=3), due) and asked.answer_text == "Ngày 15/5 sẽ thay."  # repeated: nothing
    assert asked.send_back("  Ghi rõ tuyến đường. ") == "Ghi rõ tuyến đường." and asked.status == "returned" and asked.is_open
    with pytest.raises(StateConflict):
        asked.publish(None, T + timedelta(hours=3))  # back with the lead unit: nothing to publish
    assert asked.approve("Ngày 15/5 sẽ thay đèn đường Lý Thường Kiệt.", T + timedelta(hours=5), due)
    with pytest.raises(InvalidInput):
        asked.publish("ngắn", T + timedelta(hours=6))
    asked.publish("Ngày 15/5 thay đèn\r\nđường Lý Thường Kiệt.", T + timedelta(hours=6))
    assert (asked.status, asked.answer_text, asked.given_at, asked.is_open) == ("given", "Ngày 15/5 thay đèn\nđường Lý Thường Kiệt.",
                                                                              T + timedelta(hours=6), False)
    with pytest.raises(StateConflict):
        asked.send_back("Quá muộn rồi.")
    rules.no_open_request(None if not asked.is_open else asked)
    with pytest.raises(InvalidInput):
        rules.clean_question("?")
