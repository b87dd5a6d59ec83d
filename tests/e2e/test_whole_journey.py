"""Real Chromium against `paht up`: one report's whole journey through every role's pages, on each backend.

A citizen on a phone proves their number with the SMS code and sends a report with a photo and a place; the IOC
operator accepts it (step 1) and dispatches it to the Department of Transport (step 2); the department's coordinator
assigns the Infrastructure office (step 3); its leader assigns staff (step 4); the staff member asks the Đồng Hới
ward for support, the ward's coordinator accepts and names its vice-chairman, who answers (step 5); the staff member
drafts the answer on the template (step 6) and the leader approves it (step 7); the IOC's editor publishes it
(step 8); the citizen, in the same phone browser, rates it; and a visitor reads the whole public timeline with each
step's deadline. Only the pages are used, never the API, except the development SMS outbox (the citizen's phone).

Every phase asserts what its person reads and keeps a full-page screenshot in $PAHT_TEST_ARTIFACTS/journey/<backend>/
(else the test's own temporary folder), for people to look at.
"""
from __future__ import annotations

import os
import re
import time
import uuid
from pathlib import Path

import pytest
from playwright import sync_api

from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS, DESK, TRACKING_CODE
from tests.e2e.test_dispatch_console import sign_in
from tests.e2e.test_intake_pages import TILE, TILES, new_phone, verify_phone

expect = sync_api.expect
pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PHONE = {"width": 390, "height": 844}
# catalog keys of every service's pages: one left raw on a page is a missing translation
RAW_KEY = re.compile(r"\b(?:app|nav|lang|footer|form|track|status|rating|timeline|error|login|intake|js|queue|list|publication"
                     r"|handling|console|dispatch|feedback|sla)\.[a-z_]+\b")
AGENCY = "Sở Giao thông vận tải"
UNIT = "Phòng Quản lý kết cấu hạ tầng giao thông"
WARD = "Phường Đồng Hới"
TOPIC = "traffic-safety"


class Journey:
    """What the test carries from one person to the next: the report, and where screenshots go."""

    def __init__(self, url: str, shots: Path):
        self.url = url
        self.shots = shots
        self.phone = new_phone()
        self.title = f"Ổ gà lớn trên đường Quang Trung {uuid.uuid4().hex[:4]}"
        self.description = ("Ổ gà sâu khoảng 20 cm giữa làn xe trước số nhà 120 Quang Trung, đã có hai xe máy ngã tối qua; "
                            "trời mưa nước đọng nên không nhìn thấy.")
        self.address = "120 Quang Trung, Đồng Hới"
        self.question = f"Đề nghị UBND phường xác nhận hiện trạng mặt đường và thời gian đọng nước ({uuid.uuid4().hex[:4]})."
        self.support_answer = "Phường xác nhận ổ gà rộng khoảng 1,2 m, sâu 20 cm; nước đọng sau mỗi trận mưa do cống thoát bị lấp."
        self.answer = ("Đơn vị đã vá ổ gà trước số nhà 120 Quang Trung bằng bê tông nhựa nóng và nạo vét cống thoát nước; "
                       "mặt đường đã thông thoáng.")
        self.code = ""
        self.rid = ""
        self.shot_no = 0

    def shot(self, page, name: str) -> Path:
        self.shot_no += 1
        path = self.shots / f"{self.shot_no:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    @property
    def case_path(self) -> str:
        return f"/handling/cases/{self.rid}"


def artifacts(tmp_path: Path, backend: str) -> Path:
    """Screenshots are kept: under $PAHT_TEST_ARTIFACTS (.ci/run sets it and prints it), else in the test's tmp_path."""
    root = Path(os.environ["PAHT_TEST_ARTIFACTS"]) if os.environ.get("PAHT_TEST_ARTIFACTS") else tmp_path
    folder = root / "journey" / backend
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def person(browser, j: Journey, viewport: dict, locale: str = "vi-VN"):
    """A new browser for one person (their own cookies), on a phone or a desk; the map's tiles come from here (no internet)."""
    phone = viewport is PHONE
    context = browser.new_context(base_url=j.url, viewport=viewport, locale=locale, timezone_id="Asia/Ho_Chi_Minh",
                                  is_mobile=phone, has_touch=phone)
    context.set_default_timeout(20_000)  # a loaded machine: every wait ends as soon as the page is ready
    context.route(TILES, lambda route: route.fulfill(status=200, content_type="image/png", body=TILE))
    page = context.new_page()
    page.problems = []
    page.on("console", lambda msg: "Content Security Policy" in msg.text and page.problems.append(f"{page.url}: {msg.text}"))
    page.on("pageerror", lambda exc: page.problems.append(f"{page.url}: {exc}"))
    return context, page


