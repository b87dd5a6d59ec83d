"""Real Chromium against `paht up`: the IOC dispatch console, the Steering Committee page and the emergency desk,
on a desk (1280x800) and a phone (360x740).

An operator dispatches a report in one click, reports another to the Steering Committee and forwards an urgent
one to 114, which shows as waiting for acknowledgement (delivered to the embedded run's fake desk); a Committee
member designates the lead agency on a phone; the 114 desk acknowledges on a phone. Every page is read for raw
catalog keys, sideways scrolling and Content-Security-Policy violations; screenshots go to
test-artifacts/screenshots/ (console_*.png, steering_*.png, emergency_desk_*.png).
"""
from __future__ import annotations

import json
import re
import threading
import time
import uuid

import pytest
from playwright import sync_api  # a test dependency: missing, the run fails (never skips)

from paht.runtime.walkthrough import REPORT
from tests.e2e.harness import BACKENDS, Client, backend_env, cleanup_backend, start_paht, stop_paht
from tests.e2e.test_browser import DESK, PHONE, assert_readable, browser, new_page, shots  # noqa: F401  (fixtures)

expect = sync_api.expect

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
PASSWORD = "paht-demo"


@pytest.fixture(scope="module", params=BACKENDS)
def paht_console(request, tmp_path_factory):
    """One `paht up` per backend for the module (embedded always; PostgreSQL + NATS when configured)."""
    tag = "c" + uuid.uuid4().hex[:8]
    data = tmp_path_factory.mktemp("console") / "data"
    running = start_paht(data, {**backend_env(request.param, tag), "PAHT_EMERGENCY_ACK_TIMEOUT_S": "600"})
    yield running
    stop_paht(running)
    # In a thread of its own: Playwright's loop may still run in this one, and the cleanup runs a loop of its own.
    cleaner = threading.Thread(target=cleanup_backend, args=(request.param, tag))
    cleaner.start()
    cleaner.join(timeout=60)


def accepted_report(c: Client, title: str, topic: str, urgent: bool = False) -> str:
    """A citizen's report that the IOC accepted at step 1: it waits in the step-2 console."""
    r = c.post("/api/intake/v1/reports", "citizen", json=dict(REPORT, title=title, topic_code=topic, urgent=urgent))
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    assert c.post(f"/api/intake/v1/reports/{rid}/accept", "ioc", json={"topic_code": topic, "urgent": urgent}).status_code == 200
    c.wait_for(f"/api/dispatch/v1/reports/{rid}", "ioc")
    return rid


def sign_in(page, username: str, next_path: str) -> None:
    page.goto(f"/auth/login?next={next_path}")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.locator("main").get_by_role("button", name="Đăng nhập").click()
    expect(page.get_by_role("button", name="Đăng xuất")).to_be_visible()


def card(page, rid: str):
    return page.locator(f"#r-{rid}")


