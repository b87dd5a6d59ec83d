"""Handling's pages over HTTP (no browser): the case page shows what the person's role allows, each form posts to
its use case and comes back with a 303, a refusal comes back on the page in both languages with its 4xx status."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from paht.runtime.http import TOKEN_COOKIE
from paht.runtime.ids import new_id
from paht.runtime.storage import LocalDiskStorage
from paht.runtime.web.security import CSRF_COOKIE
from services.handling import bootstrap
from services.handling.adapters.orm import case_files
from services.handling.service_layer.handlers import PROVINCE_TIME
from tests.integration.test_handling_files import pdf
from tests.support.handling import FakeOrgDirectory, dispatched
from tests.support.services import deliver, migrated_context, token_for


@pytest.fixture
def ctx(settings):
    context = migrated_context(bootstrap.SPEC, settings)
    yield context
    context.engine.dispose()


@pytest.fixture
def client(ctx):
    return TestClient(bootstrap.build_http(ctx, directory=FakeOrgDirectory()), follow_redirects=False)


def as_(settings, subject: str, role: str, org_unit: str) -> dict:
    return {"Authorization": f"Bearer {token_for(settings, subject, [role], org_unit)}"}


def test_the_case_page_drives_steps_3_to_7_and_shows_refusals_in_both_languages(ctx, client, settings):
    rid = new_id()
    deliver(ctx, dispatched(ctx, rid))
    page = f"/handling/cases/{rid}"
    agency = as_(settings, "sogtvt", "agency_coordinator", "so-gtvt")
    leader = as_(settings, "truongphong", "unit_leader", "so-gtvt-kcht")
    staff = as_(settings, "canbo", "staff", "so-gtvt-kcht")
    stranger = as_(settings, "thanhtra", "unit_leader", "so-gtvt-thanhtra")

    shown = client.get(page, headers=agency)
    assert shown.status_code == 200 and 'action="/handling/cases/%s/assign-unit"' % rid in shown.text
    assert "/draft" not in shown.text and "Chờ cơ quan chủ trì tiếp nhận" in shown.text
    assert client.get(page, headers=stranger).status_code == 404
    assert rid in client.get("/handling/", headers=agency).text

    r = client.post(f"{page}/assign-unit", headers=agency, data={"unit_id": "so-gtvt-kcht", "message": "Kiểm tra trong ngày"})
    assert r.status_code == 303 and r.headers["location"] == f"{page}?done=assign-unit#done"
    shown = client.get(r.headers["location"], headers=leader)
    assert "Cơ quan đầu mối giao đơn vị chủ trì" in shown.text and "Kiểm tra trong ngày" in shown.text
    assert 'name="staff_subject"' in shown.text and "/assign-unit" not in shown.text

    assert client.post(f"{page}/assign-staff", headers=leader, data={"staff_subject": "canbo"}).status_code == 303
    assert client.post(f"{page}/log", headers=staff, data={"text": "x"}).status_code == 422
    r = client.post(f"{page}/log", headers=staff, data={"text": "Đã đo ổ gà: rộng 1,2 m, sâu 20 cm."})
    assert r.status_code == 303 and "Đã đo ổ gà: rộng 1,2 m, sâu 20 cm." in client.get(page, headers=leader).text
    refused = client.post(f"{page}/draft", headers=staff, data={"answer_text": "", "finished": "1"})
    assert refused.status_code == 422
    assert "Nội dung trả lời" in refused.text and "Answer" in refused.text  # the domain's words, both languages
    refused = client.post(f"{page}/draft", headers=staff, data={"answer_text": "Đã vá xong mặt đường.", "finished": "0"})
    assert refused.status_code == 422 and "cam kết hoàn thành" in refused.text
    assert client.post(f"{page}/approve", headers=staff, data={}).status_code == 403
    when = (datetime.now(PROVINCE_TIME).date() + timedelta(days=10)).isoformat()
    due = (datetime.now(PROVINCE_TIME) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    assert client.post(f"{page}/support", headers=staff, data={"org_id": "so-xd", "question": "Đề nghị cung cấp hồ sơ thiết kế tuyến cống.",
                                                              "due_at": due}).status_code == 303
    r = client.post(f"{page}/draft", headers=staff, data={"answer_text": "Đơn vị sẽ thảm lại mặt đường đoạn trước số 120.",
                                                          "finished": "0", "completion_date": when})
    assert r.status_code == 303
    shown = client.get(page, headers=leader)
    assert "cam kết hoàn thành xử lý trước ngày " + date.fromisoformat(when).strftime("%d/%m/%Y") in shown.text
    assert "Đã gửi đề nghị phối hợp" in shown.text and "/approve" in shown.text
    en = client.get(page + "?lang=en", headers=leader)
    assert "Draft awaiting approval" in en.text and "Result reported with a draft answer" in en.text
    assert client.post(f"{page}/approve", headers=leader, data={"answer_text": "", "message": ""}).status_code == 303
    assert "Đã duyệt, chờ Trung tâm IOC" in client.get(page + "?lang=vi", headers=leader).text


def test_the_receiving_side_accepts_and_answers_from_its_inbox(ctx, client, settings):
    rid = new_id()
    deliver(ctx, dispatched(ctx, rid))
    agency = as_(settings, "sogtvt", "agency_coordinator", "so-gtvt")
    leader = as_(settings, "truongphong", "unit_leader", "so-gtvt-kcht")
    client.post(f"/handling/cases/{rid}/assign-unit", headers=agency, data={"unit_id": "so-gtvt-kcht"})
    due = (datetime.now(PROVINCE_TIME) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    assert client.post(f"/handling/cases/{rid}/assign-staff", headers=leader, data={"staff_subject": "canbo"}).status_code == 303
    assert client.post(f"/handling/cases/{rid}/support", headers=leader,
                       data={"org_id": "so-xd-qhkt", "question": "Đề nghị cung cấp bản đồ quy hoạch khu vực.", "due_at": due}).status_code == 303
    receiver = as_(settings, "truongphong-qhkt", "unit_leader", "so-xd-qhkt")
    inbox = client.get("/handling/support", headers=receiver)
    assert inbox.status_code == 200 and "bản đồ quy hoạch" in inbox.text
    link = inbox.text.split('href="/handling/support/')[1].split('"')[0]
    page = f"/handling/support/{link}"
    assert 'value="canbo-qhkt"' in client.get(page, headers=receiver).text
    assert client.post(f"{page}/accept", headers=receiver, data={"staff_subject": "canbo"}).status_code == 422
    assert client.post(f"{page}/accept", headers=receiver, data={"staff_subject": "canbo-qhkt"}).status_code == 303
    worker = as_(settings, "canbo-qhkt", "staff", "so-xd-qhkt")
    assert client.post(f"{page}/answer", headers=worker, data={"answer_text": "Gửi kèm bản đồ quy hoạch tỷ lệ 1/2000."}).status_code == 303
    assert "Gửi kèm bản đồ quy hoạch" in client.get(f"/handling/cases/{rid}", headers=leader).text
    assert client.get(page, headers=as_(settings, "x", "staff", "so-tttt")).status_code == 404


# --- files sent with the forms ---------------------------------------------------------------------------------

class Filed:
    """The pages with their attachments in a folder of the test's own (storage and spool)."""

    def __init__(self, settings, tmp_path):
        self.settings = settings
        self.ctx = migrated_context(bootstrap.SPEC, settings)
        self.storage, self.spool = LocalDiskStorage(tmp_path / "media"), tmp_path / "spool"
        self.ctx.media_storage, self.ctx.media_spool = self.storage, self.spool
        self.client = TestClient(bootstrap.build_http(self.ctx, directory=FakeOrgDirectory()), follow_redirects=False)

    def rows(self) -> list:
        with self.ctx.engine.connect() as conn:
            return conn.execute(select(case_files)).all()

    def stored(self) -> list[Path]:
        return [p for root in (self.storage.root, self.spool) if root.exists() for p in root.rglob("*") if p.is_file()]

    def case_with_staff(self) -> tuple[str, dict, dict]:
        rid = new_id()
        deliver(self.ctx, dispatched(self.ctx, rid))
        leader, staff = as_(self.settings, "truongphong", "unit_leader", "so-gtvt-kcht"), as_(self.settings, "canbo", "staff", "so-gtvt-kcht")
        page = f"/handling/cases/{rid}"
        assert self.client.post(f"{page}/assign-unit", headers=as_(self.settings, "sogtvt", "agency_coordinator", "so-gtvt"),
                                data={"unit_id": "so-gtvt-kcht"}).status_code == 303
        assert self.client.post(f"{page}/assign-staff", headers=leader, data={"staff_subject": "canbo"}).status_code == 303
        return rid, leader, staff