def readable(page) -> None:
    """No raw catalog keys, no sideways scrolling, no CSP violation, no script error."""
    raw = RAW_KEY.findall(page.locator("body").inner_text())
    assert not raw, f"untranslated catalog keys on {page.url}: {raw}"
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px"
    assert not page.problems, page.problems


def settle(page) -> None:
    """Images loaded (the photo, the map's tiles after it moved to the pin), so that a screenshot shows them."""
    page.wait_for_load_state("networkidle")
    page.wait_for_function("Array.from(document.images).every(i => i.complete)"
                           " && !document.querySelector('.leaflet-tile:not(.leaflet-tile-loaded), .leaflet-zoom-anim')")


def reload_until(page, locator, timeout: float = 20.0) -> None:
    """A step's event reaches the next service within moments: reload the page (as a person would) until it shows."""
    deadline = time.monotonic() + timeout
    while not locator.count():
        assert time.monotonic() < deadline, f"{page.url} never showed {locator}"
        page.wait_for_timeout(250)
        page.reload()


def posting(page, action: str):
    """The answer to a form's POST (303: done; 4xx: refused, with the page again)."""
    return page.expect_response(lambda r: r.request.method == "POST" and r.url.split("?")[0].endswith("/" + action))


# ---- the phases


def citizen_reports(browser, j: Journey, photo: Path):
    """The citizen, on a phone: the home page, the app, the SMS code, the report with a photo and a place. Kept open."""
    context, page = person(browser, j, PHONE)
    page.goto("/")
    page.locator("main").get_by_role("link", name="Gửi phản ánh").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Gửi phản ánh")
    verify_phone(page, j.url, j.phone)

    page.get_by_label("Họ và tên").fill("Trần Văn Bình")
    page.get_by_label("Địa chỉ email").fill("binh.tran@example.vn")
    page.get_by_label("Tiêu đề").fill(j.title)
    page.get_by_label("Mô tả sự việc").fill(j.description)
    page.get_by_label("Nhóm nội dung, lĩnh vực").select_option(TOPIC)
    page.get_by_role("textbox", name="Địa chỉ, địa điểm xảy ra sự việc").fill(j.address)
    page.get_by_label("Vĩ độ").fill("17,4683")  # a Vietnamese keyboard's decimal comma
    page.get_by_label("Kinh độ").fill("106,6222")
    page.get_by_label("Kinh độ").dispatch_event("change")
    expect(page.locator("[data-place-message]")).to_be_hidden()  # inside the province
    page.locator("#f-files").set_input_files(photo)
    item = page.locator(".media-item").first
    expect(item).to_contain_text(photo.name)
    expect(item).to_contain_text("Đã tải lên")
    page.get_by_label("Tôi chịu trách nhiệm trước pháp luật").check()
    settle(page)
    readable(page)
    j.shot(page, "citizen-report-filled-phone")

    page.get_by_role("button", name="Gửi phản ánh").click()
    done = page.locator("#done")
    expect(done).to_be_visible()
    expect(page.locator("#tracking-code")).to_have_text(TRACKING_CODE)
    j.code = page.locator("#tracking-code").inner_text()
    readable(page)
    j.shot(page, "citizen-report-sent-phone")

    # "my reports": the report, its code and that it waits for the IOC
    done.get_by_role("link", name="Phản ánh của tôi").click()
    mine = page.locator(".my-report").filter(has_text=j.title)
    expect(mine).to_contain_text(j.code)
    expect(mine).to_contain_text("Chờ tiếp nhận")
    readable(page)
    j.shot(page, "citizen-my-reports-phone")
    return context, page


