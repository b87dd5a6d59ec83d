"""Real Chromium against `paht up`: intake's pages, on a phone (360x740) and on a desk (1280x800).

A citizen proves a phone with the SMS code (read from the development outbox, as a person reads their
phone), writes a report, pins it on the map, attaches a photo and sends it; the same with no connection
(kept on the phone, sent once when the connection returns, even when an answer is lost on the way); the
page without JavaScript; "my reports" with the edit the IOC asked for and a reply; the call centre's form;
the IOC's step 1 console. Every page is read for raw catalog keys, sideways scrolling and
Content-Security-Policy violations; screenshots go to test-artifacts/screenshots/intake-*.png
(PAHT_REFRESH_SCREENSHOTS=1 copies them to docs/screenshots).
"""
from __future__ import annotations

import io
import re
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from paht.runtime.walkthrough import reporter_sign_in
from playwright import sync_api
from tests.e2e.harness import BACKENDS, Client, backend_env, cleanup_backend, start_paht, stop_paht
from tests.e2e.test_browser import DESK, PHONE, TRACKING_CODE, browser, shots  # noqa: F401  (fixtures)

expect = sync_api.expect

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
PASSWORD = "paht-demo"
RAW_KEY = re.compile(r"\b(?:intake|js|queue|form|status|nav|track|timeline|error|list|publication|lang|footer)\.[a-z_-]+\b")
TILES = re.compile(r"https://([a-z]\.)?tile\.openstreetmap\.org/.*")


def _tile() -> bytes:
    """A plain map tile: the test machine has no internet, and the map must still look like a map."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (256, 256), (242, 239, 233))
    draw = ImageDraw.Draw(img)
    draw.line([(0, 140), (256, 120)], fill=(255, 255, 255), width=7)
    draw.line([(90, 0), (110, 256)], fill=(255, 255, 255), width=5)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


TILE = _tile()


@pytest.fixture(scope="module", params=BACKENDS)
def site(request, tmp_path_factory):
    """One `paht up` per backend for the module (embedded always; PostgreSQL + NATS when configured)."""
    tag = "i" + uuid.uuid4().hex[:8]
    data = tmp_path_factory.mktemp("intake-pages") / "data"
    running = start_paht(data, backend_env(request.param, tag))
    running.backend = request.param
    yield running
    stop_paht(running)
    cleaner = threading.Thread(target=cleanup_backend, args=(request.param, tag))  # Playwright's loop may still run in this one
    cleaner.start()
    cleaner.join(timeout=60)


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    """A JPEG as a phone takes it: with the camera's GPS position in its EXIF."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (1200, 900), (96, 125, 139))
    ImageDraw.Draw(img).ellipse([350, 250, 850, 650], fill=(60, 60, 60))
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (17.0, 28.0, 5.0), 3: "E", 4: (106.0, 37.0, 20.0)}
    path = tmp_path_factory.mktemp("photos") / "o-ga-quang-trung.jpg"
    img.save(path, "JPEG", quality=80, exif=exif)
    return path


class Seen:
    """What the browser said while a page was open: CSP violations, script errors."""

    def __init__(self):
        self.csp: list[str] = []
        self.errors: list[str] = []


def open_page(browser, base_url: str, viewport: dict, *, js: bool = True, lang: str = "vi-VN"):  # noqa: F811  (the fixture, passed on)
    context = browser.new_context(base_url=base_url, viewport=viewport, locale=lang, java_script_enabled=js,
                                  is_mobile=viewport is PHONE, has_touch=viewport is PHONE)
    context.set_default_timeout(20_000)  # a loaded CI machine: waits end as soon as the page is ready
    context.route(TILES, lambda route: route.fulfill(status=200, content_type="image/png", body=TILE))
    page = context.new_page()
    seen = Seen()
    page.on("console", lambda msg: "Content Security Policy" in msg.text and seen.csp.append(f"{page.url}: {msg.text}"))
    page.on("pageerror", lambda exc: seen.errors.append(f"{page.url}: {exc}"))
    page.seen = seen
    return context, page