def test_an_operator_dispatches_escalates_and_forwards_from_the_console(paht_console, browser, shots):  # noqa: F811
    c = Client(paht_console.url)
    ordinary = accepted_report(c, "Xe tải đỗ chắn lối đi trước chợ Đồng Hới", "traffic-safety")
    disputed = accepted_report(c, "Quán lấn chiếm vỉa hè đường Lý Thường Kiệt", "street-encroachment")
    urgent = accepted_report(c, "Cháy kho hàng gần cầu Nhật Lệ", "crime", urgent=True)

    context, page = new_page(browser, paht_console.url, DESK)
    try:
        sign_in(page, "ioc", "/dispatch/console")  # the sign-in page brings the person back to the console
        expect(page.get_by_role("heading", level=1)).to_have_text("Phân phối phản ánh (bước 2)")
        nav = page.get_by_role("navigation", name="Điều hướng chính")
        expect(nav.get_by_role("link", name="Phân phối phản ánh")).to_have_attribute("aria-current", "page")
        cards = page.locator("article.report")
        expect(cards.first).to_have_attribute("id", f"r-{urgent}")  # urgent first
        expect(card(page, urgent)).to_contain_text("KHẨN CẤP")
        expect(card(page, urgent).locator(".time")).to_contain_text(re.compile(r"trong hạn Còn \d+ phút"))
        expect(card(page, ordinary)).to_contain_text("Trật tự, an toàn giao thông")
        expect(card(page, ordinary)).to_contain_text("Có thẩm quyền lĩnh vực a (an ninh, trật tự, an toàn giao thông)")
        assert_readable(page)
        shots(page, "console_desk")

        # Forward the urgent report to 114: it shows as waiting for the desk's acknowledgement.
        card(page, urgent).get_by_label("Ghi chú gửi trực ban").fill("Cháy kho hàng, khói lớn, chưa rõ người mắc kẹt")
        card(page, urgent).get_by_role("button", name="Chuyển 114 Chữa cháy, cứu nạn cứu hộ").click()
        expect(page.locator("#done")).to_contain_text("114 Chữa cháy, cứu nạn cứu hộ")
        waiting = page.locator("#forwards")
        expect(waiting).to_contain_text("114 Chữa cháy, cứu nạn cứu hộ")
        expect(waiting).to_contain_text(re.compile("đang gửi đến trực ban|hệ thống trực ban đã nhận, chưa xác nhận"))
        expect(card(page, urgent).locator(".time")).to_contain_text("Đã chuyển 114 đúng hạn khẩn cấp")
        expect(card(page, urgent).get_by_role("button", name=re.compile("114 .* đã chuyển"))).to_be_disabled()
        page.reload()  # the watcher hands it to the fake desk within a second or two
        deadline = time.monotonic() + 15
        while "hệ thống trực ban đã nhận" not in page.locator("#forwards").inner_text() and time.monotonic() < deadline:
            page.wait_for_timeout(300)
            page.reload()
        expect(page.locator("#forwards")).to_contain_text("hệ thống trực ban đã nhận, chưa xác nhận")
        assert_readable(page)
        shots(page, "console_forwarded")

        # One click on the first suggestion dispatches the ordinary report.
        first = card(page, ordinary).locator(".suggestion").first
        agency = first.locator(".agency strong").inner_text()
        first.get_by_role("button", name=f"Chuyển cho {agency}").click()
        expect(page.locator("#done")).to_contain_text("Đã chuyển phản ánh")
        expect(card(page, ordinary)).to_have_count(0)
        item = c.get(f"/api/dispatch/v1/reports/{ordinary}", "ioc").json()
        assert item["status"] == "dispatched" and item["lead_agency_id"]

        # Report the disputed one to the Steering Committee.
        disputed_card = card(page, disputed)
        disputed_card.get_by_text("Báo cáo Ban Chỉ đạo (các cơ quan chưa thống nhất)").click()
        checks = disputed_card.locator("input[name=candidate_ids][type=checkbox]")
        checks.nth(0).check()
        checks.nth(1).check()
        disputed_card.get_by_label("Lý do báo cáo Ban Chỉ đạo").fill("Sở Giao thông vận tải và UBND phường chưa thống nhất cơ quan chủ trì")
        disputed_card.get_by_role("button", name="Báo cáo Ban Chỉ đạo").click()
        expect(page.locator("#done")).to_contain_text("Đã báo cáo Ban Chỉ đạo")
        expect(page.locator("#escalated")).to_contain_text("Đang chờ Ban Chỉ đạo quyết định: 1")
        assert_readable(page)
        shots(page, "console_after_actions")
    finally:
        context.close()

    fake_desk = (paht_console.data / "dev-outbox" / "emergency.jsonl").read_text(encoding="utf-8").splitlines()
    received = [(d["report_id"], d["service"], d["note"]) for d in map(json.loads, fake_desk)]
    assert received == [(urgent, "114", "Cháy kho hàng, khói lớn, chưa rõ người mắc kẹt")]

    # On a phone: the console reads without sideways scrolling.
    context, page = new_page(browser, paht_console.url, PHONE)
    try:
        sign_in(page, "ioc", "/dispatch/console")
        expect(page.get_by_role("heading", level=1)).to_have_text("Phân phối phản ánh (bước 2)")
        expect(page.locator("#forwards")).to_contain_text("114")
        assert_readable(page)
        shots(page, "console_phone")
    finally:
        context.close()

    # A Steering Committee member decides on a phone.
    context, page = new_page(browser, paht_console.url, PHONE)
    try:
        sign_in(page, "bcd", "/dispatch/steering")
        expect(page.get_by_role("heading", level=1)).to_have_text("Ban Chỉ đạo: giao cơ quan chủ trì")
        disputed_card = card(page, disputed)
        expect(disputed_card).to_contain_text("chưa thống nhất cơ quan chủ trì")
        assert_readable(page)
        shots(page, "steering_phone")
        disputed_card.get_by_role("radio").first.check()
        decision = "Ban Chỉ đạo giao cơ quan này chủ trì xử lý việc lấn chiếm vỉa hè."
        disputed_card.get_by_label("Nội dung quyết định của Ban Chỉ đạo").fill(decision)
        disputed_card.get_by_role("button", name="Giao chủ trì").click()
        expect(page.locator("#done")).to_contain_text("Đã giao cơ quan chủ trì")
        expect(page.locator("#steering-empty")).to_be_visible()
        assert_readable(page)
    finally:
        context.close()
    item = c.get(f"/api/dispatch/v1/reports/{disputed}", "ioc").json()
    assert item["status"] == "dispatched"

    # The 114 desk acknowledges on a phone; the IOC's console no longer waits for it.
    context, page = new_page(browser, paht_console.url, PHONE)
    try:
        sign_in(page, "truc114", "/dispatch/emergency")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Trực ban khẩn cấp")
        expect(page.get_by_role("navigation", name="Điều hướng chính").get_by_role("link", name="Trực ban khẩn cấp")).to_be_visible()
        expect(page.locator("main")).to_contain_text("Cháy kho hàng, khói lớn, chưa rõ người mắc kẹt")
        assert_readable(page)
        shots(page, "emergency_desk_phone")
        page.get_by_label("Ghi chú (ví dụ: đã điều xe)").fill("Đã điều 2 xe chữa cháy")
        page.get_by_role("button", name="Xác nhận đã tiếp nhận").click()
        expect(page.locator("#done")).to_contain_text("Đã xác nhận")
        expect(page.locator("#desk-empty")).to_be_visible()
    finally:
        context.close()
    forwards = c.get(f"/api/dispatch/v1/reports/{urgent}/emergency", "ioc").json()["items"]
    assert [(f["service"], f["state"], f["acknowledged_by"]) for f in forwards] == [("114", "acknowledged", "truc114")]