@pytest.fixture
def filed(settings, tmp_path):
    service = Filed(settings, tmp_path)
    yield service
    service.ctx.engine.dispose()


ANSWER = "Đơn vị đã vá ổ gà trước số nhà 120 đường Quang Trung."


def test_a_draft_and_a_work_note_from_the_case_page_carry_files_and_the_page_lists_them(filed):
    rid, leader, staff = filed.case_with_staff()
    page = f"/handling/cases/{rid}"
    shown = filed.client.get(page, headers=staff).text
    for action in ("draft", "log"):
        form = shown.split(f'action="{page}/{action}"')[1].split("</form>")[0]
        assert 'enctype="multipart/form-data"' in form and 'name="csrf_token"' in form
        assert f'id="{action}-files" name="files" multiple accept=".pdf,.docx,.xlsx,.jpg,.jpeg,.png,.webp,.mp4,.webm"' in form
    assert "Chưa có tệp nào được đính kèm." in shown

    report = pdf()
    r = filed.client.post(f"{page}/log", headers=staff, data={"text": "Đã lập biên bản kiểm tra hiện trường."},
                          files=[("files", ("bien-ban.pdf", pdf(pad=2_000), "application/pdf"))])
    assert r.status_code == 303, r.text
    r = filed.client.post(f"{page}/draft", headers=staff, data={"answer_text": ANSWER, "finished": "1"},
                          files=[("files", ("Biên bản hiện trường.pdf", report, "application/pdf"))])
    assert r.status_code == 303, r.text
    rows = {row.filename: row for row in filed.rows()}
    assert rows["Biên bản hiện trường.pdf"].attached_to.startswith("draft:") and rows["bien-ban.pdf"].attached_to.startswith("log:")

    shown = filed.client.get(page, headers=leader).text
    files = shown.split('id="files"')[1].split("</section>")[0]
    draft_file = rows["Biên bản hiện trường.pdf"]
    assert f'href="/api/handling/v1/files/{draft_file.id}"' in files and "Biên bản hiện trường.pdf" in files
    assert "Văn bản, tài liệu" in files and "Dự thảo trả lời" in files and "Nhật ký xử lý" in files
    assert f"{round(len(report) / 1024)} KB" in files or f"{len(report)} B" in files
    en = filed.client.get(page + "?lang=en", headers=leader).text.split('id="files"')[1]
    assert "Document" in en and "Draft answer" in en
    got = filed.client.get(f"/api/handling/v1/files/{draft_file.id}", headers=leader)  # the link, with the case's access rule
    assert got.status_code == 200 and got.content == report
    assert filed.client.get(f"/api/handling/v1/files/{draft_file.id}", headers=as_(filed.settings, "x", "unit_leader", "so-xd")).status_code == 404


