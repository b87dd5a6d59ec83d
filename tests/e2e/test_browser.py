"""Real Chromium against `paht up`: what citizens and staff see, on a phone and on a desk.

Every assertion is about text a person reads on the page. Screenshots of the main pages go to
test-artifacts/screenshots/<name>.png (git-ignored); docs/screenshots is refreshed on purpose only:
PAHT_REFRESH_SCREENSHOTS=1 copies them there.
"""
from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from playwright import sync_api  # a test dependency: missing, the run fails (never skips)

from paht.runtime.walkthrough import REPORT, walk
from tests.e2e.harness import Client, backend_env, start_paht, stop_paht

expect = sync_api.expect

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE = {"width": 360, "height": 740}
DESK = {"width": 1280, "height": 800}
ROOT = Path(__file__).resolve().parents[2]
DOCS_SHOTS = ROOT / "docs" / "screenshots"
ARTIFACT_SHOTS = ROOT / "test-artifacts" / "screenshots"
CSP_VIOLATIONS: list[str] = []
TRACKING_CODE = re.compile(r"QB-[0-9A-Z]{4}-[0-9A-Z]{4}")
RAW_KEY = re.compile(r"\b(?:app|nav|lang|footer|form|track|status|rating|timeline|error|login)\.[a-z_]+\b")

CITIZEN = {
    "name": "Trần Văn Bình",
    "phone": "0912345678",
    "email": "binh.tran@example.vn",
    "title": "Đèn đường hỏng trên đường Lý Thường Kiệt",
    "description": "Ba cột đèn liền nhau trước trường tiểu học không sáng từ tối thứ Hai, đoạn đường rất tối và nguy hiểm cho học sinh.",
    "address": "45 Lý Thường Kiệt, Đồng Hới",
    "lat": "17.4680",
    "lon": "106,6220",  # a phone's Vietnamese keyboard gives a decimal comma
}


@pytest.fixture(scope="module")
def paht_web(tmp_path_factory):
    """One `paht up` (embedded backend) for the whole module, to keep the browser test fast."""
    data = tmp_path_factory.mktemp("browser") / "data"
    running = start_paht(data, backend_env("embedded", "b" + uuid.uuid4().hex[:8]))
    yield running
    stop_paht(running)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots():
    """Save screenshots as test artifacts; refresh docs/screenshots only when asked (PAHT_REFRESH_SCREENSHOTS=1)."""
    ARTIFACT_SHOTS.mkdir(parents=True, exist_ok=True)
    refresh_docs = os.environ.get("PAHT_REFRESH_SCREENSHOTS") == "1"

    def take(page, name: str) -> Path:
        path = ARTIFACT_SHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if refresh_docs:
            DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOCS_SHOTS / f"{name}.png")
        return path

    return take


def new_page(browser, base_url: str, viewport: dict, locale: str = "vi-VN"):
    context = browser.new_context(base_url=base_url, viewport=viewport, locale=locale,
                                  is_mobile=viewport is PHONE, has_touch=viewport is PHONE)
    context.set_default_timeout(10_000)
    page = context.new_page()
    # The pages' Content-Security-Policy must never have to block anything PAHT itself sends.
    page.on("console", lambda msg: "Content Security Policy" in msg.text and CSP_VIOLATIONS.append(f"{page.url}: {msg.text}"))
    return context, page


def assert_readable(page) -> None:
    """No raw catalog keys, no sideways scrolling, and the page says which language it is in."""
    text = page.locator("body").inner_text()
    raw = RAW_KEY.findall(text)
    assert not raw, f"untranslated catalog keys on {page.url}: {raw}"
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px"
    assert not CSP_VIOLATIONS, CSP_VIOLATIONS


