"""Handling's pages over HTTP (no browser): the case page shows what the person's role allows, each form posts to
its use case and comes back with a 303, a refusal comes back on the page in both languages with its 4xx status."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from paht.runtime.ids import new_id
from services.handling import bootstrap
from services.handling.service_layer.handlers import PROVINCE_TIME
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
