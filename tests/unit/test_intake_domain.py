"""Intake's domain without I/O: submitting, step 1 (accept, refuse), reporters, places and texts."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from paht.runtime.errors import InvalidInput, StateConflict
from services.intake.domain.place import check_place
from services.intake.domain.report import ContactRelease, Report, Reporter, clean_topic_code
from services.intake.domain.taxonomy import Topic, known_topic
from services.intake.domain.vocabulary import AT_WILL, Channel, RefusalReason, Status
from tests.support.taxonomy import FakeTaxonomy

NOW = datetime(2026, 3, 2, 8, 30, tzinfo=timezone.utc)
ROAD = Topic("road-damage", "Hư hỏng đường giao thông", "infrastructure", "Hạ tầng giao thông")


def report(**change) -> Report:
    values = dict(id="r1", tracking_code="QB-AAAA-BBBB", reporter_id="p1", channel="web", title="Ổ gà trên đường Quang Trung",
                  description="Ổ gà rộng nửa mét giữa làn xe máy, rất nguy hiểm vào ban đêm.", address_text="120 Quang Trung, Đồng Hới", now=NOW)
    values.update(change)
    return Report.submit(**values)


def test_a_submitted_report_is_cleaned_and_waits_for_step_one():
    r = report(title="  Ổ gà trên đường Quang Trung \t", address_text=" 12 Quang Trung ", topic_code=" road-damage ")
    assert r.status == Status.SUBMITTED.value and r.channel == "web" and r.received_at == NOW
    assert r.title == "Ổ gà trên đường Quang Trung" and r.address_text == "12 Quang Trung" and r.topic_code == "road-damage"
    assert r.version == 0 and r.next_version() == 1


def test_text_in_decomposed_form_is_stored_composed():
    decomposed = "Ô\u0309 ga\u0300 trên đường"  # as some phone keyboards send Vietnamese
    assert report(title=decomposed).title == "Ổ gà trên đường"


@pytest.mark.parametrize("field", ["title", "description", "address_text", "area_code", "topic_code"])
@pytest.mark.parametrize("bad", ["\x00", "\u202e", "\u2066", "\x1b"])
def test_control_and_direction_characters_are_refused_in_every_text(field, bad):
    base = {"title": "Ổ gà trên đường", "description": "Ổ gà rộng nửa mét giữa làn xe.", "address_text": "12 Quang Trung",
            "area_code": "19000", "topic_code": "road-damage"}
    with pytest.raises(InvalidInput) as refused:
        report(**{field: base[field][:3] + bad + base[field][3:]})
    assert f"U+{ord(bad):04X}" in refused.value.detail_en and refused.value.detail_vi


@pytest.mark.parametrize("title", ["\u200b" * 8, "\u0301" * 8, "!!!!!!!", " \u200b\u200c\u200d\u2060\u200b "])
def test_a_title_must_hold_a_letter_or_a_digit(title):
    with pytest.raises(InvalidInput):
        report(title=title)


@pytest.mark.parametrize("change", [{"title": "Ổ gà"}, {"title": "x" * 201}, {"description": "ngắn"}, {"description": "y" * 5001},
                                    {"address_text": "z" * 301}, {"channel": "fax"}])
def test_lengths_and_channel_are_checked(change):
    with pytest.raises(InvalidInput):
        report(**change)


def test_a_multiline_description_is_kept_but_a_title_is_one_line():
    assert report(description="Dòng một của nội dung.\nDòng hai.").description == "Dòng một của nội dung.\nDòng hai."
    with pytest.raises(InvalidInput):
        report(title="Ổ gà trên\nđường Quang Trung")


@pytest.mark.parametrize("typed, stored", [("0912345678", "0912345678"), ("+84 912 345 678", "0912345678"), ("84912345678", "0912345678"),
                                           ("091.234.5678", "0912345678"), ("(0232) 3822 111", "02323822111")])
def test_phone_numbers_are_normalised(typed, stored):
    assert Reporter.normalise_phone(typed) == stored


@pytest.mark.parametrize("typed", ["12345", "0112345678", "+1 202 555 0100", "09123456789", "0912\x00345678", ""])
def test_phone_numbers_that_are_not_vietnamese_are_refused(typed):
    with pytest.raises(InvalidInput) as refused:
        Reporter.normalise_phone(typed)
    assert "Số điện thoại" in refused.value.detail_vi


def test_email_is_lower_cased_and_checked():
    assert Reporter.check_email("  Thu@Example.VN ") == "thu@example.vn"
    for bad in ["không-phải-email", "a@b", "a b@c.vn", "thu@exam\x00ple.vn", "thu\u202e@example.vn", "a@" + "b" * 260 + ".vn"]:
        with pytest.raises(InvalidInput):
            Reporter.check_email(bad)


def test_a_reporter_is_checked_as_a_whole():
    person = Reporter.new("p1", " Phan Thị Thu ", "+84 912 345 678", "Thu@Example.vn", NOW)
    assert (person.name, person.phone, person.email) == ("Phan Thị Thu", "0912345678", "thu@example.vn")
    for name in ["T", "Phan\x00Thu", "\u200b\u200b\u200b", "Phan\nThu"]:
        with pytest.raises(InvalidInput):
            Reporter.new("p1", name, "0912345678", "thu@example.vn", NOW)


def test_a_place_is_a_pin_inside_the_province_or_an_address():
    check_place(None, None, "120 Quang Trung, Đồng Hới")
    for lat, lon in [(17.4683, 106.6222), (16.82, 107.10), (17.16, 107.34), (17.75, 106.42)]:  # Đồng Hới, Đông Hà, Cồn Cỏ island, Ba Đồn
        check_place(lat, lon, "")
    with pytest.raises(InvalidInput, match="pin on the map or write the address"):
        check_place(None, None, "   ")
    # half a pin; Hà Nội; Sài Gòn; Huế and Kỳ Anh just across the borders; Savannakhet in Laos; impossible numbers
    for lat, lon in [(17.4, None), (None, 106.6), (21.03, 105.85), (10.8, 106.7), (16.46, 107.59), (18.07, 106.30), (16.55, 104.75),
                     (float("nan"), 106.6), (17.4, float("inf")), (95.0, 106.6)]:
        with pytest.raises(InvalidInput):
            check_place(lat, lon, "somewhere")


def test_accept_files_the_report_under_the_taxonomy_topic_and_its_group():
    r = report(topic_code="waste-dumping")
    r.accept(ROAD, urgent=True, note="  Đã gọi xác minh. ")
    assert (r.status, r.topic_code, r.group_code, r.urgent, r.decision_note) == ("accepted", "road-damage", "infrastructure", True, "Đã gọi xác minh.")
    r2 = report(urgent=True)
    r2.accept(ROAD, urgent=None, note="")
    assert r2.urgent is True  # None keeps what the reporter said


def test_accept_refuses_a_note_with_control_characters():
    with pytest.raises(InvalidInput):
        report().accept(ROAD, None, "ghi chú\x00")


@pytest.mark.parametrize("reason", list(AT_WILL))  # the others have their own paths: test_intake_step1_domain.py
def test_refuse_with_each_reason(reason):
    r = report()
    r.refuse(reason.value, "  Nội dung không rõ ràng. ")
    assert (r.status, r.refusal_reason, r.decision_note) == ("refused", reason.value, "Nội dung không rõ ràng.")


def test_refuse_needs_a_known_reason():
    with pytest.raises(InvalidInput) as refused:
        report().refuse("boring", "Nội dung không rõ ràng.")
    assert "duplicate" in refused.value.detail_en


@pytest.mark.parametrize("text", ["", "    ", "abcd", " ab  ", "\u200b\u200b\u200b\u200b\u200b", "Trùng\x00lặp", "....."])
def test_the_published_refusal_text_must_say_something(text):
    r = report()
    with pytest.raises(InvalidInput):
        r.refuse(RefusalReason.UNCLEAR_OR_TEST, text)
    assert r.status == "submitted"


def test_the_refusal_text_minimum_is_five_characters():
    r = report()
    r.refuse(RefusalReason.UNCLEAR_OR_TEST, "Thử 1")
    assert r.decision_note == "Thử 1"


@pytest.mark.parametrize("first", ["accept", "refuse"])
def test_step_one_is_decided_once(first):
    r = report()
    r.accept(ROAD, None, "") if first == "accept" else r.refuse(RefusalReason.UNCLEAR_OR_TEST, "Gửi nhầm, thử hệ thống")
    for again in (lambda: r.accept(ROAD, None, ""), lambda: r.refuse(RefusalReason.OUT_OF_SCOPE, "Không thuộc phạm vi")):
        with pytest.raises(StateConflict) as conflict:
            again()
        described = Status(r.status).label
        assert described[0] in conflict.value.detail_en and described[1] in conflict.value.detail_vi


def test_a_report_waiting_for_an_edit_can_still_be_decided():
    r = report()
    r.status = Status.EDIT_REQUESTED.value
    r.refuse(RefusalReason.OUT_OF_SCOPE, "Không thuộc phạm vi tiếp nhận")
    assert r.status == "refused"


def test_topics_are_looked_up_and_an_unknown_one_is_refused():
    taxonomy = FakeTaxonomy()
    assert known_topic(taxonomy, "road-damage").group_code == "infrastructure"
    with pytest.raises(InvalidInput) as unknown:
        known_topic(taxonomy, "no-such-topic")
    assert "no-such-topic" in unknown.value.detail_en
    with pytest.raises(InvalidInput):
        clean_topic_code("  ", required=True)
    assert clean_topic_code("", required=False) == ""


def test_a_contact_release_says_why():
    r = report()
    release = ContactRelease.new("a1", r, "ioc", "ioc-tinh", " Gọi điện xác minh ", NOW)
    assert (release.report_id, release.reporter_id, release.purpose) == ("r1", "p1", "Gọi điện xác minh")
    for purpose in ["", "ab", "gọi\x00lại"]:
        with pytest.raises(InvalidInput):
            ContactRelease.new("a1", r, "ioc", "ioc-tinh", purpose, NOW)


def test_every_value_of_the_vocabulary_has_words_in_both_languages():
    for kind in (Channel, RefusalReason, Status):
        for value in kind:
            en, vi = value.label
            assert en and vi and en != vi, value
