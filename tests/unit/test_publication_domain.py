"""Check the public record's rules: forward-only status, step 8 (publish / return), private answers."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from paht.runtime.errors import Forbidden, InvalidInput, StateConflict
from tests.support.services import principal
from services.publication.domain.public_report import PublicReport, Status, Visibility

NOW = datetime(2026, 5, 4, 9, 30, tzinfo=timezone.utc)
IOC = principal("op1", ["ioc_operator"], "ioc")
LEADER = principal("lead1", ["unit_leader"], "unit-1")
ANSWER = "Đơn vị đã vá ổ gà trên đường Quang Trung ngày 03/5."


def submitted(private: bool = False) -> PublicReport:
    report = PublicReport.placeholder("r1")
    report.record_submission(
        tracking_code="QB-AAAA-BBBB", title="Ổ gà lớn", description="Ổ gà sâu giữa đường.", topic_code="",
        lat=17.468, lon=106.622, address_text="Quang Trung", area_code="18880",
        private_result=private, urgent=False, received_at=NOW,
    )
    return report


def approved(private: bool = False) -> PublicReport:
    report = submitted(private)
    report.record_approved_answer(ANSWER)
    return report


def test_status_only_moves_forward_whatever_order_events_arrive_in():
    report = PublicReport.placeholder("r1")
    assert report.advance(Status.DRAFTED)
    assert not report.advance(Status.ACCEPTED)
    assert not report.advance(Status.DISPATCHED)
    assert report.status == "drafted"
    assert report.advance(Status.APPROVED)
    assert not report.advance(Status.IN_PROGRESS)
    assert report.status == "approved"


def test_refused_is_terminal():
    report = submitted()
    assert report.advance(Status.REFUSED)
    assert not report.advance(Status.APPROVED)
    assert report.status == "refused"


def test_approved_answer_arriving_before_the_content_is_kept():
    report = PublicReport.placeholder("r1")
    report.record_approved_answer(ANSWER)
    assert report.status == "approved" and report.answer_text == ANSWER and not report.has_content
    report.record_submission(
        tracking_code="QB-AAAA-BBBB", title="Ổ gà lớn", description="Ổ gà sâu giữa đường.", topic_code="",
        lat=None, lon=None, address_text="", area_code="", private_result=False, urgent=False, received_at=NOW,
    )
    report.advance(Status.SUBMITTED)
    assert report.status == "approved" and report.has_content


def test_publish_only_from_approved():
    report = submitted()
    report.advance(Status.DRAFTED)
    with pytest.raises(StateConflict) as err:
        report.publish(IOC, None, NOW)
    assert err.value.status == 409 and err.value.params == {"current": "drafted", "action": "publish"}
    assert "Không thể" in err.value.detail_vi


def test_publish_needs_an_ioc_role():
    report = approved()
    with pytest.raises(Forbidden):
        report.publish(LEADER, None, NOW)
    assert report.status == "approved"


def test_publish_uses_the_draft_or_the_ioc_edit():
    report = approved()
    report.publish(IOC, None, NOW)
    assert report.status == "published" and report.published_at == NOW
    assert report.public_answer == ANSWER and report.visibility == Visibility.PUBLIC.value

    edited = approved()
    edited.publish(IOC, "  Kính gửi quý ông/bà: ổ gà đã được vá xong.  ", NOW)
    assert edited.public_answer == "Kính gửi quý ông/bà: ổ gà đã được vá xong."


def test_publish_refuses_an_empty_answer():
    report = approved()
    with pytest.raises(InvalidInput):
        report.publish(IOC, "   ", NOW)
    assert report.status == "approved"


def test_publish_waits_for_the_content():
    report = PublicReport.placeholder("r1")
    report.record_approved_answer(ANSWER)
    with pytest.raises(StateConflict):
        report.publish(IOC, None, NOW)


def test_private_answer_is_never_public():
    report = approved(private=True)
    assert report.visibility == Visibility.REPORTER_ONLY.value
    report.publish(IOC, None, NOW)
    assert report.status == "published"
    assert report.answer_text == ANSWER  # kept for the reporter
    assert report.public_answer is None


def test_answer_is_not_public_before_publication():
    assert approved().public_answer is None


def test_published_is_final_and_keeps_its_answer():
    report = approved()
    report.publish(IOC, None, NOW)
    report.record_approved_answer("Một bản nháp cũ đến muộn, không được ghi đè.")
    assert report.status == "published" and report.answer_text == ANSWER


def test_return_only_from_approved_with_a_reason():
    report = approved()
    with pytest.raises(InvalidInput):
        report.return_to_unit(IOC, "abc ")
    with pytest.raises(Forbidden):
        report.return_to_unit(LEADER, "Cần bổ sung ảnh.")
    assert report.return_to_unit(IOC, " Cần bổ sung ảnh. ") == "Cần bổ sung ảnh."
    assert report.status == "returned"
    with pytest.raises(StateConflict):
        report.return_to_unit(IOC, "Cần bổ sung ảnh.")
    with pytest.raises(StateConflict):
        report.publish(IOC, None, NOW)


def test_after_a_return_only_the_units_rework_moves_the_report_on():
    report = approved()
    report.return_to_unit(IOC, "Cần bổ sung ảnh.")
    assert not report.advance(Status.DISPATCHED)  # a late event from an earlier step
    assert report.advance(Status.DRAFTED)
    report.record_approved_answer("Đã bổ sung ảnh chụp sau khi vá.")
    assert report.status == "approved" and report.answer_text == "Đã bổ sung ảnh chụp sau khi vá."


def test_state_secret_is_not_a_public_record():
    report = submitted()
    assert report.is_public_record
    report.visibility = Visibility.STATE_SECRET.value
    assert not report.is_public_record