def test_a_refused_file_on_the_page_comes_back_in_both_languages_and_nothing_is_stored(filed):
    rid, leader, staff = filed.case_with_staff()
    page = f"/handling/cases/{rid}"
    exe = b"MZ\x90\x00" + bytes(500)
    r = filed.client.post(f"{page}/draft", headers=staff, data={"answer_text": ANSWER, "finished": "1"},
                          files=[("files", ("bien-ban.pdf", exe, "application/pdf"))])
    assert r.status_code == 422
    assert "một chương trình Windows (.exe)" in r.text and "a Windows program (.exe)" in r.text
    assert 'id="error-draft"' in r.text and ANSWER in r.text  # on the draft form, what was typed kept
    en = filed.client.post(f"{page}/draft?lang=en", headers=staff, data={"answer_text": ANSWER, "finished": "1"},
                           files=[("files", ("bien-ban.pdf", exe, "application/pdf"))])
    assert en.status_code == 422 and "a Windows program (.exe)" in en.text and "một chương trình Windows (.exe)" in en.text
    # a good file with a bad one: neither is kept, and the step did not happen
    r = filed.client.post(f"{page}/log", headers=staff, data={"text": "Đã lập biên bản kiểm tra hiện trường."},
                          files=[("files", ("a.pdf", pdf(), "application/pdf")), ("files", ("b.pdf", exe, "application/pdf"))])
    assert r.status_code == 422 and "một chương trình Windows (.exe)" in r.text
    # a good file whose step is refused (no answer): the file stored for it is removed again
    r = filed.client.post(f"{page}/draft", headers=staff, data={"answer_text": "", "finished": "1"},
                          files=[("files", ("a.pdf", pdf(), "application/pdf"))])
    assert r.status_code == 422 and "Nội dung trả lời" in r.text
    assert filed.rows() == [] and filed.stored() == []
    shown = filed.client.get(page + "?lang=vi", headers=leader).text
    assert "Chưa có tệp nào được đính kèm." in shown and "Đã lập biên bản" not in shown
    assert "tl-drafted" not in shown and "tl-work_logged" not in shown  # neither step happened