def assert_readable(page) -> None:
    """No raw catalog keys, no sideways scrolling, no CSP violation, no script error."""
    text = page.locator("body").inner_text()
    raw = RAW_KEY.findall(text)
    assert not raw, f"untranslated catalog keys on {page.url}: {raw}"
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px"
    assert not page.seen.csp, page.seen.csp
    assert not page.seen.errors, page.seen.errors


def settle(page) -> None:
    """Wait until the page's images (photos, tiles, the pin) are loaded, so that a screenshot shows them."""
    page.wait_for_load_state("networkidle")
    page.wait_for_function("Array.from(document.images).every(i => i.complete)")


def sms_code(base_url: str, phone: str) -> str:
    """The code of the last SMS to this phone, from the development outbox (the embedded run's stand-in for the phone)."""
    deadline = time.monotonic() + 10
    while True:
        items = httpx.get(f"{base_url}/api/intake/v1/dev/sms", params={"phone": phone}, timeout=5).json().get("items", [])
        items = [m for m in items if m.get("purpose") == "otp"]  # the reporter's notices go to the same phone
        if items and items[0].get("code"):
            return items[0]["code"]
        assert time.monotonic() < deadline, f"no SMS reached {phone}"
        time.sleep(0.1)


def verify_phone(page, base_url: str, phone: str) -> None:
    """Step 1 of the citizen app: the number, the SMS, the code."""
    page.get_by_role("textbox", name="Số điện thoại").fill(phone)
    page.get_by_role("button", name="Gửi mã xác thực").click()
    expect(page.locator("#code-form")).to_contain_text("Đã gửi mã đến số " + phone[:2] + "xxxxx" + phone[-3:])
    page.get_by_label("Mã xác thực (6 chữ số)").fill(sms_code(base_url, phone))
    page.get_by_role("button", name="Xác nhận").click()
    expect(page.locator("#verified")).to_contain_text("Đã xác thực số điện thoại")


def fill_report(page, title: str, *, address: str = "45 Lý Thường Kiệt, Đồng Hới") -> None:
    page.get_by_label("Họ và tên").fill("Trần Văn Bình")
    page.get_by_label("Địa chỉ email").fill("binh.tran@example.vn")
    page.get_by_label("Tiêu đề").fill(title)
    page.get_by_label("Mô tả sự việc").fill("Ba cột đèn chiếu sáng công cộng liền nhau trước trường tiểu học không sáng từ tối thứ Hai, "
                                            "đoạn đường rất tối và nguy hiểm cho học sinh.")
    page.get_by_role("textbox", name="Địa chỉ, địa điểm xảy ra sự việc").fill(address)
    page.get_by_label("Tôi chịu trách nhiệm trước pháp luật").check()


def new_phone() -> str:
    return "09" + f"{uuid.uuid4().int % 10**8:08d}"


def staff(site) -> Client:
    c = Client(site.url)
    c.sign_in("ioc")
    return c


def waiting_with_title(c: Client, title: str) -> list[dict]:
    """The reports of step 1's work list with this title (the list is short in a test run: one page)."""
    items = c.get("/api/intake/v1/reports?limit=100", "ioc").json()["items"]
    return [r for r in items if r["title"] == title]


def sign_in_staff(page, next_path: str) -> None:
    page.goto(f"/auth/login?next={next_path}")
    page.get_by_label("Tên đăng nhập").fill("ioc")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.locator("main").get_by_role("button", name="Đăng nhập").click()
    expect(page.get_by_role("button", name="Đăng xuất")).to_be_visible()


# ---- the citizen app