def test_citizen_on_a_phone_submits_a_report_and_follows_it(paht_web, browser, shots):
    """From the home page to the report app; the report itself is sent as the app sends it (the app's own steps —
    the SMS code, the map, photos, offline — are in test_intake_pages.py); then its public tracking page."""
    context, page = new_page(browser, paht_web.url, PHONE)
    try:
        page.goto("/")
        expect(page.locator("h1")).to_contain_text("Tiếp nhận và xử lý phản ánh")
        assert_readable(page)

        page.locator("main").get_by_role("link", name="Gửi phản ánh").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Gửi phản ánh")
        assert_readable(page)
        shots(page, "report_form")

        report = dict(REPORT, title=CITIZEN["title"], description=CITIZEN["description"], address_text=CITIZEN["address"],
                      location={"lat": float(CITIZEN["lat"]), "lon": float(CITIZEN["lon"].replace(",", "."))})
        sent = Client(paht_web.url).post("/api/intake/v1/reports", "citizen", json=report)
        assert sent.status_code == 201, sent.text
        code = sent.json()["tracking_code"]
        page.goto(f"/track?code={code}")

        # The tracking page says the report awaits review (its copy arrives by event, so it may take a moment);
        # until step 1 accepts it nothing else of it is public, not even by its code.
        deadline = time.monotonic() + 10
        while not page.locator("#awaiting").count() and time.monotonic() < deadline:
            page.wait_for_timeout(200)
            page.goto(f"/track?code={code}")
        main = page.locator("main")
        expect(main.locator("#awaiting")).to_contain_text(code)
        expect(main.locator("#awaiting")).to_contain_text("Chờ tiếp nhận")
        expect(main).not_to_contain_text("Ba cột đèn liền nhau")
        expect(main).not_to_contain_text(CITIZEN["address"])
        for secret in (REPORT["reporter"]["phone"], REPORT["reporter"]["email"], REPORT["reporter"]["name"]):
            expect(main).not_to_contain_text(secret)
        assert_readable(page)
    finally:
        context.close()


def test_english_is_one_tap_away_and_sticks(paht_web, browser):
    context, page = new_page(browser, paht_web.url, PHONE)
    try:
        page.goto("/")
        expect(page.locator("html")).to_have_attribute("lang", "vi")
        page.get_by_role("link", name="English").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.get_by_role("navigation", name="Main navigation")).to_contain_text("Submit a report")
        expect(page.get_by_role("link", name="Staff login")).to_be_visible()
        expect(page.locator("main")).to_contain_text("Latest reports")
        assert_readable(page)

        # Next page, plain link without ?lang=: the cookie keeps English.
        page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Submit a report").click()
        assert "lang=" not in page.url
        expect(page.get_by_role("heading", level=1)).to_have_text("Submit a report")
        for label in ("Full name", "Phone number", "Email address", "Description", "Latitude", "Longitude"):
            expect(page.get_by_label(label)).to_be_visible()
        expect(page.get_by_role("button", name="Submit report")).to_be_visible()
        expect(page.locator("main")).not_to_contain_text("Họ và tên")
        assert_readable(page)

        # And back to Vietnamese.
        page.get_by_role("link", name="Tiếng Việt").click()
        expect(page.get_by_label("Họ và tên")).to_be_visible()
    finally:
        context.close()


def test_ioc_operator_signs_in_sees_the_queue_and_signs_out(paht_web, browser, shots):
    title = "Cây đổ chắn ngang đường Trần Hưng Đạo"
    c = Client(paht_web.url)
    r = c.post("/api/intake/v1/reports", "citizen", json=dict(REPORT, title=title, address_text="12 Trần Hưng Đạo, Đồng Hới"))
    assert r.status_code == 201, r.text
    code = r.json()["tracking_code"]

    context, page = new_page(browser, paht_web.url, DESK)
    try:
        page.goto("/")
        page.get_by_role("link", name="Đăng nhập").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Đăng nhập dành cho cán bộ")
        assert_readable(page)
        shots(page, "login")

        page.get_by_label("Tên đăng nhập").fill("ioc")
        page.get_by_label("Mật khẩu").fill("sai-mat-khau")
        with page.expect_navigation() as nav:
            page.locator("main").get_by_role("button", name="Đăng nhập").click()
        assert nav.value.status == 401
        expect(page.get_by_role("alert")).to_contain_text("Sai tên đăng nhập hoặc mật khẩu")
        assert_readable(page)
        shots(page, "login_error")

        page.get_by_label("Tên đăng nhập").fill("ioc")
        page.get_by_label("Mật khẩu").fill("paht-demo")
        page.locator("main").get_by_role("button", name="Đăng nhập").click()
        expect(page.get_by_role("button", name="Đăng xuất")).to_be_visible()

        page.get_by_role("navigation", name="Điều hướng chính").get_by_role("link", name="Phản ánh chờ tiếp nhận").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Phản ánh chờ tiếp nhận")
        row = page.get_by_role("row").filter(has_text=title)
        expect(row).to_contain_text(code)
        expect(row).to_contain_text("12 Trần Hưng Đạo")
        expect(row).to_contain_text("Chờ tiếp nhận")
        # the time received is shown in Vietnam time (UTC+7), not the database's UTC
        shown = re.search(r"(\d\d:\d\d \d\d/\d\d/\d{4})", row.inner_text()).group(1)
        received = datetime.strptime(shown, "%H:%M %d/%m/%Y")
        now_vn = datetime.now(timezone(timedelta(hours=7))).replace(tzinfo=None)
        assert abs(now_vn - received) < timedelta(minutes=5), f"queue shows {shown}, Vietnam time is {now_vn:%H:%M %d/%m/%Y}"
        assert_readable(page)
        shots(page, "ioc_queue")

        page.get_by_role("button", name="Đăng xuất").click()
        expect(page.get_by_role("link", name="Đăng nhập")).to_be_visible()
        page.goto("/intake/queue")
        expect(page.get_by_label("Mật khẩu")).to_be_visible()  # signed out: the queue asks to sign in again
    finally:
        context.close()