def test_a_form_with_files_is_an_ordinary_body_its_limit_applies(filed):
    """Page forms are not streamed uploads: the whole multipart body is bounded by max_body_bytes (1 MB by default).
    Over it, the person gets the case page again (413): the reason in their language first, on the form they sent,
    what they typed kept, and nothing done or stored."""
    rid, leader, staff = filed.case_with_staff()
    page = f"/handling/cases/{rid}"
    big = pdf(pad=filed.settings.max_body_bytes)
    typed = {"answer_text": ANSWER, "finished": "0", "completion_date": "2031-05-20", "message": "Kính trình <anh> duyệt & cho ý kiến."}
    r = filed.client.post(f"{page}/draft", headers=staff, data=typed, files=[("files", ("lon.pdf", big, "application/pdf"))])
    assert r.status_code == 413 and r.headers["content-type"].startswith("text/html")
    box = r.text.split('id="error-draft"')[1].split("</div>")[0]
    assert "Biểu mẫu chưa được gửi" in box and "Chưa có gì được lưu" in box and "977 KB" in box  # the form's limit, as its hint says
    assert box.index('lang="vi"') < box.index('lang="en"') and "The form was not sent" in box
    form = r.text.split(f'action="{page}/draft"')[1].split("</form>")[0]
    assert f">{ANSWER}</textarea>" in form and "Kính trình &lt;anh&gt; duyệt &amp; cho ý kiến." in form  # typed text kept, escaped
    assert 'value="2031-05-20"' in form and re.search(r'value="0" checked', form)
    assert filed.rows() == [] and filed.stored() == []
    shown = filed.client.get(page, headers=leader).text
    assert "tl-drafted" not in shown and "Đang xử lý" in shown  # the step did not happen

    en = filed.client.post(f"{page}/log?lang=en", headers=staff, data={"text": "Đã lập biên bản kiểm tra hiện trường."},
                           files=[("files", ("lon.pdf", big, "application/pdf"))])
    assert en.status_code == 413 and 'id="error-log"' in en.text
    box = en.text.split('id="error-log"')[1].split("</div>")[0]
    assert box.index('lang="en"') < box.index('lang="vi"') and "The form was not sent" in box and "Nothing was saved" in box
    assert "Đã lập biên bản kiểm tra hiện trường.</textarea>" in en.text and "<details class=\"more\" id=\"act-log\" open>" in en.text

    # without a length (chunked), the same page
    boundary = "paht-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nGhi chú dài\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"lon.pdf\"\r\n"
            f"Content-Type: application/pdf\r\n\r\n").encode() + big + f"\r\n--{boundary}--\r\n".encode()

    def chunks():
        for start in range(0, len(body), 64 * 1024):
            yield body[start:start + 64 * 1024]

    chunked = filed.client.post(f"{page}/log", headers={**staff, "content-type": f"multipart/form-data; boundary={boundary}"}, content=chunks())
    assert chunked.status_code == 413 and "Ghi chú dài</textarea>" in chunked.text and 'id="error-log"' in chunked.text
    assert filed.rows() == [] and filed.stored() == []


def test_programs_keep_the_json_413(filed):
    rid, leader, staff = filed.case_with_staff()
    big = pdf(pad=filed.settings.max_body_bytes)
    # a page path asked by a caller that reads JSON only
    r = filed.client.post(f"/handling/cases/{rid}/draft", headers={**staff, "accept": "application/json"}, data={"answer_text": ANSWER},
                          files=[("files", ("lon.pdf", big, "application/pdf"))])
    assert r.status_code == 413 and r.json()["error"]["code"] == "error.body_too_large"
    # a form to an API path (here the upload route, where a form keeps the ordinary limit)
    r = filed.client.post(f"/api/handling/v1/cases/{rid}/files", headers=staff, files=[("file", ("lon.pdf", big, "application/pdf"))])
    assert r.status_code == 413 and r.json()["error"]["code"] == "error.body_too_large"
    assert filed.rows() == [] and filed.stored() == []