def ioc_accepts_and_dispatches(browser, j: Journey) -> None:
    """Steps 1 and 2, the IOC operator on a desk: the triage console, then the dispatch console."""
    context, page = person(browser, j, DESK)
    try:
        sign_in(page, "ioc", "/intake/queue")
        row = page.get_by_role("row").filter(has_text=j.title)
        reload_until(page, row)
        expect(row).to_contain_text(j.code)
        expect(row).to_contain_text("Chờ tiếp nhận")
        expect(row.locator("img")).to_have_count(1)  # the photo, at a glance
        row.get_by_role("link").first.click()
        expect(page.get_by_role("heading", level=1)).to_have_text(j.title)
        j.rid = re.search(r"/intake/queue/([^/?#]+)", page.url).group(1)
        main = page.locator("main")
        expect(main).to_contain_text(j.description)
        expect(main).to_contain_text(j.address)
        expect(main.locator(".redact-list img")).to_have_count(1)
        expect(main.locator("#console-map .leaflet-marker-icon")).to_have_count(1)
        expect(main).not_to_contain_text(j.phone)  # the contact only behind the audited button
        accept = page.locator("details.action").filter(has=page.get_by_role("button", name="Tiếp nhận phản ánh"))
        expect(accept.get_by_label("Nhóm nội dung, lĩnh vực")).to_have_value(TOPIC)  # the citizen's choice, kept
        settle(page)
        readable(page)
        j.shot(page, "ioc-step1-console-desk")
        accept.get_by_role("button", name="Tiếp nhận phản ánh").click()
        expect(page.get_by_role("status").first).to_contain_text("Đã tiếp nhận phản ánh")
        expect(main).to_contain_text("Bước 1 của phản ánh này đã xong.")
        readable(page)
        j.shot(page, "ioc-step1-accepted-desk")

        main.get_by_role("link", name="Phân phối phản ánh này (bước 2)").click()  # on to step 2
        expect(page.get_by_role("heading", level=1)).to_have_text("Phân phối phản ánh (bước 2)")
        card = page.locator(f"#r-{j.rid}")
        reload_until(page, card)
        expect(card).to_contain_text(j.title)
        expect(card).to_contain_text("Trật tự, an toàn giao thông")
        expect(card.locator(".time")).to_contain_text("trong hạn")
        suggestion = card.locator(".suggestion").filter(has_text=AGENCY)
        expect(suggestion).to_have_count(1)
        readable(page)
        j.shot(page, "ioc-step2-console-desk")
        suggestion.get_by_role("button", name=f"Chuyển cho {AGENCY}").click()
        expect(page.locator("#done")).to_contain_text("Đã chuyển phản ánh")
        expect(card).to_have_count(0)
        readable(page)
        j.shot(page, "ioc-step2-dispatched-desk")
    finally:
        context.close()


def coordinator_assigns_the_unit(browser, j: Journey) -> None:
    """Step 3, the department's coordinator on a desk: the work list, the case, the lead unit."""
    context, page = person(browser, j, DESK)
    try:
        sign_in(page, "sogtvt", "/handling/")
        row = page.locator("tr").filter(has_text=j.title)
        reload_until(page, row)
        expect(row).to_contain_text("Chờ cơ quan chủ trì tiếp nhận")
        expect(row).to_contain_text("trong hạn")
        row.locator("a.case-link").click()
        expect(page).to_have_url(re.compile(re.escape(j.case_path)))
        expect(page.locator("#case-status")).to_contain_text("Chờ cơ quan chủ trì tiếp nhận")
        expect(page.locator("#case-facts")).to_contain_text(AGENCY)
        expect(page.locator("#clock-agency")).to_contain_text("trong hạn")
        expect(page.locator("#history")).to_contain_text("Trung tâm IOC phân công cơ quan chủ trì")
        # what the citizen reported, where, and the photo (its metadata-free copy, from intake)
        expect(page.locator("#tracking-code")).to_have_text(j.code)
        expect(page.locator("#report-description")).to_have_text(j.description)
        expect(page.locator("#report-place")).to_contain_text(j.address)
        photo = page.locator("#report-photos img")
        expect(photo).to_have_count(1)
        page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=photo.element_handle(), timeout=10_000)  # it loaded
        readable(page)
        j.shot(page, "agency-step3-case-desk")
        form = page.locator("#act-assign-unit")
        form.get_by_label("Đơn vị").select_option(label=UNIT)
        form.get_by_label("Lời nhắn").fill("Đề nghị kiểm tra hiện trường trong ngày.")
        form.get_by_role("button", name="Giao đơn vị chủ trì").click()
        expect(page.locator("#done")).to_contain_text("Cơ quan đầu mối giao đơn vị chủ trì")
        expect(page.locator("#case-status")).to_contain_text("Chờ đơn vị chủ trì tiếp nhận")
        expect(page.locator("#case-facts")).to_contain_text(UNIT)
        expect(page.locator("#act-assign-unit")).to_have_count(0)
        readable(page)
        j.shot(page, "agency-step3-unit-assigned-desk")
    finally:
        context.close()


