"""Real Chromium against `paht up`: the statistics page and the monthly report, for the Steering Committee, on a desk
(1280x800) and a phone (390x844), in both languages, its exports downloaded, and the monthly report printed on A4.

Two reports go through the walkthrough (one published, one left with the lead agency). Screenshots go to
test-artifacts/screenshots/stats-*.png (stats-monthly-print.png with the print style applied).
"""
from __future__ import annotations

import re
import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from playwright import sync_api

from tests.e2e import test_browser
from tests.e2e.harness import BACKENDS, Client, backend_env, cleanup_backend, start_paht, stop_paht
from tests.e2e.test_browser import DESK, assert_readable, browser, shots  # noqa: F401  (fixtures)
from tests.e2e.test_dispatch_console import sign_in, walk_until
from tests.e2e.test_portal_pages import PHONE, open_page

expect = sync_api.expect
pytestmark = [pytest.mark.e2e, pytest.mark.browser]
VN = timezone(timedelta(hours=7))


@pytest.fixture(scope="module", params=BACKENDS)
def paht_stats(request, tmp_path_factory):
    tag = "s" + uuid.uuid4().hex[:8]
    data = tmp_path_factory.mktemp("stats") / "data"
    running = start_paht(data, backend_env(request.param, tag))
    yield running
    stop_paht(running)
    cleaner = threading.Thread(target=cleanup_backend, args=(request.param, tag))
    cleaner.start()
    cleaner.join(timeout=60)


def test_the_steering_committee_reads_the_statistics_downloads_them_and_prints_the_monthly_report(paht_stats, browser, shots):  # noqa: F811
    url = paht_stats.url
    published, waiting = walk_until(url, "published"), walk_until(url, "dispatched")
    c = Client(url)
    c.wait_for("/api/publication/v1/stats", "bcd",
               check=lambda r: r.status_code == 200 and r.json()["totals"]["published"] >= 1 and r.json()["totals"]["received"] >= 2)

    context, page = open_page(browser, url, DESK)
    sign_in(page, "bcd", "/publication/stats")
    expect(page).to_have_url(re.compile(r"/publication/stats$"))
    expect(page.locator("h1")).to_have_text("Thống kê phản ánh hiện trường")
    expect(page.locator("nav a[aria-current=page]")).to_have_text("Thống kê")  # the staff navigation leads here
    expect(page.locator("#total-received")).to_have_text("2")
    expect(page.locator("#total-published")).to_have_text("1")
    expect(page.locator("#chart-series rect.bar")).to_have_count(12)  # twelve months, by default
    expect(page.locator("#chart-channels")).to_contain_text("Ứng dụng di động")  # the walkthrough's citizen uses the app
    expect(page.locator("#chart-on-time text.label")).to_have_count(5)  # the five steps that have a deadline
    steps = page.locator("#steps-table")
    expect(steps.locator("#step-publish")).to_contain_text("Bước 8: Trung tâm IOC công khai kết quả")
    expect(steps.locator("#step-receive")).to_contain_text("không có hạn riêng")
    expect(page.locator("#agencies-table")).to_contain_text("Sở Giao thông vận tải")
    expect(page.locator("#overdue-table")).to_be_visible()
    assert_readable(page)
    shots(page, "stats-desk")

    with page.expect_download() as download:
        page.locator("#export-csv").click()
    csv_file = download.value
    assert re.fullmatch(r"paht-thong-ke_\d{4}-\d{2}-01_\d{4}-\d{2}-\d{2}\.csv", csv_file.suggested_filename)
    body = open(csv_file.path(), "rb").read()
    assert body.startswith(b"\xef\xbb\xbf") and "Phản ánh tiếp nhận,2" in body.decode("utf-8-sig")
    with page.expect_download() as download:
        page.locator("#export-xlsx").click()
    assert download.value.suggested_filename.endswith(".xlsx") and open(download.value.path(), "rb").read(2) == b"PK"

    page.locator("a.lang").click()  # the site's language switch
    expect(page.locator("h1")).to_have_text("Field report statistics")
    expect(page.locator("#steps-table")).to_contain_text("Step 8: the IOC publishes the answer")
    assert "lang=en" in page.locator("#export-csv").get_attribute("href")
    page.goto("/publication/stats?from=2026-03-10&to=2026-03-01")
    expect(page.locator("#stats-error")).to_contain_text("The period ends before it starts.")
    expect(page.locator("#stats-error")).to_contain_text("Ngày kết thúc trước ngày bắt đầu.")
    page.goto("/publication/stats?lang=vi")
    context.close()

    context, page = open_page(browser, url, PHONE)
    sign_in(page, "bcd", "/publication/stats")
    expect(page.locator("#total-received")).to_have_text("2")
    expect(page.locator("#chart-groups")).to_be_visible()
    assert_readable(page)  # nothing scrolls sideways on a phone
    shots(page, "stats-phone")
    context.close()

    month = datetime.now(VN).strftime("%Y-%m")
    context, page = open_page(browser, url, DESK)
    sign_in(page, "bcd", f"/publication/stats/monthly?month={month}")
    expect(page.locator("#monthly-title")).to_contain_text("Báo cáo tình hình tiếp nhận, xử lý phản ánh hiện trường tháng "
                                                           + datetime.now(VN).strftime("%m/%Y"))
    expect(page.locator("#compare-table")).to_contain_text("Phản ánh tiếp nhận")
    expect(page.locator("#agency-satisfaction")).to_contain_text("Sở Giao thông vận tải")
    expect(page.locator("#print-button")).to_be_visible()  # shown when script runs
    assert_readable(page)
    page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
    page.emulate_media(media="print")
    expect(page.locator("header.site")).to_be_hidden()
    expect(page.locator("#month-form")).to_be_hidden()
    expect(page.locator("#h-m-overdue")).to_be_visible()
    assert page.evaluate("getComputedStyle(document.getElementById('m-steps')).breakBefore") == "page"
    assert page.evaluate("getComputedStyle(document.querySelector('#compare-table thead')).display") == "table-header-group"
    shots(page, "stats-monthly-print")
    pdf = page.pdf(prefer_css_page_size=True)
    (test_browser.ARTIFACT_SHOTS / "stats-monthly.pdf").write_bytes(pdf)
    assert len(re.findall(rb"/Type\s*/Page(?!s)", pdf)) >= 5  # A4, a page per section
    context.close()

    context, page = open_page(browser, url, DESK)
    sign_in(page, "canbo", "/handling/")
    response = page.goto("/publication/stats")
    assert response.status == 403
    expect(page.locator("main")).to_contain_text("Thành viên Ban Chỉ đạo")
    context.close()
    assert not test_browser.CSP_VIOLATIONS, test_browser.CSP_VIOLATIONS
    assert published and waiting
