"""Real Chromium against `paht up`: step 8 on the answer letter (the IOC's editor on a desk) and the public report page
with every step's deadline and its on-time / late badge (a citizen on a phone, 390x844).

The walkthrough takes a report to the unit leader's approval; the IOC's editor sees the answer letter on the decision's
template in the step 8 queue, edits one sentence of it and publishes; the citizen opens the report by its tracking
code and reads the edited letter and the timeline, where the entries that end steps 1-2, 3, 3-6, 7 and 8 each carry
their deadline and a badge. Screenshots go to test-artifacts/screenshots/publication-*.png.
"""
from __future__ import annotations

import uuid

import pytest
from playwright import sync_api

from tests.e2e.harness import Client, backend_env, start_paht, stop_paht
from tests.e2e.test_browser import DESK, PHONE, assert_readable, browser, new_page, shots  # noqa: F401  (fixtures)
from tests.e2e.test_dispatch_console import sign_in, walk_until

expect = sync_api.expect
pytestmark = [pytest.mark.e2e, pytest.mark.browser]
ADDED = "Đơn vị cũng đã kiểm tra toàn tuyến đường Quang Trung."


@pytest.fixture(scope="module")
def paht_pub(tmp_path_factory):
    data = tmp_path_factory.mktemp("publication") / "data"
    running = start_paht(data, backend_env("embedded", "p" + uuid.uuid4().hex[:8]))
    yield running
    stop_paht(running)


def test_the_ioc_publishes_the_edited_letter_and_the_public_timeline_shows_each_deadline(paht_pub, browser, shots):  # noqa: F811
    url = paht_pub.url
    c = Client(url)
    rid = walk_until(url, "approved")
    c.wait_for("/api/publication/v1/queue", "bientap", check=lambda r: rid in r.text)

    context, page = new_page(browser, url, DESK)
    try:
        sign_in(page, "bientap", "/publication/queue")
        page.goto("/publication/queue")
        card = page.locator(f"#r-{rid}")
        letter = card.get_by_label("Thư trả lời theo mẫu (biên tập trước khi công khai)")
        text = letter.input_value()
        assert text.startswith("Kính gửi: Quý") and "Trân trọng./." in text, text  # the letter on the template, filled from the case
        edited = text.replace("Trân trọng./.", ADDED + "\n\nTrân trọng./.")
        letter.fill(edited)
        assert_readable(page)
        shots(page, "publication-editor-desk")
        with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/publish")) as answer:
            card.get_by_role("button", name="Công khai kết quả").click()
        assert answer.value.status == 303
        expect(page.locator(f"#r-{rid}")).to_have_count(0)
    finally:
        context.close()

    public = c.wait_for(f"/api/publication/v1/reports/{rid}", check=lambda r: r.status_code == 200 and r.json()["status"] == "published").json()
    assert public["answer"] == edited
    ended = {e["kind"]: e for e in public["timeline"] if e["due_at"]}
    assert set(ended) == {"dispatched", "assigned", "drafted", "approved", "published"}, public["timeline"]
    assert all(e["on_time"] is True for e in ended.values()), ended  # the walkthrough runs in seconds: every step on time

    context, page = new_page(browser, url, PHONE)
    try:
        page.goto(f"/track?code={public['tracking_code']}")
        main = page.locator("main")
        expect(main.locator("#answer")).to_contain_text(ADDED)
        deadlines = main.locator("ol.timeline .tl-deadline")
        expect(deadlines).to_have_count(5)
        for n, step in enumerate(("Bước 1–2", "Bước 3:", "Bước 3–6", "Bước 7", "Bước 8")):
            expect(deadlines.nth(n)).to_contain_text(step)
            expect(deadlines.nth(n).locator(".badge")).to_have_text("Đúng hạn")
        expect(main.locator("#open-deadlines")).to_have_count(0)
        assert_readable(page)
        shots(page, "publication-report-deadlines-phone")
        page.get_by_role("link", name="English").click()
        expect(main.locator("ol.timeline .tl-deadline .badge").first).to_have_text("On time")
        expect(main.locator("ol.timeline .tl-deadline").first).to_contain_text("Steps 1–2")
        assert_readable(page)
        shots(page, "publication-report-deadlines-phone-en")
    finally:
        context.close()