def test_a_citizen_verifies_the_phone_and_sends_a_report_with_a_pin_and_a_photo(site, browser, shots, photo):  # noqa: F811
    phone = new_phone()
    context, page = open_page(browser, site.url, PHONE)
    try:
        page.goto("/intake/report")
        expect(page.get_by_role("heading", level=1)).to_have_text("Gửi phản ánh")
        expect(page.get_by_role("heading", name="1. Xác thực số điện thoại")).to_be_visible()
        expect(page.locator("link[rel=manifest]")).to_have_attribute("href", "/static/intake/app.webmanifest")
        settle(page)
        assert_readable(page)
        shots(page, "intake-report-phone")

        # a wrong number is refused in words, next to the field
        page.get_by_role("textbox", name="Số điện thoại").fill("12345")
        page.get_by_role("button", name="Gửi mã xác thực").click()
        expect(page.locator("#verify [role=alert]")).to_contain_text("Số điện thoại phải là số Việt Nam")

        verify_phone(page, site.url, phone)
        title = f"Đèn đường hỏng trên đường Lý Thường Kiệt {uuid.uuid4().hex[:4]}"
        fill_report(page, title)
        # the topic is suggested from what was typed; a tap picks it
        chip = page.locator(".suggestions .chip").first
        expect(chip).to_be_visible()
        picked = chip.inner_text()
        chip.click()
        expect(page.get_by_label("Nhóm nội dung, lĩnh vực")).to_have_value(re.compile(r".+"))
        # a pin on the map fills the coordinates; a pin outside the province is refused in the server's words at once
        page.get_by_label("Vĩ độ").fill("21.0285")
        page.get_by_label("Kinh độ").fill("105.8542")
        page.get_by_label("Kinh độ").dispatch_event("change")
        expect(page.locator("[data-place-message]")).to_contain_text("ngoài địa bàn tỉnh")
        page.get_by_label("Vĩ độ").fill("17,4680")  # a Vietnamese keyboard's decimal comma
        page.get_by_label("Kinh độ").fill("106.6220")
        page.get_by_label("Kinh độ").dispatch_event("change")
        expect(page.locator("[data-place-message]")).to_be_hidden()
        page.locator("#map").click(position={"x": 160, "y": 110})
        expect(page.get_by_label("Vĩ độ")).to_have_value(re.compile(r"^1[67]\.\d{6}$"))
        expect(page.locator("[data-place-message]")).to_be_hidden()
        # a photo is uploaded as soon as it is chosen, with its preview
        page.locator("#f-files").set_input_files(photo)
        item = page.locator(".media-item").first
        expect(item).to_contain_text("o-ga-quang-trung.jpg")
        expect(item).to_contain_text("Đã tải lên")
        settle(page)
        assert_readable(page)
        shots(page, "intake-report-filled")

        page.get_by_role("button", name="Gửi phản ánh").click()
        done = page.locator("#done")
        expect(done).to_be_visible()
        code = page.locator("#tracking-code").inner_text()
        assert TRACKING_CODE.fullmatch(code), code
        expect(done.get_by_role("link", name="Xem tình trạng xử lý")).to_have_attribute("href", f"/track?code={code}")
        assert_readable(page)
        shots(page, "intake-report-done")

        # what the server stored: the web channel, the phone proved by SMS, the pin, the photo, the chosen topic
        mine = page.request.get("/api/intake/v1/me/reports").json()["items"]
        (report,) = [r for r in mine if r["tracking_code"] == code]
        detail = page.request.get(f"/api/intake/v1/me/reports/{report['id']}").json()
        assert detail["title"] == title and detail["location"]["lat"] > 16
        assert len(detail["media"]) == 1 and detail["topic_code"]
        seen = staff(site).get(f"/api/intake/v1/reports/{report['id']}", "ioc").json()
        assert (seen["channel"], seen["verification"]) == ("web", "otp")
        assert picked  # the suggestion the reporter tapped had a name
        # the draft is gone from the phone once sent; the form is empty for the next report
        done.get_by_role("button", name="Gửi phản ánh khác").click()
        expect(page.get_by_label("Tiêu đề")).to_have_value("")
        expect(page.get_by_label("Họ và tên")).to_have_value("Trần Văn Bình")  # remembered on the phone
    finally:
        context.close()