def leader_assigns_staff(browser, j: Journey) -> None:
    """Step 4, the unit leader on a desk: the hand-over's message, the staff member in charge."""
    context, page = person(browser, j, DESK)
    try:
        sign_in(page, "truongphong", "/handling/")
        row = page.locator("tr").filter(has_text=j.title)
        expect(row).to_contain_text("Chờ đơn vị chủ trì tiếp nhận")
        row.locator("a.case-link").click()
        expect(page.locator("#handover")).to_contain_text("Đề nghị kiểm tra hiện trường trong ngày.")
        form = page.locator("#act-assign-staff")
        form.get_by_label("Tài khoản cán bộ").select_option("canbo")
        form.get_by_label("Lời nhắn").fill("Anh Tuấn kiểm tra, xử lý và báo cáo trong tuần.")
        readable(page)
        j.shot(page, "unit-step4-assign-desk")
        form.get_by_role("button", name="Giao cán bộ xử lý").click()
        expect(page.locator("#done")).to_contain_text("Lãnh đạo đơn vị giao cán bộ xử lý")
        expect(page.locator("#case-status")).to_contain_text("Đang xử lý")
        expect(page.locator("#case-facts")).to_contain_text("Hoàng Minh Tuấn")
        readable(page)
        j.shot(page, "unit-step4-assigned-desk")
    finally:
        context.close()


def support_from_the_ward(browser, j: Journey) -> None:
    """Step 5: the staff member asks the ward on a phone; the ward's coordinator accepts and names a person, who answers,
    each on a phone; the staff member reads the answer on the case page."""
    staff_context, staff = person(browser, j, PHONE)
    try:
        sign_in(staff, "canbo", "/handling/")
        staff.locator("tr").filter(has_text=j.title).locator("a.case-link").click()
        expect(staff.locator("#case-status")).to_contain_text("Đang xử lý")
        expect(staff.locator("#handover")).to_contain_text("Anh Tuấn kiểm tra")
        staff.locator("#act-support summary").click()
        form = staff.locator("#act-support")
        form.get_by_label("Cơ quan, đơn vị được đề nghị").select_option(label=WARD)
        form.get_by_label("Nội dung đề nghị phối hợp").fill(j.question)
        readable(staff)
        j.shot(staff, "staff-step5-ask-support-phone")
        form.get_by_role("button", name="Gửi đề nghị phối hợp").click()
        expect(staff.locator("#done")).to_contain_text("Đơn vị chủ trì đề nghị phối hợp, hỗ trợ")
        asked = staff.locator("#support .support-item").filter(has_text=j.question)
        expect(asked).to_contain_text(WARD)
        expect(asked).to_contain_text("Đã gửi đề nghị phối hợp")

        ward_context, ward = person(browser, j, PHONE)
        try:
            sign_in(ward, "donghoi", "/handling/")
            ward.locator("#support-inbox-link").click()
            inbox = ward.locator("#support-inbox")
            expect(inbox).to_contain_text(j.question)
            readable(ward)
            j.shot(ward, "ward-step5-support-inbox-phone")
            inbox.locator("li, tr").filter(has_text=j.question).locator("a.support-link").first.click()
            expect(ward.locator("#support-status")).to_contain_text("Đã gửi đề nghị phối hợp")
            expect(ward.locator("#support-facts")).to_contain_text(UNIT)
            expect(ward.locator("#support-question")).to_have_text(j.question)
            accept = ward.locator("#act-accept")
            accept.get_by_label("Tài khoản cán bộ").select_option("phuong")
            readable(ward)
            j.shot(ward, "ward-step5-support-request-phone")
            accept.get_by_role("button", name="Tiếp nhận và giao cán bộ").click()
            expect(ward.locator("#done")).to_contain_text("Cơ quan, đơn vị phối hợp tiếp nhận và giao cán bộ")
            expect(ward.locator("#support-status")).to_contain_text("Đã tiếp nhận, đang phối hợp")
            expect(ward.locator("#act-answer")).to_have_count(0)  # the person named answers, not the coordinator
        finally:
            ward_context.close()

        ward_context, ward = person(browser, j, PHONE)
        try:
            sign_in(ward, "phuong", "/handling/support")
            item = ward.locator("#support-inbox").locator("li, tr").filter(has_text=j.question)
            expect(item).to_contain_text("Đã tiếp nhận, đang phối hợp")
            item.locator("a.support-link").first.click()
            answer = ward.locator("#act-answer")
            answer.get_by_label("Nội dung phối hợp, hỗ trợ").fill(j.support_answer)
            answer.get_by_role("button", name="Gửi đơn vị chủ trì").click()
            expect(ward.locator("#done")).to_contain_text("Cơ quan, đơn vị phối hợp cung cấp thông tin")
            expect(ward.locator("#support-status")).to_contain_text("Đã phối hợp, hỗ trợ")
            expect(ward.locator("#support-answer")).to_have_text(j.support_answer)
            readable(ward)
            j.shot(ward, "ward-step5-answered-phone")
        finally:
            ward_context.close()

        staff.reload()
        asked = staff.locator("#support .support-item").filter(has_text=j.question)
        expect(asked).to_contain_text("Đã phối hợp, hỗ trợ")
        expect(asked).to_contain_text(j.support_answer)
        expect(staff.locator("#history")).to_contain_text("Cơ quan, đơn vị phối hợp cung cấp thông tin")
        readable(staff)
        j.shot(staff, "staff-step5-support-answered-phone")
    finally:
        staff_context.close()


