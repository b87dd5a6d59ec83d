"""Step 1 in intake's domain, without I/O: edit requests and edits, verification calls, the 2-day timers, refusals only
at will, duplicates, the state-secret flag (the seed's appendix IV.1.1, step 1)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from paht.runtime.errors import InvalidInput, StateConflict
from services.intake.domain.report import Report, ReportEdit
from services.intake.domain.taxonomy import Topic
from services.intake.domain.vocabulary import AT_WILL, CallOutcome, Cancellation, RefusalReason, Status

NOW = datetime(2026, 3, 2, 8, 30, tzinfo=timezone.utc)
TWO_DAYS = timedelta(hours=48)
ROAD = Topic("road-damage", "Hư hỏng đường giao thông", "infrastructure", "Hạ tầng giao thông")


def report(**change) -> Report:
    values = dict(id="r2", tracking_code="QB-AAAA-CCCC", reporter_id="p1", channel="app", title="Ổ gà trên đường Quang Trung",
                  description="Ổ gà rộng nửa mét giữa làn xe máy, rất nguy hiểm vào ban đêm.", address_text="120 Quang Trung, Đồng Hới",
                  lat=17.4683, lon=106.6222, now=NOW)
    values.update(change)
    return Report.submit(**values)


def asked(**change) -> Report:
    r = report(**change)
    r.request_edit("Vui lòng bổ sung ảnh chụp ổ gà.", NOW, NOW + TWO_DAYS)
    return r


# ---- edit requests and edits -------------------------------------------------------------------------------

def test_an_edit_request_says_what_to_complete_and_starts_the_two_days():
    r = report()
    r.request_edit("  Vui lòng bổ sung ảnh chụp ổ gà. ", NOW, NOW + TWO_DAYS)
    assert (r.status, r.edit_request, r.edit_due) == ("edit_requested", "Vui lòng bổ sung ảnh chụp ổ gà.", NOW + TWO_DAYS)


@pytest.mark.parametrize("what", ["", "   ", "abc", "Bổ sung\x00 ảnh", "\u200b" * 6])
def test_an_edit_request_must_say_something_readable(what):
    r = report()
    with pytest.raises(InvalidInput):
        r.request_edit(what, NOW, NOW + TWO_DAYS)
    assert (r.status, r.edit_due, r.edit_request) == ("submitted", None, "")


def test_an_edit_is_requested_once_at_a_time_and_never_after_the_decision():
    r = asked()
    with pytest.raises(StateConflict) as twice:
        r.request_edit("Bổ sung thêm vị trí.", NOW, NOW + TWO_DAYS)
    assert "waiting for the reporter" in twice.value.detail_en and "chờ người phản ánh" in twice.value.detail_vi
    done = report()
    done.accept(ROAD, None, "")
    with pytest.raises(StateConflict):
        done.request_edit("Bổ sung thêm vị trí.", NOW, NOW + TWO_DAYS)


def test_the_reporter_s_edit_changes_what_they_send_and_the_report_waits_for_step_one_again():
    r = asked()
    occurred = NOW - timedelta(hours=3)
    changed = r.edit(ReportEdit(title="Ổ gà lớn trước số 120 Quang Trung", description="Ổ gà rộng nửa mét, sâu 20 cm, giữa làn xe máy.",
                                location=(17.4690, 106.6230), occurred_at=occurred), NOW + timedelta(hours=5))
    assert set(changed) == {"title", "description", "lat", "lon", "occurred_at"}
    assert (r.status, r.edit_due, r.edit_request, r.title, r.lat, r.occurred_at) == (
        "submitted", None, "", "Ổ gà lớn trước số 120 Quang Trung", 17.4690, occurred)
    assert r.address_text == "120 Quang Trung, Đồng Hới"  # not sent: unchanged


def test_files_alone_may_be_the_completion_asked_for_but_an_empty_edit_is_refused():
    r = asked()
    with pytest.raises(InvalidInput) as empty:
        r.edit(ReportEdit(title="Ổ gà trên đường Quang Trung"), NOW)  # the same title: nothing changed
    assert "Nothing was changed" in empty.value.detail_en and r.status == "edit_requested"
    assert r.edit(ReportEdit(files_added=2), NOW) == ["files"] and r.status == "submitted"


@pytest.mark.parametrize("change", [
    ReportEdit(location=(21.03, 105.85)),                               # Hà Nội: outside the province
    ReportEdit(remove_location=True, address_text=""),                   # neither pin nor address left
    ReportEdit(location=(17.47, 106.62), remove_location=True),          # both at once
    ReportEdit(title="Ổ"),                                              # too short
    ReportEdit(description="Ổ gà\x00 rộng nửa mét giữa đường."),          # a NUL
    ReportEdit(occurred_at=NOW + timedelta(days=1)),                     # in the future
    ReportEdit(title="Ổ gà lớn trước số 120", location=(10.8, 106.7)),  # one good field does not save a bad one
])
def test_a_bad_edit_is_refused_as_a_whole_and_changes_nothing(change):
    r = asked()
    before = (r.title, r.description, r.lat, r.lon, r.address_text, r.occurred_at, r.status, r.edit_due)
    with pytest.raises(InvalidInput):
        r.edit(change, NOW)
    assert (r.title, r.description, r.lat, r.lon, r.address_text, r.occurred_at, r.status, r.edit_due) == before


def test_the_pin_may_be_removed_when_an_address_says_where():
    r = asked()
    assert set(r.edit(ReportEdit(remove_location=True, address_text="Trước số 120 Quang Trung"), NOW)) == {"lat", "lon", "address_text"}
    assert (r.lat, r.lon, r.address_text) == (None, None, "Trước số 120 Quang Trung")


def test_only_a_report_waiting_for_an_edit_can_be_edited():
    r = report()
    with pytest.raises(StateConflict):
        r.edit(ReportEdit(title="Ổ gà lớn trước số 120"), NOW)


# ---- verification calls ------------------------------------------------------------------------------------

def test_the_two_days_to_reach_the_reporter_run_from_the_first_unanswered_call():
    r = report()
    assert r.record_call("not_reached", NOW, NOW + TWO_DAYS) is CallOutcome.NOT_REACHED
    r.record_call(CallOutcome.NOT_REACHED, NOW + timedelta(hours=30), NOW + timedelta(hours=78))
    assert r.verify_due == NOW + TWO_DAYS and r.status == "submitted"


def test_reaching_the_reporter_stops_the_timer_and_proves_an_unproved_phone():
    r = report(verification="none")
    r.record_call("not_reached", NOW, NOW + TWO_DAYS)
    r.record_call("reached", NOW + timedelta(hours=2), NOW + timedelta(hours=50))
    assert (r.verify_due, r.verification, r.status) == (None, "call", "submitted")
    otp = report(verification="otp")
    otp.record_call("reached", NOW, NOW + TWO_DAYS)
    assert otp.verification == "otp"  # a stronger proof is kept


def test_a_call_that_reaches_someone_else_cancels_the_report_at_once_with_the_decision_s_words():
    r = report()
    r.record_call("not_reached", NOW, NOW + TWO_DAYS)
    r.record_call("not_the_reporter", NOW + timedelta(hours=1), NOW + timedelta(hours=49))
    assert (r.status, r.refusal_reason, r.verify_due) == ("cancelled", "verification_failed", None)
    assert r.decision_note == "Phản ánh đến nhưng xác minh không phải là người phản ánh."


def test_calls_are_recorded_only_while_step_one_is_open_and_the_outcome_must_be_known():
    r = report()
    with pytest.raises(InvalidInput):
        r.record_call("busy", NOW, NOW + TWO_DAYS)
    r.accept(ROAD, None, "")
    with pytest.raises(StateConflict):
        r.record_call("reached", NOW, NOW + TWO_DAYS)


# ---- the 2-day timers --------------------------------------------------------------------------------------

def test_an_edit_not_done_within_two_days_cancels_the_report():
    r = asked()
    assert r.expire(NOW + TWO_DAYS - timedelta(seconds=1)) is None and r.status == "edit_requested"
    assert r.expire(NOW + TWO_DAYS) is Cancellation.EDIT_NOT_DONE
    assert (r.status, r.refusal_reason, r.edit_due) == ("cancelled", "edit_not_done", None)
    assert r.decision_note == "Phản ánh đến sau khi xác minh có yêu cầu chỉnh sửa nhưng sau 02 ngày vẫn không chỉnh sửa."
    assert r.expire(NOW + TWO_DAYS * 2) is None  # fires once


def test_a_reporter_not_reached_within_two_days_cancels_the_report():
    r = report()
    r.record_call("not_reached", NOW, NOW + TWO_DAYS)
    assert r.expire(NOW + TWO_DAYS) is Cancellation.NOT_REACHED
    assert (r.status, r.refusal_reason) == ("cancelled", "verification_failed")
    assert "02 ngày không thành công" in r.decision_note


def test_with_both_timers_run_out_the_earlier_one_is_the_reason():
    r = report()
    r.record_call("not_reached", NOW, NOW + TWO_DAYS)
    r.request_edit("Bổ sung ảnh chụp hiện trường.", NOW + timedelta(hours=1), NOW + timedelta(hours=49))
    assert r.expire(NOW + timedelta(days=3)) is Cancellation.NOT_REACHED


def test_a_report_edited_reached_or_decided_in_time_never_expires():
    edited = asked()
    edited.edit(ReportEdit(files_added=1), NOW + timedelta(hours=1))
    reached = report()
    reached.record_call("not_reached", NOW, NOW + TWO_DAYS)
    reached.record_call("reached", NOW + timedelta(hours=1), NOW + timedelta(hours=49))
    accepted = asked()
    accepted.accept(ROAD, None, "")
    refused = asked()
    refused.refuse(RefusalReason.OUT_OF_SCOPE, "Không thuộc phạm vi tiếp nhận.")
    for r in (edited, reached, accepted, refused):
        assert (r.edit_due, r.verify_due) == (None, None)
        assert r.expire(NOW + timedelta(days=10)) is None and r.status != "cancelled"


# ---- refusals, duplicates, the state-secret flag -----------------------------------------------------------

@pytest.mark.parametrize("reason", list(AT_WILL))
def test_the_ioc_refuses_at_will_only_for_unclear_or_out_of_scope(reason):
    r = asked()
    r.refuse(reason.value, "  Nội dung không rõ ràng. ")
    assert (r.status, r.refusal_reason, r.decision_note, r.edit_due) == ("refused", reason.value, "Nội dung không rõ ràng.", None)


@pytest.mark.parametrize("reason, path", [(RefusalReason.DUPLICATE, "mark as duplicate"), (RefusalReason.VERIFICATION_FAILED, "verification calls"),
                                          (RefusalReason.EDIT_NOT_DONE, "request an edit")])
def test_the_other_reasons_say_which_path_gives_them(reason, path):
    r = report()
    with pytest.raises(InvalidInput) as refused:
        r.refuse(reason, "Lý do được nhập tay.")
    assert path in refused.value.detail_en and refused.value.detail_vi != refused.value.detail_en
    assert r.status == "submitted" and r.refusal_reason == ""


def test_a_duplicate_is_the_same_reporter_s_earlier_report_and_is_linked():
    earlier = report(id="r1", now=NOW - timedelta(days=3))
    r = asked()
    r.mark_duplicate(earlier)
    assert (r.status, r.refusal_reason, r.duplicate_of, r.edit_due) == ("refused", "duplicate", "r1", None)
    assert r.decision_note == "Phản ánh trùng, lặp lại của cùng 01 cá nhân, tổ chức gửi."


@pytest.mark.parametrize("earlier, same_person, words", [
    (dict(id="r2"), None, "itself"),
    (dict(id="r1", reporter_id="p9", now=NOW - timedelta(days=1)), None, "same reporter"),
    (dict(id="r1", reporter_id="p9", now=NOW - timedelta(days=1)), False, "same reporter"),
    (dict(id="r1", now=NOW + timedelta(minutes=1)), None, "before this one"),
    (dict(id="r1", now=NOW), None, "before this one"),
])
def test_what_is_not_a_duplicate(earlier, same_person, words):
    r = report()
    with pytest.raises(InvalidInput) as refused:
        r.mark_duplicate(report(**earlier), same_person=same_person)
    assert words in refused.value.detail_en and r.status == "submitted" and r.duplicate_of == ""


def test_the_same_verified_phone_is_the_same_person_whatever_the_reporter_row():
    r = report()
    r.mark_duplicate(report(id="r1", reporter_id="p9", now=NOW - timedelta(days=1)), same_person=True)
    assert r.duplicate_of == "r1"


def test_a_decided_report_is_not_marked_again():
    r = report()
    r.accept(ROAD, None, "")
    with pytest.raises(StateConflict):
        r.mark_duplicate(report(id="r1", now=NOW - timedelta(days=1)))


@pytest.mark.parametrize("status", list(Status))
def test_the_state_secret_flag_is_set_and_cleared_at_any_status(status):
    r = report()
    r.status = status.value
    assert r.classify(True) is True and r.state_secret is True
    assert r.classify(True) is False  # no change
    assert r.classify(False) is True and r.state_secret is False


def test_every_cancellation_has_words_in_both_languages_and_its_refusal_reason():
    assert {c.reason for c in Cancellation} == {RefusalReason.EDIT_NOT_DONE, RefusalReason.VERIFICATION_FAILED}
    for c in Cancellation:
        en, vi = c.label
        assert en and vi and en != vi
    assert all("sau 02 ngày" in c.label[1] for c in (Cancellation.EDIT_NOT_DONE, Cancellation.NOT_REACHED))
    for outcome in CallOutcome:
        assert outcome.label[0] != outcome.label[1]