def test_a_report_written_offline_is_kept_on_the_phone_and_stored_once(site, browser, shots):  # noqa: F811
    phone = new_phone()
    title = f"Rác thải đổ trộm ven sông Nhật Lệ {uuid.uuid4().hex[:4]}"
    context, page = open_page(browser, site.url, PHONE)
    try:
        page.goto("/intake/report")
        verify_phone(page, site.url, phone)
        page.wait_for_function("navigator.serviceWorker && navigator.serviceWorker.controller !== null", timeout=15_000)

        context.set_offline(True)
        fill_report(page, title, address="Chân cầu Nhật Lệ 2, Đồng Hới")
        page.get_by_role("button", name="Gửi phản ánh").click()
        queued = page.locator("#queued")
        expect(queued).to_contain_text("Phản ánh đã được lưu trên điện thoại này và sẽ tự động gửi khi có mạng")
        expect(page.locator("#outbox")).to_contain_text(title)
        assert_readable(page)
        shots(page, "intake-offline-saved")

        # the app starts without a connection (the service worker's copy) and still holds the report
        page.reload()
        expect(page.get_by_role("heading", level=1)).to_have_text("Gửi phản ánh")
        expect(page.locator("#offline-banner")).to_be_visible()
        expect(page.locator("#outbox")).to_contain_text(title)
        expect(page.locator("#verified")).to_be_visible()  # this phone was verified here: no phone check offline
        expect(page.locator("#verify")).to_be_hidden()
        shots(page, "intake-offline-start")

        context.set_offline(False)
        expect(page.locator("#outbox")).to_contain_text(re.compile(r"Mã tra cứu: QB-[0-9A-Z]{4}-[0-9A-Z]{4}"), timeout=20_000)
        assert page.evaluate("JSON.parse(localStorage.getItem('paht.intake.outbox') || '[]').length") == 0
        c = staff(site)
        assert len(waiting_with_title(c, title)) == 1

        # the answer is lost on the way back: the report stays in the outbox and is sent again with the same key
        lost_title = f"Cây đổ chắn ngang đường Trần Hưng Đạo {uuid.uuid4().hex[:4]}"
        page.reload()
        cut = {"done": 0}

        def lose_the_answer(route):
            if cut["done"]:
                return route.continue_()
            cut["done"] += 1
            route.fetch()  # the server stores it...
            route.abort("connectionreset")  # ...and the phone never hears back

        context.route("**/api/intake/v1/reports", lose_the_answer)
        fill_report(page, lost_title, address="12 Trần Hưng Đạo, Đồng Hới")
        page.get_by_role("button", name="Gửi phản ánh").click()
        expect(page.locator("#queued")).to_be_visible()
        page.locator("#send-now").click()
        expect(page.locator("#done")).to_be_visible(timeout=20_000)
        code = page.locator("#tracking-code").inner_text()
        stored = waiting_with_title(c, lost_title)
        assert len(stored) == 1 and stored[0]["tracking_code"] == code
        assert cut["done"] == 1
    finally:
        context.close()