def test_the_console_in_english_and_a_polite_403_for_other_roles(paht_console, browser, shots):  # noqa: F811
    context, page = new_page(browser, paht_console.url, DESK, locale="en-GB")
    try:
        sign_in_en(page, "canbo")
        page.goto("/dispatch/console")
        expect(page.get_by_role("heading", level=1)).to_have_text("This page is for another role")
        expect(page.locator("main")).to_contain_text("IOC operator")
        assert_readable(page)
        shots(page, "console_forbidden")
    finally:
        context.close()
    context, page = new_page(browser, paht_console.url, PHONE, locale="en-GB")
    try:
        sign_in_en(page, "ioc")
        page.goto("/dispatch/console")
        expect(page.get_by_role("heading", level=1)).to_have_text("Dispatch console (step 2)")
        expect(page.locator("#queue-total")).to_be_visible()
        assert_readable(page)
        shots(page, "console_phone_en")
    finally:
        context.close()


def sign_in_en(page, username: str) -> None:
    page.goto("/auth/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("main").get_by_role("button", name=re.compile("Sign in|Staff login|Log in")).click()
    expect(page.get_by_role("button", name=re.compile("Sign out|Log out"))).to_be_visible()


def test_the_deadlines_board_for_the_steering_committee_on_a_phone_and_the_ioc_on_a_desk(paht_console, browser, shots):  # noqa: F811
    """Every running clock with its standing, per step and per organisation, filterable; one report's every deadline."""
    c = Client(paht_console.url)
    rid = accepted_report(c, "Cây đổ chắn ngang đường Quang Trung", "traffic-safety")
    c.wait_for(f"/api/dispatch/v1/reports/{rid}/clocks", "ioc", check=lambda r: r.status_code == 200 and bool(r.json()["clocks"]))
    context, page = new_page(browser, paht_console.url, PHONE)
    try:
        sign_in(page, "bcd", "/dispatch/sla")
        page.goto("/dispatch/sla?by=step&only=open")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Thời hạn xử lý")
        row = page.locator("#sla-groups tbody tr").filter(has_text="tiếp nhận và chuyển xử lý")
        expect(row).to_have_count(1)
        expect(page.locator("#sla-items")).to_contain_text("trong hạn")
        assert_readable(page)
        shots(page, "sla_board_phone")
    finally:
        context.close()
    context, page = new_page(browser, paht_console.url, DESK)
    try:
        sign_in(page, "ioc", "/dispatch/sla")
        page.goto(f"/dispatch/sla?by=org&only=open&report={rid}")
        expect(page.locator("#report-clocks")).to_be_visible()
        expect(page.locator("main")).to_contain_text("Trung tâm Giám sát")  # the IOC holds step 2's clock
        page.get_by_label("Bước").select_option("dispatch")
        page.get_by_role("button", name="Lọc").click()
        expect(page).to_have_url(re.compile(r"step=dispatch"))
        assert_readable(page)
        shots(page, "sla_board_desk")
    finally:
        context.close()


def test_the_administrator_adds_a_day_off_to_the_business_calendar_on_a_phone(paht_console, browser, shots):  # noqa: F811
    context, page = new_page(browser, paht_console.url, PHONE)
    try:
        sign_in(page, "admin", "/dispatch/admin/calendar")
        page.goto("/dispatch/admin/calendar")
        expect(page.get_by_role("heading", level=1)).to_have_text("Lịch làm việc")
        box = page.get_by_label("Toàn bộ lịch làm việc (YAML hoặc JSON)")
        box.fill("version: 1\ndays:\n- {day: '2026-12-31', kind: 'off', name: 'Nghỉ cuối năm (thử)', org_id: ''}\n")
        page.get_by_label("Ghi chú (lý do)").fill("Thông báo của UBND tỉnh")
        page.get_by_role("button", name="Lưu thành phiên bản mới").click()
        expect(page.locator(".flash-success")).to_contain_text("Đã lưu phiên bản")
        expect(page.locator("#calendar-days")).to_contain_text("Nghỉ cuối năm (thử)")
        assert_readable(page)
        shots(page, "admin_calendar_phone")
    finally:
        context.close()


class _StopAt(Exception):
    """Ends a walkthrough at a step, leaving the report there."""


def walk_until(url: str, last: str) -> str:
    from paht.runtime.walkthrough import walk

    seen: dict = {}

    def stop(name, w):
        seen["rid"] = w.report_id
        if name == last:
            raise _StopAt(name)

    with pytest.raises(_StopAt):
        walk(url, PASSWORD, on_step=stop)
    return seen["rid"]


def test_the_handling_list_and_the_step_8_queue_show_the_running_deadline_and_its_standing(paht_console, browser, shots):  # noqa: F811
    c = Client(paht_console.url)
    drafted = walk_until(paht_console.url, "drafted")
    approved = walk_until(paht_console.url, "approved")
    c.wait_for(f"/api/handling/v1/cases/{drafted}", "truongphong", check=lambda r: r.json().get("approval_due"))
    context, page = new_page(browser, paht_console.url, DESK)
    try:
        sign_in(page, "truongphong", "/handling/")
        page.goto("/handling/")
        row = page.locator("tr").filter(has_text=drafted)
        expect(row.locator(".standing")).to_have_text("trong hạn")  # step 7: 1 working day, just started
        expect(page.locator("tr").filter(has_text=approved)).to_have_count(0)  # with the IOC now: not in hand in the unit
        assert_readable(page)
        shots(page, "handling_list_desk")
        page.goto("/handling/?scope=finished")
        expect(page.locator("tr").filter(has_text=approved)).to_have_count(1)
        expect(page.locator("tr").filter(has_text=approved).locator(".standing")).to_have_count(0)  # no clock of the unit's
    finally:
        context.close()
    c.wait_for("/api/publication/v1/queue", "bientap", check=lambda r: approved in r.text)
    context, page = new_page(browser, paht_console.url, PHONE)
    try:
        sign_in(page, "bientap", "/publication/queue")
        page.goto("/publication/queue")
        card_ = page.locator(f"#r-{approved}")
        expect(card_.locator(".standing")).to_have_text("trong hạn")  # step 8: 1 hour by day, 07:00 after 22:00
        assert_readable(page)
        shots(page, "publication_queue_phone")
    finally:
        context.close()