def staff_drafts_and_leader_approves(browser, j: Journey) -> None:
    """Step 6, the staff member on a phone drafts the answer on the template; step 7, the leader approves on a desk."""
    context, page = person(browser, j, PHONE)
    try:
        sign_in(page, "canbo", j.case_path)
        draft = page.locator("#act-draft")
        draft.get_by_label("Nội dung trả lời").fill(j.answer)
        draft.get_by_label("Lời nhắn gửi lãnh đạo đơn vị").fill("Kính trình chị duyệt.")
        with posting(page, "draft") as answer:
            draft.get_by_role("button", name="Báo cáo kết quả, trình duyệt").click()
        assert answer.value.status == 303
        expect(page.locator("#done")).to_contain_text("Cán bộ báo cáo kết quả kèm dự thảo trả lời")
        expect(page.locator("#case-status")).to_contain_text("Dự thảo chờ duyệt")
        letter = page.locator("#answer")
        expect(letter).to_contain_text("Kính gửi")
        expect(letter).to_contain_text(j.answer)
        expect(letter).to_contain_text(UNIT)
        expect(page.locator("#clock-approval")).to_contain_text("trong hạn")
        readable(page)
        j.shot(page, "staff-step6-drafted-phone")
    finally:
        context.close()

    context, page = person(browser, j, DESK)
    try:
        sign_in(page, "truongphong", "/handling/")
        row = page.locator("tr").filter(has_text=j.title)
        expect(row).to_contain_text("Dự thảo chờ duyệt")
        row.locator("a.case-link").click()
        expect(page.locator("#handover")).to_contain_text("Kính trình chị duyệt.")
        expect(page.locator("#support")).to_contain_text(j.support_answer)
        approve = page.locator("#act-approve")
        expect(approve.get_by_label("Nội dung trả lời")).to_have_value(j.answer)
        approve.get_by_label("Lời nhắn gửi Trung tâm IOC").fill("Đề nghị công khai kết quả.")
        readable(page)
        j.shot(page, "unit-step7-approve-desk")
        approve.get_by_role("button", name="Phê duyệt, chuyển Trung tâm IOC").click()
        expect(page.locator("#done")).to_contain_text("Lãnh đạo đơn vị phê duyệt, chuyển Trung tâm IOC")
        expect(page.locator("#case-status")).to_contain_text("Đã duyệt, chờ Trung tâm IOC")
        expect(page.locator("#actions")).to_have_count(0)
        history = page.locator("#history")
        for label in ("Trung tâm IOC phân công cơ quan chủ trì", "Cơ quan đầu mối giao đơn vị chủ trì", "Lãnh đạo đơn vị giao cán bộ xử lý",
                      "Đơn vị chủ trì đề nghị phối hợp, hỗ trợ", "Cơ quan, đơn vị phối hợp tiếp nhận và giao cán bộ",
                      "Cơ quan, đơn vị phối hợp cung cấp thông tin", "Cán bộ báo cáo kết quả kèm dự thảo trả lời",
                      "Lãnh đạo đơn vị phê duyệt, chuyển Trung tâm IOC"):
            expect(history).to_contain_text(label)
        readable(page)
        j.shot(page, "unit-step7-approved-desk")
    finally:
        context.close()