def test_without_javascript_a_text_report_still_goes_through(site, browser, shots):  # noqa: F811
    phone = new_phone()
    context, page = open_page(browser, site.url, PHONE, js=False)
    try:
        page.goto("/intake/report")
        expect(page.locator("#report-form")).to_be_hidden()  # the phone first
        page.get_by_role("textbox", name="Số điện thoại").fill(phone)
        page.get_by_role("button", name="Gửi mã xác thực").click()
        code = sms_code(site.url, phone)
        wrong = "000000" if code != "000000" else "111111"
        page.get_by_label("Mã xác thực (6 chữ số)").fill(wrong)
        with page.expect_navigation() as nav:
            page.get_by_role("button", name="Xác nhận").click()
        assert nav.value.status == 422
        expect(page.get_by_role("alert").first).to_contain_text("còn 4 lần thử")
        page.get_by_label("Mã xác thực (6 chữ số)").fill(code)
        page.get_by_role("button", name="Xác nhận").click()
        expect(page.locator("#verified")).to_be_visible()

        title = f"Lấn chiếm vỉa hè đường Trần Phú {uuid.uuid4().hex[:4]}"
        fill_report(page, title, address="")
        page.get_by_label("Vĩ độ").fill("21.0285")
        page.get_by_label("Kinh độ").fill("105,8542")  # a Vietnamese keyboard's decimal comma
        with page.expect_navigation() as nav:
            page.get_by_role("button", name="Gửi phản ánh").click()
        assert nav.value.status == 422
        expect(page.locator(".form-error")).to_contain_text("Vị trí nằm ngoài địa bàn tỉnh")
        expect(page.get_by_label("Tiêu đề")).to_have_value(title)  # what was typed stays
        assert_readable(page)
        shots(page, "intake-report-nojs-error")

        page.get_by_label("Vĩ độ").fill("17,4680")
        page.get_by_label("Kinh độ").fill("106.6220")
        with page.expect_navigation() as nav:
            page.get_by_role("button", name="Gửi phản ánh").click()
        assert nav.value.status == 201
        code = page.locator("#tracking-code").inner_text()
        assert TRACKING_CODE.fullmatch(code)
        # the same form sent again (back, then send) is the same report, not a second one
        page.go_back()
        page.get_by_label("Vĩ độ").fill("17,4680")
        page.get_by_label("Kinh độ").fill("106.6220")
        page.get_by_label("Tôi chịu trách nhiệm trước pháp luật").check()
        with page.expect_navigation() as nav:
            page.get_by_role("button", name="Gửi phản ánh").click()
        assert nav.value.status == 200
        assert page.locator("#tracking-code").inner_text() == code
        assert len(waiting_with_title(staff(site), title)) == 1
    finally:
        context.close()


def test_the_app_speaks_english_on_the_switch(site, browser):  # noqa: F811
    context, page = open_page(browser, site.url, PHONE)
    try:
        page.goto("/intake/report")
        page.get_by_role("link", name="English").click()
        expect(page.get_by_role("heading", name="1. Verify your phone number")).to_be_visible()
        expect(page.get_by_role("button", name="Send the code")).to_be_visible()
        expect(page.get_by_text("I answer before the law for the truth and accuracy of what I report.")).to_be_visible()
        expect(page.locator("main")).not_to_contain_text("Xác thực số điện thoại")
        assert_readable(page)
        page.goto("/intake/me")
        expect(page.get_by_role("heading", level=1)).to_have_text("My reports")
        assert_readable(page)
    finally:
        context.close()


# ---- my reports


