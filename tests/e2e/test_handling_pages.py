"""Real Chromium against `paht up`: handling's pages, steps 3 to 7 with support between agencies, on a phone
(390x844) and a desk (1280x800).

The IOC dispatches a report to the Department of Transport (the walkthrough, up to step 2); its coordinator
assigns the lead unit on a phone; the unit leader assigns staff on a desk; the staff member asks the Dong Hoi ward
for support, tries a draft without text (a 422 with the reason in both languages), then one with too large a file
(the case page again, 413, the reason in Vietnamese first and the text kept; in English when they chose English),
then reports the result with a committed completion date; the ward's leader accepts the request from the support
inbox, names himself and answers with a file; both sides see that file on the support request's page and download
it; the unit leader reads the answer and the letter, and approves. Another agency's coordinator gets a 404.
Screenshots go to test-artifacts/screenshots/handling-*.png (docs/screenshots with PAHT_REFRESH_SCREENSHOTS=1).
"""
from __future__ import annotations

import re
import threading
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright import sync_api

from services.handling.service_layer.handlers import PROVINCE_TIME
from tests.e2e import test_browser
from tests.e2e.harness import BACKENDS, Client, backend_env, cleanup_backend, start_paht, stop_paht
from tests.e2e.test_browser import DESK, assert_readable, browser, shots  # noqa: F401  (fixtures)
from tests.e2e.test_dispatch_console import sign_in, walk_until
from tests.integration.test_handling_files import pdf

expect = sync_api.expect

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
PHONE = {"width": 390, "height": 844}
FORM_LIMIT = 1_000_000  # max_body_bytes: a page form with its files may carry no more


@pytest.fixture(scope="module", params=BACKENDS)
def paht_handling(request, tmp_path_factory):
    tag = "h" + uuid.uuid4().hex[:8]
    data = tmp_path_factory.mktemp("handling") / "data"
    running = start_paht(data, backend_env(request.param, tag))
    yield running
    stop_paht(running)
    cleaner = threading.Thread(target=cleanup_backend, args=(request.param, tag))
    cleaner.start()
    cleaner.join(timeout=60)


def open_page(browser, url: str, viewport: dict, locale: str = "vi-VN"):  # noqa: F811
    phone = viewport is PHONE
    context = browser.new_context(base_url=url, viewport=viewport, locale=locale, is_mobile=phone, has_touch=phone)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.on("console", lambda msg: "Content Security Policy" in msg.text and test_browser.CSP_VIOLATIONS.append(f"{page.url}: {msg.text}"))
    return context, page


def posting(page, action: str):
    """Wait for the answer to a form's POST (its status: 303 done, 4xx refused)."""
    return page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/" + action))


def download_answer_file(page, sent: bytes) -> None:
    """The support request's page lists the file sent with the answer, and its link downloads those very bytes."""
    listed = page.locator("#support-files")
    expect(listed).to_contain_text("Biên bản xác nhận.pdf")
    expect(listed).to_contain_text("Văn bản, tài liệu")
    expect(listed).to_contain_text("Trả lời phối hợp")
    with page.expect_download() as got:
        listed.get_by_role("link", name="Biên bản xác nhận.pdf").click()
    assert got.value.suggested_filename.endswith(".pdf")
    assert Path(got.value.path()).read_bytes() == sent