def test_a_browser_form_over_the_limit_still_needs_its_csrf_token(filed):
    """The form cut for its size goes through the CSRF guard like any other: a forged one is refused (403)."""
    rid, leader, staff = filed.case_with_staff()
    page = f"/handling/cases/{rid}"
    filed.client.cookies.set(TOKEN_COOKIE, token_for(filed.settings, "canbo", ["staff"], "so-gtvt-kcht"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', filed.client.get(page).text).group(1)
    big = [("files", ("lon.pdf", pdf(pad=filed.settings.max_body_bytes), "application/pdf"))]
    assert filed.client.post(f"{page}/log", data={"text": "Ghi chú"}, files=big).status_code == 403
    shown = filed.client.post(f"{page}/log", data={"csrf_token": token, "text": "Ghi chú"}, files=big)
    assert shown.status_code == 413 and "Ghi chú</textarea>" in shown.text
    assert filed.rows() == [] and filed.stored() == []


def test_a_browser_form_with_files_passes_the_csrf_guard_only_with_its_token(filed):
    rid, leader, staff = filed.case_with_staff()
    page = f"/handling/cases/{rid}"
    filed.client.cookies.set(TOKEN_COOKIE, token_for(filed.settings, "canbo", ["staff"], "so-gtvt-kcht"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', filed.client.get(page).text).group(1)
    assert filed.client.cookies.get(CSRF_COOKIE) == token
    note = {"text": "Đã lập biên bản kiểm tra hiện trường."}
    refused = filed.client.post(f"{page}/log", data=note, files=[("files", ("a.pdf", pdf(), "application/pdf"))])
    assert refused.status_code == 403 and filed.rows() == []
    done = filed.client.post(f"{page}/log", data={**note, "csrf_token": token}, files=[("files", ("a.pdf", pdf(), "application/pdf"))])
    assert done.status_code == 303, done.text
    assert [row.attached_to.split(":")[0] for row in filed.rows()] == ["log"]


def test_the_support_answer_form_carries_files_and_the_lead_unit_sees_them(filed):
    rid, leader, staff = filed.case_with_staff()
    due = (datetime.now(PROVINCE_TIME) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    assert filed.client.post(f"/handling/cases/{rid}/support", headers=leader,
                             data={"org_id": "so-xd-qhkt", "question": "Đề nghị cung cấp bản đồ quy hoạch khu vực.", "due_at": due}).status_code == 303
    receiver = as_(filed.settings, "truongphong-qhkt", "unit_leader", "so-xd-qhkt")
    link = filed.client.get("/handling/support", headers=receiver).text.split('href="/handling/support/')[1].split('"')[0]
    page = f"/handling/support/{link}"
    assert filed.client.post(f"{page}/accept", headers=receiver, data={"staff_subject": "canbo-qhkt"}).status_code == 303
    worker = as_(filed.settings, "canbo-qhkt", "staff", "so-xd-qhkt")
    form = filed.client.get(page, headers=worker).text.split(f'action="{page}/answer"')[1].split("</form>")[0]
    assert 'enctype="multipart/form-data"' in form and 'name="files" multiple' in form
    r = filed.client.post(f"{page}/answer", headers=worker, data={"answer_text": "Gửi kèm bản đồ quy hoạch tỷ lệ 1/2000."},
                          files=[("files", ("MZ.pdf", b"MZ\x90\x00" + bytes(500), "application/pdf"))])
    assert r.status_code == 422 and "Windows" in r.text and filed.rows() == []
    r = filed.client.post(f"{page}/answer", headers=worker, data={"answer_text": "Gửi kèm bản đồ quy hoạch tỷ lệ 1/2000."},
                          files=[("files", ("ban-do.pdf", pdf(), "application/pdf"))])
    assert r.status_code == 303, r.text
    (row,) = filed.rows()
    assert row.attached_to == f"support:{link}" and row.support_id == link
    files = filed.client.get(f"/handling/cases/{rid}", headers=leader).text.split('id="files"')[1].split("</section>")[0]
    assert "ban-do.pdf" in files and "Trả lời phối hợp" in files and f"/api/handling/v1/files/{row.id}" in files
    # the support request's own page lists them too, for both sides, each link by the download's own rule
    for who in (leader, receiver, worker):
        listed = filed.client.get(page, headers=who).text.split('id="support-files"')[1].split("</section>")[0]
        assert f'href="/api/handling/v1/files/{row.id}" download>ban-do.pdf</a>' in listed
        assert filed.client.get(f"/api/handling/v1/files/{row.id}", headers=who).status_code == 200
    assert filed.client.get(page, headers=as_(filed.settings, "x", "unit_leader", "so-tttt")).status_code == 404


def test_a_support_answer_over_the_limit_comes_back_on_the_support_page(filed):
    rid, leader, staff = filed.case_with_staff()
    due = (datetime.now(PROVINCE_TIME) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    assert filed.client.post(f"/handling/cases/{rid}/support", headers=leader,
                             data={"org_id": "so-xd-qhkt", "question": "Đề nghị cung cấp bản đồ quy hoạch khu vực.", "due_at": due}).status_code == 303
    receiver = as_(filed.settings, "truongphong-qhkt", "unit_leader", "so-xd-qhkt")
    link = filed.client.get("/handling/support", headers=receiver).text.split('href="/handling/support/')[1].split('"')[0]
    page = f"/handling/support/{link}"
    assert filed.client.post(f"{page}/accept", headers=receiver, data={"staff_subject": "canbo-qhkt"}).status_code == 303
    worker = as_(filed.settings, "canbo-qhkt", "staff", "so-xd-qhkt")
    r = filed.client.post(f"{page}/answer", headers=worker, data={"answer_text": "Gửi kèm bản đồ quy hoạch tỷ lệ 1/2000."},
                          files=[("files", ("ban-do.pdf", pdf(pad=filed.settings.max_body_bytes), "application/pdf"))])
    assert r.status_code == 413 and 'id="error-answer"' in r.text and "Biểu mẫu chưa được gửi" in r.text
    assert "Gửi kèm bản đồ quy hoạch tỷ lệ 1/2000.</textarea>" in r.text and 'id="support-files"' not in r.text
    assert filed.rows() == [] and filed.stored() == []
    assert "Đã tiếp nhận, đang phối hợp" in filed.client.get(page, headers=worker).text  # not answered


def test_the_leader_assigns_others_with_the_one_in_charge_and_they_keep_the_work_log(ctx, client, settings):
    rid = new_id()
    deliver(ctx, dispatched(ctx, rid))
    page = f"/handling/cases/{rid}"
    leader = as_(settings, "truongphong", "unit_leader", "so-gtvt-kcht")
    helper = as_(settings, "canbo2", "staff", "so-gtvt-kcht")
    client.post(f"{page}/assign-unit", headers=as_(settings, "sogtvt", "agency_coordinator", "so-gtvt"), data={"unit_id": "so-gtvt-kcht"})
    shown = client.get(page, headers=leader)
    assert 'name="co_staff" value="canbo2"' in shown.text and "Cán bộ cùng xử lý" in shown.text
    r = client.post(f"{page}/assign-staff", headers=leader, data={"staff_subject": "canbo", "co_staff": ["canbo2", "ghost-nobody"]})
    assert r.status_code == 422 and "ghost-nobody" in r.text  # one unknown name: nobody is assigned
    assert client.get(page, headers=helper).status_code == 404
    r = client.post(f"{page}/assign-staff", headers=leader, data={"staff_subject": "canbo", "co_staff": ["canbo2"]})
    assert r.status_code == 303
    mine = client.get(page, headers=helper)
    assert mine.status_code == 200 and f'action="{page}/log"' in mine.text and f'action="{page}/draft"' not in mine.text
    assert 'cùng xử lý Cán bộ KCHT 2 <span class="muted">(canbo2)</span>' in mine.text  # by name, the account after it
    assert rid in client.get("/handling/", headers=helper).text
    assert client.post(f"{page}/log", headers=helper, data={"text": "Đã chụp ảnh hiện trường lúc 7 giờ."}).status_code == 303
    shown = client.get(page, headers=leader)
    assert "Đã chụp ảnh hiện trường lúc 7 giờ." in shown.text and 'value="canbo2" checked' in shown.text