def editor_publishes(browser, j: Journey) -> None:
    """Step 8, the IOC's editor on a desk: the letter in the queue, published."""
    context, page = person(browser, j, DESK)
    try:
        sign_in(page, "bientap", "/publication/queue")
        card = page.locator(f"#r-{j.rid}")
        reload_until(page, card)
        expect(card).to_contain_text(j.title)
        expect(card).to_contain_text(j.code)
        expect(card).to_contain_text(AGENCY)
        expect(card).to_contain_text(UNIT)
        expect(card.locator(".standing")).to_have_text("trong hạn")
        letter = card.get_by_label("Thư trả lời theo mẫu (biên tập trước khi công khai)")
        expect(letter).to_have_value(re.compile(r"^Kính gửi: Quý"))
        expect(letter).to_have_value(re.compile(re.escape(j.answer)))
        readable(page)
        j.shot(page, "ioc-step8-queue-desk")
        with posting(page, "publish") as answer:
            card.get_by_role("button", name="Công khai kết quả").click()
        assert answer.value.status == 303
        expect(card).to_have_count(0)
        done = page.locator("#done")  # which answer went out, and a way to see it as the public does
        expect(done).to_contain_text("Đã công khai kết quả")
        expect(done).to_contain_text(j.title)
        expect(done).to_contain_text(j.code)
        expect(done.get_by_role("link", name="Xem trang công khai của phản ánh")).to_have_attribute("href", f"/reports/{j.rid}")
        readable(page)
        j.shot(page, "ioc-step8-published-desk")
    finally:
        context.close()


