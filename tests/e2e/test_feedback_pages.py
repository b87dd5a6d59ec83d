"""Real Chromium against `paht up`, on a phone (390x844): the reporter proves their phone with the SMS code, opens
their published report, rates the answer, changes the rating and asks the lead unit to clarify; a stranger's
browser sees none of it. Screenshots: test-artifacts/screenshots/feedback-*.png."""
from __future__ import annotations

import uuid

import pytest

from paht.runtime.walkthrough import walk
from playwright import sync_api
from tests.e2e.harness import backend_env, start_paht, stop_paht
from tests.e2e.test_browser import browser, shots  # noqa: F401  (fixtures)
from tests.e2e.test_intake_pages import assert_readable, open_page, verify_phone

expect = sync_api.expect
pytestmark = [pytest.mark.e2e, pytest.mark.browser]
PHONE_390 = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    data = tmp_path_factory.mktemp("feedback-pages") / "data"
    # the walk proves its phone just before the browser does: a second code to it may go at once here
    running = start_paht(data, {**backend_env("embedded", "f" + uuid.uuid4().hex[:8]), "PAHT_OTP_RESEND_AFTER_S": "0"})
    yield running
    stop_paht(running)


def test_the_reporter_rates_changes_the_rating_and_asks_for_clarification_on_a_phone(site, browser, shots):  # noqa: F811
    w = walk(site.url)  # submitted with REPORT's phone, then steps 1 to 8: published
    context, page = open_page(browser, site.url, PHONE_390)
    try:
        page.goto(f"/reports/{w.report_id}")
        expect(page.locator("#feedback")).to_have_count(0)  # not signed in: the public page only
        page.goto("/intake/report")
        verify_phone(page, site.url, w.reporter_phone)

        page.goto(f"/reports/{w.report_id}")
        section = page.locator("#feedback")
        expect(section).to_contain_text("Ý kiến của bạn về kết quả")
        section.get_by_label("Không hài lòng").check()
        section.get_by_label("Ý kiến (không bắt buộc)").fill("Ổ gà đã vá nhưng mặt đường vẫn lún.")
        shots(page, "feedback-rate-phone")
        section.get_by_role("button", name="Gửi đánh giá").click()
        expect(page.locator("#feedback-done")).to_contain_text("Cảm ơn bạn đã đánh giá")
        expect(page.locator("#my-rating")).to_contain_text("Không hài lòng")
        expect(page.locator("#my-rating")).to_contain_text("mặt đường vẫn lún")

        page.locator("#feedback").get_by_label("Chấp nhận").check()
        page.get_by_role("button", name="Lưu đánh giá mới").click()
        expect(page.locator("#feedback-done")).to_contain_text("Đã lưu đánh giá mới")
        expect(page.locator("#my-rating")).to_contain_text("Chấp nhận")

        page.get_by_label("Nội dung cần làm rõ").fill("Đề nghị cho biết khi nào thảm lại mặt đường đoạn này.")
        page.get_by_role("button", name="Gửi đề nghị làm rõ").click()
        expect(page.locator("#feedback-done")).to_contain_text("Đã gửi đề nghị làm rõ")
        expect(page.locator(".clarification-open")).to_contain_text("Đơn vị chủ trì đang làm rõ")
        expect(page.locator("#clarification-form")).to_have_count(0)  # one open request at a time
        assert_readable(page)
        shots(page, "feedback-done-phone")

        page.get_by_role("link", name="English").first.click()
        expect(page.locator("#my-rating")).to_contain_text("Acceptable")
        assert_readable(page)
    finally:
        context.close()

    stranger, spage = open_page(browser, site.url, PHONE_390)
    try:
        spage.goto(f"/reports/{w.report_id}")
        expect(spage.locator("main")).not_to_contain_text("mặt đường vẫn lún")
        expect(spage.locator("#feedback")).to_have_count(0)
    finally:
        stranger.close()
