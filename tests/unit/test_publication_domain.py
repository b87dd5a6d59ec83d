"""Check the public record's rules: forward-only status, who sees what when, step 8 (publish / return), the vocabulary."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from paht.runtime.errors import Forbidden, InvalidInput, StateConflict
from tests.support.services import principal
from services.publication.domain.public_report import (
    LISTED,
    PUBLIC_FIELDS,
    STATUSES,
    SUBMISSION_FIELDS,
    TRACKING_FIELDS,
    PublicReport,
    Step,
    Submission,
    TimelineEntry,
    Visibility,
    Clock,
    clean_tracking_code,
    met,
    place_deadlines,
)

NOW = datetime(2026, 5, 4, 9, 30, tzinfo=timezone.utc)
IOC = principal("op1", ["ioc_operator"], "ioc")
LEADER = principal("lead1", ["unit_leader"], "unit-1")
ANSWER = "Đơn vị đã vá ổ gà trên đường Quang Trung ngày 03/5."
CONTENT = Submission(tracking_code="QB-AAAA-BBBB", title="Ổ gà lớn", description="Ổ gà sâu giữa đường.", topic_code="",
                     lat=17.468, lon=106.622, address_text="Quang Trung", area_code="18880",
                     private_result=False, urgent=False, received_at=NOW)


def submitted(private: bool = False) -> PublicReport:
    report = PublicReport.placeholder("r1")
    report.record_submission(Submission(**{**CONTENT.__dict__, "private_result": private}))
    return report


def approved(private: bool = False) -> PublicReport:
    report = submitted(private)
    report.record_approved_answer(ANSWER, NOW)
    return report


def test_status_only_moves_forward_whatever_order_events_arrive_in():
    report = PublicReport.placeholder("r1")
    assert report.advance(Step.DRAFTED)
    assert not report.advance(Step.ACCEPTED)
    assert not report.advance(Step.DISPATCHED)
    assert report.status == "drafted"
    assert report.advance(Step.APPROVED)
    assert not report.advance(Step.IN_PROGRESS)
    assert report.status == "approved"


def test_refused_is_terminal():
    report = submitted()
    assert report.advance(Step.REFUSED)
    assert not report.advance(Step.APPROVED)
    assert report.status == "refused"


def test_a_submission_fills_every_field_of_the_content():
    report = submitted()
    assert {name: getattr(report, name) for name in SUBMISSION_FIELDS} == CONTENT.__dict__
    assert set(PUBLIC_FIELDS) <= set(SUBMISSION_FIELDS) and set(TRACKING_FIELDS) <= set(PUBLIC_FIELDS)
    assert "area_code" not in PUBLIC_FIELDS and "private_result" not in PUBLIC_FIELDS


def test_a_report_is_public_only_once_step_1_accepted_it():
    report = submitted()
    assert report.is_trackable and not report.is_listed and not report.is_public_record
    report.advance(Step.ACCEPTED)
    assert report.is_listed and report.is_public_record


def test_a_refused_report_is_public_but_not_listed():
    report = submitted()
    report.advance(Step.REFUSED)
    assert report.is_public_record and not report.is_listed


def test_a_cancelled_report_is_public_like_a_refused_one_not_listed():
    """The decision posts a cancelled report under "not eligible" with its reason (2 days without the edit asked...)."""
    report = submitted()
    report.advance(Step.CANCELLED)
    assert report.is_public_record and not report.is_listed and report.is_trackable


def test_a_later_step_arriving_first_implies_acceptance():
    report = submitted()
    report.advance(Step.DISPATCHED)  # dispatch's event came before intake's ReportAccepted
    assert report.is_listed


def test_approved_answer_arriving_before_the_content_is_kept():
    report = PublicReport.placeholder("r1")
    report.record_approved_answer(ANSWER, NOW)
    assert report.status == "approved" and report.answer_text == ANSWER and not report.has_content
    assert report.approved_at == NOW
    report.record_submission(CONTENT)
    report.advance(Step.SUBMITTED)
    assert report.status == "approved" and report.has_content and report.is_listed


def test_publish_only_from_approved_says_where_the_report_is():
    report = submitted()
    report.advance(Step.DRAFTED)
    with pytest.raises(StateConflict) as err:
        report.publish(IOC, None, NOW)
    assert err.value.params == {"current": "drafted", "action": "publish"}
    assert "Answer drafted" in err.value.detail_en and "Đã có dự thảo kết quả" in err.value.detail_vi


def test_a_second_publish_is_told_the_answer_is_already_published():
    report = approved()
    report.publish(IOC, None, NOW)
    with pytest.raises(StateConflict) as err:
        report.publish(IOC, None, NOW)
    assert err.value.detail_en == "The answer has already been published."


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


@pytest.mark.parametrize("bad", ["Kết quả\x00 đã xử lý xong.", "Kết quả \u202eđã xử lý xong.", "Kết quả \x07 đã xử lý."])
def test_publish_and_return_refuse_control_characters(bad):
    report = approved()
    with pytest.raises(InvalidInput) as err:
        report.publish(IOC, bad, NOW)
    assert err.value.key == "error.bad_character"
    with pytest.raises(InvalidInput):
        report.return_to_unit(IOC, bad)
    assert report.status == "approved" and report.answer_text == ANSWER


def test_publish_waits_for_the_content():
    report = PublicReport.placeholder("r1")
    report.record_approved_answer(ANSWER, NOW)
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
    report.record_approved_answer("Một bản nháp cũ đến muộn, không được ghi đè.", NOW)
    assert report.status == "published" and report.answer_text == ANSWER


def test_return_only_from_approved_with_a_reason():
    report = approved()
    with pytest.raises(InvalidInput):
        report.return_to_unit(IOC, "abc ")
    with pytest.raises(Forbidden):
        report.return_to_unit(LEADER, "Cần bổ sung ảnh.")
    assert report.return_to_unit(IOC, " Cần bổ sung ảnh. ") == "Cần bổ sung ảnh."
    assert report.status == "returned_by_ioc"
    with pytest.raises(StateConflict) as err:
        report.return_to_unit(IOC, "Cần bổ sung ảnh.")
    assert "already been returned" in err.value.detail_en
    with pytest.raises(StateConflict):
        report.publish(IOC, None, NOW)


def test_after_a_return_only_the_units_rework_moves_the_report_on():
    report = approved()
    report.return_to_unit(IOC, "Cần bổ sung ảnh.")
    assert not report.advance(Step.DISPATCHED)  # a late event from an earlier step
    assert report.advance(Step.DRAFTED)
    later = datetime(2026, 5, 5, 8, 0, tzinfo=timezone.utc)
    report.record_approved_answer("Đã bổ sung ảnh chụp sau khi vá.", later)
    assert report.status == "approved" and report.answer_text == "Đã bổ sung ảnh chụp sau khi vá." and report.approved_at == later


def test_state_secret_is_not_a_public_record():
    report = submitted()
    report.advance(Step.ACCEPTED)
    assert report.is_public_record
    report.visibility = Visibility.STATE_SECRET.value
    assert not report.is_public_record and not report.is_listed and not report.is_trackable


def test_the_three_returns_have_three_names_and_every_step_has_bilingual_wording():
    returns = {Step.AGENCY_REFUSED, Step.RETURNED_TO_STAFF, Step.RETURNED_BY_IOC}
    assert len({s.value for s in returns}) == 3 and "returned" not in {s.value for s in Step}
    for step in Step:
        assert step.event_label.en and step.event_label.vi
    for step in STATUSES:
        assert step.status_label.en and step.status_label.vi
    assert Step.RETURNED_BY_IOC in STATUSES and Step.RETURNED_TO_STAFF not in STATUSES
    assert LISTED <= STATUSES and Step.SUBMITTED not in LISTED and Step.REFUSED not in LISTED
    with pytest.raises(ValueError):
        Step.AGENCY_REFUSED.status_label


@pytest.mark.parametrize("code", ["", "x" * 21, "QB-\x00AAA-BBBB", "QB AAAA", "QB-ÀAAA-BBBB", "9" * 100_000])
def test_a_tracking_code_that_cannot_be_one_is_refused(code):
    with pytest.raises(InvalidInput):
        clean_tracking_code(code)


def test_a_tracking_code_is_read_in_upper_case():
    assert clean_tracking_code(" qb-7k3m-9xtp ") == "QB-7K3M-9XTP"


def test_a_private_report_is_neither_listed_nor_a_public_record_at_any_step_but_its_reporter_tracks_it():
    for step in (Step.ACCEPTED, Step.DISPATCHED, Step.APPROVED, Step.REFUSED):
        report = submitted(private=True)
        report.advance(step)
        assert report.visibility == Visibility.REPORTER_ONLY.value
        assert not report.is_public and not report.is_listed and not report.is_public_record, step
        assert report.is_trackable
        public = submitted()
        public.advance(step)
        assert public.is_public_record and public.is_listed == (step in LISTED)


def test_a_private_reports_published_answer_is_kept_for_its_reporter_only():
    report = approved(private=True)
    report.publish(IOC, None, NOW)
    assert report.answer_text == ANSWER and report.public_answer is None and not report.is_public_record


def test_a_state_secret_answer_is_recorded_at_step_8_and_never_public():
    report = approved()
    report.visibility = Visibility.STATE_SECRET.value
    report.publish(IOC, "Kết quả được lưu, không công khai theo quy định bảo vệ bí mật nhà nước.", NOW)
    assert report.status == "published" and report.answer_text.startswith("Kết quả được lưu")
    assert report.public_answer is None and not report.is_public_record and report.visibility == Visibility.STATE_SECRET.value


def at(minutes: int) -> datetime:
    return NOW + timedelta(minutes=minutes)


def entry(kind: Step, minutes: int) -> TimelineEntry:
    return TimelineEntry(id=f"{kind.value}-{minutes}", report_id="r1", kind=kind.value, at=at(minutes))


def test_met_is_at_or_before_the_deadline():
    assert met(at(10), at(10)) and met(at(9), at(10)) and not met(at(11), at(10))


def test_each_deadline_lands_on_the_first_entry_that_ends_its_step_after_its_clock_started():
    report = submitted()
    report.record_dispatch_deadlines(at(20), dispatch_due=at(25), agency_due=at(25), handling_due=at(100))
    report.record_approval_deadline(at(50), at(55))
    report.record_approved_answer(ANSWER, at(60))
    timeline = [entry(Step.DISPATCHED, 5), entry(Step.AGENCY_REFUSED, 10), entry(Step.DISPATCHED, 20), entry(Step.ASSIGNED, 30),
                entry(Step.DRAFTED, 40), entry(Step.RETURNED_TO_STAFF, 45), entry(Step.DRAFTED, 50), entry(Step.APPROVED, 60)]
    placed, open_ = place_deadlines(report.deadlines(), timeline)
    assert {k: (d.clock, d.on_time()) for k, d in placed.items()} == {
        "dispatched-20": (Clock.DISPATCH, True),   # the round that set it, not round 1's entry at 5
        "assigned-30": (Clock.AGENCY, False),
        "drafted-40": (Clock.HANDLING, True),      # staff's first report ends steps 3-6
        "approved-60": (Clock.APPROVAL, False),    # the re-draft at 50 restarted step 7's clock
    }
    [publish] = open_
    assert publish.clock == Clock.PUBLISH and publish.done_at is None
    assert publish.on_time(at(61)) is None and publish.on_time(publish.due_at + timedelta(seconds=1)) is False
    report.publish(IOC, None, at(70))
    placed, open_ = place_deadlines(report.deadlines(), timeline + [entry(Step.PUBLISHED, 70)])
    assert open_ == [] and placed["published-70"].on_time() is report.published_on_time() is True


def test_a_newer_round_replaces_the_deadlines_and_an_older_one_arriving_late_does_not():
    report = submitted()
    report.record_dispatch_deadlines(at(60), at(65), at(70), at(500))
    report.record_dispatch_deadlines(at(20), at(25), at(25), at(100))  # round 1 delivered late
    assert (report.dispatched_at, report.dispatch_due, report.agency_due, report.handling_due) == (at(60), at(65), at(70), at(500))
    report.record_approval_deadline(at(80), at(90))
    report.record_approval_deadline(at(70), at(75))
    assert report.approval_due == at(90)


def test_published_on_time_only_by_the_publish_deadline():
    late = approved()
    late.publish(IOC, None, late.publish_due + timedelta(seconds=1))
    assert not late.published_on_time()
    exact = approved()
    exact.publish(IOC, None, exact.publish_due)
    assert exact.published_on_time()
    legacy = approved()
    legacy.publish_due = None  # approved before step 8 deadlines were kept: computed from the approval at publishing
    legacy.publish(IOC, None, NOW + timedelta(days=3))
    assert legacy.publish_due is not None and not legacy.published_on_time()