def citizen_rates(page, j: Journey) -> None:
    """The citizen, on the same phone: from "my reports" to the report's page, where they rate the answer."""
    page.get_by_role("navigation", name="Điều hướng chính").get_by_role("link", name="Phản ánh của tôi").click()
    mine = page.locator(".my-report").filter(has_text=j.title)
    expect(mine).to_contain_text(j.code)
    expect(mine).to_contain_text("Đã tiếp nhận")
    expect(mine).not_to_contain_text("Hạn Trung tâm IOC tiếp nhận")  # step 1's deadline is long past its use
    readable(page)
    j.shot(page, "citizen-my-reports-after-phone")
    mine.get_by_role("link", name="Xem quá trình xử lý, kết quả và đánh giá").click()
    expect(page).to_have_url(re.compile(rf"/reports/{re.escape(j.rid)}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(j.title)
    expect(page.locator("main")).to_contain_text("Đã công khai kết quả")
    expect(page.locator("#answer")).to_contain_text(j.answer)
    section = page.locator("#feedback")
    expect(section).to_contain_text("Ý kiến của bạn về kết quả")
    section.get_by_label("Hài lòng", exact=True).check()
    section.get_by_label("Ý kiến (không bắt buộc)").fill("Đường đã vá phẳng, cảm ơn đơn vị.")
    readable(page)
    j.shot(page, "citizen-rate-phone")
    section.get_by_role("button", name="Gửi đánh giá").click()
    expect(page.locator("#feedback-done")).to_contain_text("Cảm ơn bạn đã đánh giá")
    expect(page.locator("#my-rating")).to_contain_text("Hài lòng")
    expect(page.locator("#my-rating")).to_contain_text("Đường đã vá phẳng")
    readable(page)
    j.shot(page, "citizen-rated-phone")


def visitor_reads_the_timeline(browser, j: Journey) -> None:
    """Anyone, on a phone: the report from the home page, its answer and its whole timeline with each step's deadline."""
    context, page = person(browser, j, PHONE)
    try:
        page.goto("/")
        item = page.locator("main li").filter(has_text=j.title).first
        expect(item).to_contain_text("Đã công khai kết quả")
        item.get_by_role("link", name=j.title).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(j.title)
        main = page.locator("main")
        expect(main).to_contain_text("Đã công khai kết quả")
        expect(main.locator("#tracking-code")).to_have_text(j.code)
        expect(main).to_contain_text(AGENCY)
        expect(main.locator("#lead-unit")).to_have_text(UNIT)
        expect(main.locator("#answer")).to_contain_text(j.answer)
        for secret in (j.phone, "Trần Văn Bình", "binh.tran@example.vn", "Đường đã vá phẳng"):
            expect(main).not_to_contain_text(secret)  # nor the reporter, nor their comment
        expect(page.locator("#feedback")).to_have_count(0)  # the reporter's own section: not for a visitor
        photo = main.locator("#photos img")  # the citizen's photo, as the IOC left it public (its metadata-free copy)
        expect(photo).to_have_count(1)
        page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=photo.element_handle(), timeout=10_000)  # it loaded

        timeline = main.locator("ol.timeline > li")
        steps = [("submitted", "Gửi phản ánh", None), ("accepted", "Trung tâm IOC tỉnh tiếp nhận", None),
                 ("dispatched", "Phân phối cho cơ quan đầu mối xử lý", AGENCY), ("assigned", "Phân công đơn vị, cán bộ xử lý", UNIT),
                 ("drafted", "Báo cáo kết quả và dự thảo nội dung trả lời", None), ("approved", "Lãnh đạo đơn vị phê duyệt kết quả", None),
                 ("published", "Công khai kết quả xử lý", None)]
        for kind, label, note in steps:
            entry = main.locator(f"ol.timeline > li.tl-{kind}")
            expect(entry).to_have_count(1)
            expect(entry.locator(".tl-label")).to_have_text(label)
            if note:
                expect(entry.locator(".tl-note")).to_have_text(note)
        # each step that ended carries its deadline and whether it was met
        for kind, step in (("dispatched", "Bước 1–2"), ("assigned", "Bước 3:"), ("drafted", "Bước 3–6"), ("approved", "Bước 7"),
                           ("published", "Bước 8")):
            deadline = main.locator(f"ol.timeline > li.tl-{kind} .tl-deadline")
            expect(deadline).to_contain_text(step)
            expect(deadline).to_contain_text(re.compile(r"hạn: \d\d:\d\d \d\d/\d\d/\d{4}"))
            expect(deadline.locator(".badge")).to_have_text("Đúng hạn")
        expect(main.locator("ol.timeline .tl-deadline")).to_have_count(5)
        expect(main.locator("#open-deadlines")).to_have_count(0)  # nothing left running
        assert timeline.count() >= len(steps)
        readable(page)
        j.shot(page, "visitor-report-timeline-phone")
    finally:
        context.close()


@pytest.fixture
def photo(tmp_path) -> Path:
    """A photo as a phone takes it: a JPEG of the pothole."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (1024, 768), (120, 124, 128))
    draw = ImageDraw.Draw(img)
    draw.ellipse([330, 260, 700, 520], fill=(45, 42, 40))
    draw.line([(0, 600), (1024, 560)], fill=(240, 240, 240), width=12)
    path = tmp_path / "o-ga-120-quang-trung.jpg"
    img.save(path, "JPEG", quality=82)
    return path


def test_one_report_goes_through_every_role_s_pages_from_the_phone_to_the_public_timeline(paht, request, tmp_path, photo):
    backend = request.node.callspec.params["paht"]
    j = Journey(paht.url, artifacts(tmp_path, backend))
    t0 = time.monotonic()
    # Playwright runs inside the test, so that its loop is gone before the `paht` fixture cleans the backend up
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            citizen_context, citizen = citizen_reports(browser, j, photo)
            try:
                ioc_accepts_and_dispatches(browser, j)
                coordinator_assigns_the_unit(browser, j)
                leader_assigns_staff(browser, j)
                support_from_the_ward(browser, j)
                staff_drafts_and_leader_approves(browser, j)
                editor_publishes(browser, j)
                citizen_rates(citizen, j)
            finally:
                citizen_context.close()
            visitor_reads_the_timeline(browser, j)
        finally:
            browser.close()
    print(f"\nthe whole journey on {backend}: {time.monotonic() - t0:.1f} s (paht up: {paht.started_in:.1f} s); screenshots in {j.shots}")