def test_my_reports_show_the_edit_the_ioc_asked_for_and_take_the_edit_and_a_reply(site, browser, shots, photo):  # noqa: F811
    phone = new_phone()
    title = f"Ổ gà lớn trên đường Quang Trung {uuid.uuid4().hex[:4]}"
    c = staff(site)
    context, page = open_page(browser, site.url, PHONE)
    try:
        page.goto("/intake/me")
        expect(page.locator("main")).to_contain_text("Xác thực số điện thoại bạn đã dùng khi gửi phản ánh")
        verify_phone(page, site.url, phone)  # the page's own forms, without JavaScript's help: back to "my reports"
        expect(page.get_by_role("heading", level=1)).to_have_text("Phản ánh của tôi")

        page.goto("/intake/report")
        fill_report(page, title, address="120 Quang Trung, Đồng Hới")
        page.get_by_role("button", name="Gửi phản ánh").click()
        code = page.locator("#tracking-code")
        expect(code).to_have_text(TRACKING_CODE)
        (report,) = waiting_with_title(c, title)
        what = "Vui lòng bổ sung ảnh chụp ổ gà và số nhà gần nhất."
        r = c.post(f"/api/intake/v1/reports/{report['id']}/request-edit", "ioc", json={"what": what})
        assert r.status_code == 200, r.text

        page.goto("/intake/me")
        mine = page.locator(".my-report").filter(has_text=title)
        expect(mine).to_contain_text(report["tracking_code"])
        expect(mine).to_contain_text("Chờ bổ sung, chỉnh sửa")
        expect(mine).to_contain_text("Trung tâm IOC đề nghị bạn bổ sung, chỉnh sửa phản ánh trước")
        expect(mine).to_contain_text(what)
        assert_readable(page)
        shots(page, "intake-me")

        mine.get_by_role("link", name="Bổ sung, chỉnh sửa ngay").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(title)
        form = page.locator("#edit-form")
        form.get_by_label("Mô tả sự việc").fill("Ổ gà sâu khoảng 20 cm trước số nhà 120 Quang Trung, gần ngã tư Lý Thường Kiệt.")
        page.locator("#f-files").set_input_files(photo)
        expect(form.locator(".media-item").first).to_contain_text("Đã tải lên")
        settle(page)
        assert_readable(page)
        shots(page, "intake-me-edit")
        form.get_by_role("button", name="Gửi nội dung bổ sung").click()
        expect(page.get_by_role("status").first).to_contain_text("Trung tâm IOC sẽ kiểm tra lại")
        expect(page.locator("main")).to_contain_text("Phản ánh đang chờ Trung tâm IOC kiểm tra, tiếp nhận (bước 1)")
        expect(page.locator("#edit-form")).to_have_count(0)

        page.get_by_label("Nhắn tin cho Trung tâm IOC").fill("Tôi đã bổ sung ảnh chụp ổ gà.")
        page.get_by_role("button", name="Gửi tin nhắn").click()
        expect(page.get_by_role("status").first).to_contain_text("Đã gửi tin nhắn đến Trung tâm IOC")
        history = page.locator("ol.timeline")
        for line in ("Tiếp nhận phản ánh", "Trung tâm IOC đề nghị bổ sung, chỉnh sửa", "Người phản ánh bổ sung, chỉnh sửa",
                     "Tin nhắn của người phản ánh", "Tôi đã bổ sung ảnh chụp ổ gà."):
            expect(history).to_contain_text(line)
        settle(page)
        assert_readable(page)
        shots(page, "intake-me-report")

        lines = c.get(f"/api/intake/v1/reports/{report['id']}/history", "ioc").json()["items"]
        assert [line["action"] for line in lines][-2:] == ["edited", "reply"]
        assert c.get(f"/api/intake/v1/reports/{report['id']}", "ioc").json()["status"] == "submitted"
    finally:
        context.close()


# ---- the call centre and the IOC's console


def test_the_call_centre_enters_a_callers_report_and_reads_the_code_back(site, browser, shots):  # noqa: F811
    title = f"Cây đổ chắn ngang đường Trần Hưng Đạo {uuid.uuid4().hex[:4]}"
    context, page = open_page(browser, site.url, DESK)
    try:
        page.goto("/intake/call-center")
        expect(page.get_by_label("Mật khẩu")).to_be_visible()  # staff only: the sign-in page first
        sign_in_staff(page, "/intake/call-center")
        expect(page.get_by_role("heading", level=1)).to_have_text("Tổng đài: nhập phản ánh qua điện thoại")
        page.get_by_label("Họ và tên").fill("Hoàng Thị Lan")
        page.get_by_role("textbox", name="Số điện thoại").fill("0987 654 321")
        page.get_by_label("Địa chỉ email").fill("lan.hoang@example.vn")
        page.get_by_label("Đã xác nhận số điện thoại qua cuộc gọi này").check()
        page.get_by_label("Tiêu đề").fill(title)
        page.get_by_label("Mô tả sự việc").fill("Cây xà cừ lớn bị đổ sau mưa, chắn hết hai làn xe trước số 12 Trần Hưng Đạo.")
        page.get_by_role("textbox", name="Địa chỉ, địa điểm xảy ra sự việc").fill("12 Trần Hưng Đạo, Đồng Hới")
        page.get_by_label("Khẩn cấp").check()
        page.get_by_label("114 — Cứu hỏa, cứu nạn, cứu hộ").check()
        page.get_by_label("Đã đọc cho người gọi và người gọi xác nhận").check()
        page.get_by_role("button", name="Lưu phản ánh").click()
        saved = page.locator("#cc-saved")
        expect(saved).to_contain_text("Đọc mã tra cứu cho người gọi")
        code = page.locator("#tracking-code").inner_text()
        assert TRACKING_CODE.fullmatch(code)
        expect(page.get_by_label("Tiêu đề")).to_have_value("")  # a fresh form for the next call
        settle(page)
        assert_readable(page)
        shots(page, "intake-call-center")

        (report,) = waiting_with_title(staff(site), title)
        assert report["tracking_code"] == code
        assert (report["channel"], report["verification"], report["urgent"], report["urgent_service"]) == ("call_center", "call", True, "114")
    finally:
        context.close()