def test_a_case_goes_from_the_lead_agency_to_approval_with_support_from_another_agency(paht_handling, browser, shots):  # noqa: F811
    url = paht_handling.url
    c = Client(url)
    rid = walk_until(url, "dispatched")
    c.wait_for(f"/api/handling/v1/cases/{rid}", "sogtvt", check=lambda r: r.status_code == 200 and r.json()["status"] == "awaiting_agency")
    case_path = f"/handling/cases/{rid}"

    # Step 3, the coordinator on a phone: the work list links the case; the case page offers the agency's units.
    context, page = open_page(browser, url, PHONE)
    try:
        sign_in(page, "sogtvt", "/handling/")
        page.locator("tr").filter(has_text=rid).locator("a.case-link").click()
        expect(page).to_have_url(re.compile(re.escape(case_path)))
        expect(page.locator("#case-status")).to_contain_text("Chờ cơ quan chủ trì tiếp nhận")
        expect(page.locator("#clock-agency")).to_contain_text("trong hạn")
        expect(page.locator("#history")).to_contain_text("Trung tâm IOC phân công cơ quan chủ trì")
        expect(page.locator("#act-draft")).to_have_count(0)  # staff's forms are not the coordinator's
        assert_readable(page)
        shots(page, "handling-case-coordinator-phone")
        form = page.locator("#act-assign-unit")
        form.locator("select[name=unit_id]").select_option("so-gtvt-kcht")
        form.get_by_label("Lời nhắn").fill("Đề nghị kiểm tra hiện trường trong ngày.")
        form.get_by_role("button", name="Giao đơn vị chủ trì").click()
        expect(page.locator("#done")).to_contain_text("Cơ quan đầu mối giao đơn vị chủ trì")
        expect(page.locator("#case-status")).to_contain_text("Chờ đơn vị chủ trì tiếp nhận")
        expect(page.locator("#act-assign-unit")).to_have_count(0)
    finally:
        context.close()

    # Someone outside the case: another agency's coordinator does not see it.
    context, page = open_page(browser, url, PHONE)
    try:
        sign_in(page, "donghoi", "/handling/")
        response = page.goto(case_path)
        assert response.status == 404
        expect(page.locator("main")).to_contain_text("Không tìm thấy hồ sơ xử lý")
        assert_readable(page)
    finally:
        context.close()

    # Step 4, the unit leader on a desk: the message of the hand-over, the staff to choose from.
    context, page = open_page(browser, url, DESK)
    try:
        sign_in(page, "truongphong", case_path)
        expect(page.locator("#handover")).to_contain_text("Đề nghị kiểm tra hiện trường trong ngày.")
        form = page.locator("#act-assign-staff")
        form.locator("select[name=staff_subject]").select_option("canbo")
        form.get_by_label(re.compile(r"Lê Thị Mai .*\(canbo2\)")).check()  # a second staff member works on it too
        shots(page, "handling-case-assign-desk")
        form.get_by_role("button", name="Giao cán bộ xử lý").click()
        expect(page.locator("#done")).to_contain_text("Lãnh đạo đơn vị giao cán bộ xử lý")
        expect(page.locator("#case-facts")).to_contain_text("canbo")
        expect(page.locator("#co-staff")).to_contain_text("canbo2")
        expect(page.locator("#case-status")).to_contain_text("Đang xử lý")
        assert_readable(page)
        shots(page, "handling-case-leader-desk")
    finally:
        context.close()

    # Steps 5 and 6, the staff member on a phone: support from the ward, a refused draft, then the draft.
    question = "Đề nghị UBND phường xác nhận hiện trạng mặt đường trước số 120 Quang Trung."
    committed = datetime.now(PROVINCE_TIME).date() + timedelta(days=14)
    context, page = open_page(browser, url, PHONE)
    try:
        sign_in(page, "canbo", case_path)
        expect(page.locator("#act-draft")).to_be_visible()
        expect(page.locator("#act-approve")).to_have_count(0)  # the leader's, not staff's
        page.locator("#act-support summary").click()
        support = page.locator("#act-support")
        support.get_by_label("Cơ quan, đơn vị được đề nghị").select_option("ward-donghoi-2025")  # chosen by name, not typed
        support.get_by_label("Nội dung đề nghị phối hợp").fill(question)
        support.get_by_role("button", name="Gửi đề nghị phối hợp").click()
        expect(page.locator("#done")).to_contain_text("Đơn vị chủ trì đề nghị phối hợp, hỗ trợ")
        expect(page.locator("#support")).to_contain_text("Phường Đồng Hới")
        expect(page.locator("#support")).to_contain_text("Đã gửi đề nghị phối hợp")

        draft = page.locator("#act-draft")
        with posting(page, "draft") as answer:
            draft.get_by_role("button", name="Báo cáo kết quả, trình duyệt").click()
        assert answer.value.status == 422
        error = page.locator("#error-draft")
        expect(error).to_contain_text("Nội dung trả lời")  # Vietnamese first, the domain's own words
        expect(error.locator("[lang=en]")).to_contain_text("Answer")
        expect(page.locator("#case-status")).to_contain_text("Đang xử lý")
        assert_readable(page)
        shots(page, "handling-draft-error-phone")

        # Too large a file: the case page again (413), the reason on the draft form in Vietnamese first, the text kept,
        # nothing attached and the case where it was.
        typed = "Đơn vị đã khảo sát hiện trường, ảnh và biên bản kèm theo."
        draft = page.locator("#act-draft")
        draft.get_by_label("Nội dung trả lời").fill(typed)
        draft.get_by_label("Tệp đính kèm").set_input_files(
            [{"name": "bien-ban-lon.pdf", "mimeType": "application/pdf", "buffer": pdf(pad=FORM_LIMIT + 100_000)}])
        with posting(page, "draft") as answer:
            draft.get_by_role("button", name="Báo cáo kết quả, trình duyệt").click()
        assert answer.value.status == 413 and answer.value.headers["content-type"].startswith("text/html")
        error = page.locator("#error-draft")
        expect(error.locator("[lang=vi]")).to_contain_text("Biểu mẫu chưa được gửi")
        expect(error.locator("[lang=vi]")).to_contain_text("Chưa có gì được lưu")
        expect(error.locator("[lang=en]")).to_contain_text("The form was not sent")
        assert error.inner_text().index("Biểu mẫu chưa được gửi") < error.inner_text().index("The form was not sent")
        expect(page.locator("#act-draft").get_by_label("Nội dung trả lời")).to_have_value(typed)
        expect(page.locator("#case-status")).to_contain_text("Đang xử lý")
        expect(page.locator("#files")).to_contain_text("Chưa có tệp nào được đính kèm.")
        expect(page.locator("#history .tl-drafted")).to_have_count(0)
        assert_readable(page)
        shots(page, "handling-draft-too-large-phone")

        # The same person in English: a work note with too large a file comes back in English first; then Vietnamese again.
        page.goto(case_path + "?lang=en")
        page.locator("#act-log summary").click()
        log = page.locator("#act-log")
        log.get_by_label("Work note").fill("Measured the pothole: 1.2 m wide.")
        log.get_by_label("Attach files").set_input_files(
            [{"name": "video.mp4", "mimeType": "video/mp4", "buffer": b"\0" * (FORM_LIMIT + 1)}])
        with posting(page, "log") as answer:
            log.get_by_role("button", name="Add to the work log").click()
        assert answer.value.status == 413
        error = page.locator("#error-log")
        expect(error.locator("[lang=en]")).to_contain_text("The form was not sent")
        assert error.inner_text().index("The form was not sent") < error.inner_text().index("Biểu mẫu chưa được gửi")
        expect(page.locator("#act-log")).to_have_attribute("open", "")
        expect(page.locator("#act-log").get_by_label("Work note")).to_have_value("Measured the pothole: 1.2 m wide.")
        expect(page.locator("#history .tl-work_logged")).to_have_count(0)
        assert_readable(page)
        shots(page, "handling-log-too-large-en-phone")
        page.goto(case_path + "?lang=vi")

        draft = page.locator("#act-draft")
        draft.get_by_label("Nội dung trả lời").fill("Đơn vị đã khảo sát hiện trường; mặt đường sẽ được thảm lại toàn bộ đoạn trước số 120.")
        draft.get_by_label("Chưa xong: đơn vị cam kết hoàn thành trước ngày").check()
        draft.get_by_label("Ngày cam kết hoàn thành").fill(committed.isoformat())
        draft.get_by_label("Lời nhắn gửi lãnh đạo đơn vị").fill("Kính trình chị duyệt.")
        with posting(page, "draft") as answer:
            draft.get_by_role("button", name="Báo cáo kết quả, trình duyệt").click()
        assert answer.value.status == 303
        expect(page.locator("#done")).to_contain_text("Cán bộ báo cáo kết quả kèm dự thảo trả lời")
        expect(page.locator("#case-status")).to_contain_text("Dự thảo chờ duyệt")
        expect(page.locator("#answer")).to_contain_text(f"cam kết hoàn thành xử lý trước ngày {committed:%d/%m/%Y}")
        expect(page.locator("#clock-approval")).to_contain_text("trong hạn")
        assert_readable(page)
        shots(page, "handling-case-staff-phone")

    finally:
        context.close()
    assert c.get(f"/api/handling/v1/cases/{rid}/files", "canbo").json()["items"] == []  # nothing of the refused forms was kept

    # Step 5, the receiving side on a phone: the inbox, accept and name a person, answer with a file; the support
    # request's page lists it with its download.
    report_pdf = pdf(pad=3_000)
    context, page = open_page(browser, url, PHONE)
    try:
        sign_in(page, "phuong", "/handling/")
        page.locator("#support-inbox-link").click()
        expect(page.locator("#support-inbox")).to_contain_text(question)
        assert_readable(page)
        shots(page, "handling-support-inbox-phone")
        page.locator("#support-inbox a.support-link").first.click()
        expect(page.locator("#support-status")).to_contain_text("Đã gửi đề nghị phối hợp")
        accept = page.locator("#act-accept")
        accept.locator("select[name=staff_subject]").select_option("phuong")
        accept.get_by_role("button", name="Tiếp nhận và giao cán bộ").click()
        expect(page.locator("#done")).to_contain_text("Cơ quan, đơn vị phối hợp tiếp nhận và giao cán bộ")
        expect(page.locator("#support-status")).to_contain_text("Đã tiếp nhận, đang phối hợp")
        answer_form = page.locator("#act-answer")
        answer_form.get_by_label("Nội dung phối hợp, hỗ trợ").fill("Phường xác nhận mặt đường bong tróc khoảng 40 m², có ảnh hiện trường kèm theo.")
        answer_form.get_by_label("Tệp đính kèm").set_input_files(
            [{"name": "Biên bản xác nhận.pdf", "mimeType": "application/pdf", "buffer": report_pdf}])
        answer_form.get_by_role("button", name="Gửi đơn vị chủ trì").click()
        expect(page.locator("#done")).to_contain_text("Cơ quan, đơn vị phối hợp cung cấp thông tin")
        expect(page.locator("#support-answer")).to_contain_text("bong tróc khoảng 40 m²")
        support_path = page.url.split("?")[0].removeprefix(url)
        download_answer_file(page, report_pdf)
        assert_readable(page)
        shots(page, "handling-support-phone")
    finally:
        context.close()

    # Step 7, the unit leader: the support request's page with the answer's file, the support's answer and the
    # letter, then approve (on a desk, then read on a phone).
    context, page = open_page(browser, url, DESK)
    try:
        sign_in(page, "truongphong", support_path)
        expect(page.locator("#support-status")).to_contain_text("Đã phối hợp, hỗ trợ")
        download_answer_file(page, report_pdf)
        shots(page, "handling-support-answer-desk")
        page.goto(case_path)
        expect(page.locator("#support")).to_contain_text("Đã phối hợp, hỗ trợ")
        expect(page.locator("#support")).to_contain_text("bong tróc khoảng 40 m²")
        expect(page.locator("#handover")).to_contain_text("Kính trình chị duyệt.")
        approve = page.locator("#act-approve")
        expect(approve.get_by_label("Nội dung trả lời")).to_have_value(re.compile("thảm lại toàn bộ đoạn trước số 120"))
        expect(page.locator("#act-return-to-staff")).to_be_visible()
        shots(page, "handling-case-approve-desk")
        approve.get_by_label("Lời nhắn gửi Trung tâm IOC").fill("Đề nghị công khai kết quả.")
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
        expect(history).to_contain_text("Đề nghị công khai kết quả.")
        assert_readable(page)
        shots(page, "handling-case-approved-desk")
        page.goto(case_path + "?lang=en")
        expect(page.locator("#case-status")).to_contain_text("Approved, with the IOC")
        expect(page.locator("#history")).to_contain_text("Approved and sent to the IOC")
        assert_readable(page)
    finally:
        context.close()
    context, page = open_page(browser, url, PHONE)
    try:
        sign_in(page, "truongphong", case_path)
        expect(page.locator("#case-status")).to_contain_text("Đã duyệt, chờ Trung tâm IOC")
        assert_readable(page)
        shots(page, "handling-case-approved-phone")
        page.goto("/handling/")
        expect(page.locator("tr").filter(has_text=rid)).to_have_count(0)  # approved: no longer in hand in the unit
        page.click("#finished")
        expect(page).to_have_url(re.compile(r"/handling/\?scope=finished$"))
        expect(page.locator("tr").filter(has_text=rid)).to_contain_text("Đã duyệt, chờ Trung tâm IOC")
        assert_readable(page)
        shots(page, "handling-list-phone")
    finally:
        context.close()
    case = c.get(f"/api/handling/v1/cases/{rid}", "truongphong").json()
    assert case["status"] == "approved" and case["completion_date"] == committed.isoformat() and not case["answer_finished"]


