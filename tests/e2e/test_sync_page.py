"""Real Chromium against `paht up`: the sync page `/sync/` for an IOC operator, on a desk (1280x800) and a phone
(390x844), in both languages. `paht up` runs one node alone, so the page says so; one report dispatched to a
provincial agency shows in the reports by owning node. The staff navigation leads to the page; it reloads itself.
Screenshots: test-artifacts/screenshots/sync-desk.png and sync-phone.png (docs/screenshots with PAHT_REFRESH_SCREENSHOTS=1).
"""
from __future__ import annotations

import re
import threading
import uuid

import pytest
from playwright import sync_api

from tests.e2e.harness import BACKENDS, Client, backend_env, cleanup_backend, start_paht, stop_paht
from tests.e2e.test_browser import DESK, assert_readable, browser, shots  # noqa: F401  (fixtures)
from tests.e2e.test_dispatch_console import sign_in, walk_until
from tests.e2e.test_portal_pages import PHONE, open_page  # 390x844

expect = sync_api.expect
pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture(params=BACKENDS)
def paht_sync(request, tmp_path):
    """`paht up` on each backend, as tests/e2e/conftest.py's `paht`, but cleaned up in a thread of its own: Playwright's
    loop still runs in this one, and the cleanup of PostgreSQL + NATS runs a loop of its own."""
    tag = "y" + uuid.uuid4().hex[:8]
    running = start_paht(tmp_path / "data", backend_env(request.param, tag))
    yield running
    stop_paht(running)
    cleaner = threading.Thread(target=cleanup_backend, args=(request.param, tag))
    cleaner.start()
    cleaner.join(timeout=60)


def no_sideways_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth"), page.url


def test_an_ioc_operator_reads_the_sync_page_on_a_desk_and_a_phone(paht_sync, browser, shots):  # noqa: F811
    url = paht_sync.url
    walk_until(url, "dispatched")  # one report with a provincial agency: owned by the province
    Client(url).wait_for("/api/sync/v1/status", "ioc", check=lambda r: r.status_code == 200 and r.json()["reports_by_node"])

    context, page = open_page(browser, url, DESK)
    try:
        sign_in(page, "ioc", "/sync/")
        expect(page).to_have_url(re.compile(r"/sync/$"))
        expect(page.locator("h1")).to_have_text("Đồng bộ liên thông")
        expect(page.locator("nav a[aria-current=page]")).to_have_text("Đồng bộ")  # the staff navigation leads here
        expect(page.locator("head meta[http-equiv=refresh]")).to_have_attribute("content", "5")
        expect(page.locator("#node-role")).to_have_text("Hoạt động độc lập (không liên thông)")
        expect(page.locator("#alone")).to_have_text("Nút này hoạt động độc lập: chưa khai báo nút cấp huyện nào.")
        expect(page.locator("#no-refused")).to_have_text("Chưa có sự kiện nào bị từ chối.")
        expect(page.locator("#refused-explain")).to_contain_text("hồ sơ của tỉnh vẫn giữ nguyên giá trị")
        expect(page.locator("#owned-province")).to_contain_text("Tỉnh")
        assert_readable(page)
        no_sideways_scroll(page)
        shots(page, "sync-desk")

        page.locator("a.lang").click()  # the site's language switch
        expect(page.locator("h1")).to_have_text("Federation sync")
        expect(page.locator("#alone")).to_have_text("This node runs alone: no hub declared.")
        expect(page.locator("#no-refused")).to_have_text("No event has been refused.")
        page.locator("a.lang").click()
        expect(page.locator("h1")).to_have_text("Đồng bộ liên thông")
    finally:
        context.close()

    context, page = open_page(browser, url, PHONE)
    try:
        sign_in(page, "ioc", "/sync/")
        expect(page.locator("h1")).to_have_text("Đồng bộ liên thông")
        expect(page.locator("#alone")).to_be_visible()
        expect(page.locator("#by-node-table")).to_be_visible()
        assert_readable(page)
        no_sideways_scroll(page)
        shots(page, "sync-phone")
    finally:
        context.close()