def test_the_ioc_console_shows_a_report_whole_and_takes_step_one(site, browser, shots, photo):  # noqa: F811
    phone = new_phone()
    title = f"Quán lấn chiếm vỉa hè đường Lý Thường Kiệt {uuid.uuid4().hex[:4]}"
    http = httpx.Client(base_url=site.url, timeout=10)
    reporter = reporter_sign_in(http, phone)
    upload = http.post("/api/intake/v1/uploads", content=photo.read_bytes(), headers={**reporter, "X-Filename": "via-he.jpg"})
    assert upload.status_code == 201, upload.text
    topics = http.get("/api/intake/v1/topics").json()["items"]
    topic = topics[0]["code"]
    body = {"reporter": {"name": "Phan Thị Thu", "email": "thu.phan@example.vn", "kind": "organisation"}, "title": title,
            "description": "Quán nước bày bàn ghế chiếm hết vỉa hè trước số 30 Lý Thường Kiệt, người đi bộ phải xuống lòng đường.",
            "topic_code": topic, "location": {"lat": 17.4685, "lon": 106.6215}, "address_text": "30 Lý Thường Kiệt, Đồng Hới",
            "media": [upload.json()["id"]], "acknowledged": True}
    first = http.post("/api/intake/v1/reports", json={**body, "media": []}, headers=reporter)
    second = http.post("/api/intake/v1/reports", json={**body, "title": title + " (lần 2)"}, headers=reporter)
    assert first.status_code == 201 and second.status_code == 201, (first.text, second.text)
    rid = second.json()["id"]

    context, page = open_page(browser, site.url, DESK)
    try:
        sign_in_staff(page, "/intake/queue")
        row = page.get_by_role("row").filter(has_text=title + " (lần 2)")
        expect(row).to_contain_text(second.json()["tracking_code"])
        expect(row.locator("img")).to_have_count(1)
        settle(page)
        assert_readable(page)
        shots(page, "intake-queue")

        row.get_by_role("link").first.click()
        expect(page.get_by_role("heading", level=1)).to_have_text(title + " (lần 2)")
        main = page.locator("main")
        expect(main.locator(".redact-list img")).to_have_count(1)
        expect(main.locator("#console-map .leaflet-marker-icon")).to_have_count(1)
        dup = main.locator(".suggestions-list li").filter(has_text=first.json()["tracking_code"])
        expect(dup).to_contain_text("cùng người phản ánh, nội dung tương tự")
        expect(main).not_to_contain_text(phone)  # the contact only behind the audited button

        page.get_by_label("Mục đích xem").fill("Gọi điện xác minh nội dung")
        page.get_by_role("button", name="Xem liên hệ (có ghi nhật ký)").click()
        expect(page.locator("#contact")).to_contain_text(phone)
        expect(page.locator("#contact")).to_contain_text("Phan Thị Thu")
        settle(page)
        assert_readable(page)
        shots(page, "intake-console")

        accept = page.locator("details.action").filter(has=page.get_by_role("button", name="Tiếp nhận phản ánh"))
        expect(accept.get_by_label("Nhóm nội dung, lĩnh vực")).to_have_value(topic)
        accept.get_by_role("button", name="Tiếp nhận phản ánh").click()
        expect(page.get_by_role("status").first).to_contain_text("Đã tiếp nhận phản ánh")
        history = page.locator("#history + ol.timeline")
        for line in ("Tiếp nhận phản ánh", "Xem thông tin liên hệ của người phản ánh", "Trung tâm IOC tiếp nhận"):
            expect(history).to_contain_text(line)
        expect(page.locator("main")).to_contain_text("Bước 1 của phản ánh này đã xong.")
        expect(page.locator("main")).not_to_contain_text(phone)  # the contact was for that one answer only
        assert_readable(page)
        assert staff(site).get(f"/api/intake/v1/reports/{rid}", "ioc").json()["status"] == "accepted"
    finally:
        context.close()
        http.close()