def test_the_people_handling_a_case_see_the_reporters_contact_audited_and_nobody_else(paht_handling, browser, shots):  # noqa: F811
    """Intake releases the contact to the case's staff only after asking handling, over gRPC between the real processes,
    whether that person handles the case; both sides keep a line of who looked and why."""
    url = paht_handling.url
    c = Client(url)
    rid = walk_until(url, "dispatched")
    c.wait_for(f"/api/handling/v1/cases/{rid}", "sogtvt", check=lambda r: r.status_code == 200 and r.json()["status"] == "awaiting_agency")
    purpose = {"purpose": "Gọi điện hẹn kiểm tra hiện trường"}

    # Before the unit has it, its staff do not handle it: 404 from handling, 403 from intake (asked directly).
    assert c.post(f"/api/handling/v1/cases/{rid}/contact", "canbo", json=purpose).status_code == 404
    direct = c.post(f"/api/intake/v1/reports/{rid}/contact", "canbo", json=purpose)
    assert direct.status_code == 403 and "người đang xử lý" in direct.json()["error"]["detail"]["vi"]

    assert c.post(f"/api/handling/v1/cases/{rid}/assign-unit", "sogtvt", json={"unit_id": "so-gtvt-kcht"}).status_code == 200
    assert c.post(f"/api/handling/v1/cases/{rid}/assign-staff", "truongphong", json={"staff_subject": "canbo"}).status_code == 200

    ioc_view = c.post(f"/api/intake/v1/reports/{rid}/contact", "ioc", json={"purpose": "Đối chiếu"}).json()
    no_purpose = c.post(f"/api/handling/v1/cases/{rid}/contact", "canbo", json={"purpose": ""})
    assert no_purpose.status_code == 422 and no_purpose.json()["error"]["detail"]["vi"].startswith("Cần nêu mục đích")
    released = c.post(f"/api/handling/v1/cases/{rid}/contact", "canbo", json=purpose)
    assert released.status_code == 200 and released.headers["cache-control"] == "no-store"
    assert released.json()["phone"] == ioc_view["phone"] and released.json()["audit_id"]
    assert c.post(f"/api/handling/v1/cases/{rid}/contact", "donghoi", json=purpose).status_code == 404  # another agency

    lines = c.get(f"/api/handling/v1/cases/{rid}/history", "truongphong").json()["items"]
    seen = [line for line in lines if line["action"] == "contact_seen"]
    assert [(line["by"]["subject"], line["message"]) for line in seen] == [("canbo", purpose["purpose"])]
    audit = c.get(f"/api/intake/v1/reports/{rid}/history", "ioc").json()["items"]
    assert [(line["actor"], line["text"]) for line in audit if line["action"] == "contact_seen"] == \
        [("ioc", "Đối chiếu"), ("canbo", purpose["purpose"])]

    # On a phone: the staff member asks on the case page, says why, and sees the number to call (never in the URL).
    context, page = open_page(browser, url, PHONE)
    try:
        sign_in(page, "canbo", f"/handling/cases/{rid}")
        box = page.locator("#act-contact")
        box.locator("summary").click()
        box.get_by_label("Mục đích").fill("Gọi lại xác nhận vị trí")
        with posting(page, "contact") as answer:
            box.get_by_role("button").click()
        assert answer.value.status == 200
        expect(page.locator("#contact-facts")).to_contain_text(ioc_view["phone"])
        assert ioc_view["phone"] not in page.url
        assert_readable(page)
        shots(page, "handling-contact-phone")
    finally:
        context.close()