def test_published_report_shows_the_answer_and_the_timeline(paht_web, browser, shots):
    w = walk(paht_web.url)
    context, page = new_page(browser, paht_web.url, PHONE)
    try:
        page.goto(f"/track?code={w.tracking_code}")
        expect(page.get_by_role("heading", level=1)).to_have_text(REPORT["title"])
        main = page.locator("main")
        expect(main).to_contain_text("Đã công khai kết quả")
        expect(main.get_by_role("heading", name="Kết quả xử lý")).to_be_visible()
        expect(main).to_contain_text("Đơn vị đã vá ổ gà trước số nhà 120 Quang Trung")
        expect(main.get_by_role("heading", name="Quá trình xử lý")).to_be_visible()
        timeline = main.locator("ol.timeline > li")
        expect(timeline.first).to_be_visible()
        steps = timeline.all_inner_texts()
        text = "\n".join(steps)
        for label in ("Gửi phản ánh", "Trung tâm IOC tỉnh tiếp nhận", "Phân phối cho cơ quan đầu mối xử lý",
                      "Lãnh đạo đơn vị phê duyệt kết quả", "Công khai kết quả xử lý"):
            assert label in text, f"timeline lacks {label!r}: {steps}"
        for secret in (REPORT["reporter"]["phone"], REPORT["reporter"]["email"], REPORT["reporter"]["name"]):
            expect(main).not_to_contain_text(secret)
        assert_readable(page)
        shots(page, "report_published")

        page.get_by_role("link", name="Trang chủ").click()
        item = page.locator("main li").filter(has_text=REPORT["title"]).first
        expect(item).to_contain_text("Đã công khai kết quả")
        assert_readable(page)
        shots(page, "home")
    finally:
        context.close()


def test_a_stranger_never_sees_a_signed_in_session(paht_web, browser):
    staff_context, staff = new_page(browser, paht_web.url, DESK)
    stranger_context, stranger = new_page(browser, paht_web.url, PHONE)
    try:
        staff.goto("/auth/login")
        staff.get_by_label("Tên đăng nhập").fill("ioc")
        staff.get_by_label("Mật khẩu").fill("paht-demo")
        staff.locator("main").get_by_role("button", name="Đăng nhập").click()
        expect(staff.get_by_role("button", name="Đăng xuất")).to_be_visible()

        stranger.goto("/")
        expect(stranger.get_by_role("link", name="Đăng nhập")).to_be_visible(timeout=2_000)
        expect(stranger.locator("header")).not_to_contain_text("Nguyễn Văn An", timeout=1_000)
        stranger.goto("/intake/queue")
        expect(stranger.get_by_role("heading", level=1)).to_have_text("Đăng nhập dành cho cán bộ", timeout=2_000)
    finally:
        # signing out also empties the edge's jar, so the bug cannot leak into later tests
        if staff.get_by_role("button", name="Đăng xuất").count():
            staff.get_by_role("button", name="Đăng xuất").click()
            staff.wait_for_url(re.compile(r"/$"))
        staff_context.close()
        stranger_context.close()