# ---- what the pages promise over plain HTTP


def test_the_app_shell_the_policy_and_the_page_routes_answer_as_promised(site):
    with httpx.Client(base_url=site.url, timeout=10) as http:
        sw = http.get("/intake/sw.js")
        assert sw.status_code == 200 and sw.headers["content-type"].startswith("text/javascript")
        assert sw.headers["service-worker-allowed"] == "/intake/" and "no-cache" in sw.headers["cache-control"]
        assert "__VERSION__" not in sw.text and re.search(r'var VERSION = "[0-9a-f]{16}"', sw.text)
        manifest = http.get("/static/intake/app.webmanifest")
        assert manifest.headers["content-type"].startswith("application/manifest+json")
        icons = {i["sizes"] for i in manifest.json()["icons"]}
        assert {"192x192", "512x512"} <= icons and manifest.json()["scope"] == "/intake/"
        for icon in manifest.json()["icons"]:
            assert http.get(icon["src"]).headers["content-type"] == "image/png"

        page = http.get("/intake/report")
        policy = page.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "'unsafe-inline'" not in policy
        assert "img-src 'self' data: blob: https://tile.openstreetmap.org" in policy
        assert page.headers["cache-control"] == "no-store"

        # the pin check speaks the server's rule, in both languages, never a 500
        assert http.get("/intake/report/place", params={"lat": "17.4683", "lon": "106.6222"}).json() == {"inside": True}
        outside = http.get("/intake/report/place", params={"lat": "21.0285", "lon": "105.8542"})
        assert outside.status_code == 422 and "ngoài địa bàn tỉnh" in outside.json()["error"]["detail"]["vi"]
        assert outside.json()["error"]["detail"]["en"].startswith("The place is outside the province")
        for lat, lon in (("abc", "106"), ("17.4", ""), ("1e999", "106"), ("91", "106")):
            assert http.get("/intake/report/place", params={"lat": lat, "lon": lon}).status_code == 422, (lat, lon)

        # a form's "next" never leaves the site
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        out = http.post("/intake/sign-out", data={"csrf_token": token, "next": "https://evil.example/"})
        assert out.status_code == 303 and out.headers["location"] == "/intake/report"
        # a report without a verified phone: the phone check, with what was typed kept, and nothing stored
        c = staff(site)
        before = c.get("/api/intake/v1/reports", "ioc").json()["total"]
        refused = http.post("/intake/report", data={"csrf_token": token, "name": "Ai đó", "email": "ai@example.vn", "title": "Phản ánh không xác thực",
                                                    "description": "Nội dung đủ dài để được kiểm tra.", "address_text": "Đồng Hới",
                                                    "acknowledged": "true"})
        assert refused.status_code == 401 and "Vui lòng xác thực số điện thoại trước" in refused.text
        assert 'value="Phản ánh không xác thực"' in refused.text
        assert c.get("/api/intake/v1/reports", "ioc").json()["total"] == before
        # the session's state for a page started from the phone's cache
        state = http.get("/intake/session").json()
        assert state["signed_in"] is False and state["csrf_token"]
