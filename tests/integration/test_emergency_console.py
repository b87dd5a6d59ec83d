"""The dispatch console, the Steering Committee page and the emergency desk page on a real database, through their
forms as a browser sends them (staff cookie, CSRF field): who may see what, one-click dispatch, refusals shown in
the person's language, forwarding to 113/114/115 and its acknowledgement, and the Committee's decision."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from html import unescape
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from paht.runtime.http import TOKEN_COOKIE
from paht.runtime.ids import new_id
from paht.runtime.sla import default_engine
from services.dispatch.bootstrap import SPEC, build_http, seed
from services.dispatch.domain.dispatching import DispatchItem
from tests.support.services import migrated_context, outbox_envelopes, token_for

pytestmark = pytest.mark.integration
SAME_SITE = {"Origin": "http://testserver"}


@pytest.fixture
def dispatch(settings):
    ctx = migrated_context(SPEC, settings)
    seed(ctx)
    yield ctx
    ctx.engine.dispose()


def report(ctx, topic: str, urgent: bool = False, minutes_ago: float = 5, area: str = "18880", now: datetime | None = None) -> str:
    rid = new_id()
    with ctx.uow() as uow:
        uow.items.add(DispatchItem.accepted(rid, (now or datetime.now(timezone.utc)) - timedelta(minutes=minutes_ago), urgent, topic, "g",
                                            default_engine(), location=(17.4683, 106.6222), area_code=area))
        uow.commit()
    return rid


def browser(ctx, settings, subject: str, role: str, org_unit: str, lang: str = "vi") -> TestClient:
    client = TestClient(build_http(ctx), headers={"Accept-Language": lang})
    client.cookies.set(TOKEN_COOKIE, token_for(settings, subject, [role], org_unit, name=subject))
    return client


def text_of(html: str) -> str:
    """What a person reads: the page without its tags, spaces collapsed."""
    main = html[html.find("<main"):html.find("</main>")]
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", main)))


def post_form(client: TestClient, page: str, action: str, data: dict | list) -> object:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get(page).text).group(1)
    fields = list(data.items()) if isinstance(data, dict) else list(data)  # a list of pairs: a field given several times
    body = urlencode([*fields, ("csrf_token", token)])
    return client.post(action, content=body, headers={**SAME_SITE, "Content-Type": "application/x-www-form-urlencoded"},
                       follow_redirects=False)


def events_of(ctx, rid: str) -> list[str]:
    return [e.type.rsplit(".", 1)[1] for e in outbox_envelopes(ctx) if e.report_id == rid]


def test_signed_out_people_sign_in_and_others_get_a_polite_403(dispatch, settings):
    anonymous = TestClient(build_http(dispatch))
    for path in ("/dispatch/console", "/dispatch/steering", "/dispatch/emergency"):
        r = anonymous.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/auth/login?next={path}"
    staff = browser(dispatch, settings, "canbo", "staff", "so-gtvt-kcht")
    page = staff.get("/dispatch/console")
    assert page.status_code == 403
    said = text_of(page.text)
    assert "Trang này dành cho vai trò khác" in said and "Cán bộ Trung tâm IOC" in said and "Mã lỗi 403" in said
    english = browser(dispatch, settings, "canbo", "staff", "so-gtvt-kcht", lang="en").get("/dispatch/steering")
    assert english.status_code == 403 and "Steering Committee member" in text_of(english.text)
    ioc = browser(dispatch, settings, "ioc", "ioc_operator", "ioc-tinh")
    assert ioc.get("/dispatch/emergency").status_code == 403
    rid = report(dispatch, "traffic-safety")
    staff.get("/dispatch/console")  # the 403 page still hands out the form token; the role decides
    token = staff.cookies.get("paht_csrf")
    refused = staff.post(f"/dispatch/console/reports/{rid}/dispatch", data={"agency_id": "so-gtvt", "csrf_token": token}, headers=SAME_SITE)
    assert refused.status_code == 403 and "Trang này dành cho" in text_of(refused.text) and events_of(dispatch, rid) == []


def test_the_console_lists_urgent_first_with_time_left_topic_area_and_suggestions(dispatch, settings, monkeypatch):
    # A working morning in Vietnam, whatever the time the test runs: at night every step-2 deadline is 07:00.
    morning = datetime.now(timezone.utc).replace(hour=3, minute=0, second=0, microsecond=0)  # 10:00 in Vietnam

    class Morning(datetime):
        @classmethod
        def now(cls, tz=None):
            return morning if tz is not None else morning.replace(tzinfo=None)

    from services.dispatch.entrypoints import console

    monkeypatch.setattr(console, "datetime", Morning)
    calm = report(dispatch, "traffic-safety", minutes_ago=50, now=morning)        # 50 of 60 minutes used: amber
    late = report(dispatch, "littering", minutes_ago=75, now=morning)             # overdue: red
    urgent = report(dispatch, "crime", urgent=True, minutes_ago=2, now=morning)  # urgent: on top whatever its deadline
    page = browser(dispatch, settings, "ioc", "ioc_operator", "ioc-tinh").get("/dispatch/console")
    assert page.status_code == 200
    html = page.text
    order = [html.find(f'id="r-{rid}"') for rid in (urgent, late, calm)]
    assert -1 not in order and order == sorted(order)
    said = text_of(html)
    assert "Chờ chuyển cơ quan chủ trì: 3" in said
    assert re.search(r"KHẨN CẤP Hoạt động tội phạm, vi phạm pháp luật trong hạn Còn [78] phút", said)
    assert re.search(r"sắp đến hạn Sắp hết hạn: còn (9|10) phút", said)
    assert re.search(r"quá hạn Quá hạn 1[45] phút", said)
    assert "Địa bàn Phường Đồng Hới (18880)" in said
    assert "Có thẩm quyền lĩnh vực a (an ninh, trật tự, an toàn giao thông), lĩnh vực chính của chủ đề." in said
    assert "Chuyển cho Công an tỉnh Quảng Bình" in said
    assert html.count('name="csrf_token"') >= 9 and 'name="service" value="114"' in html
    assert html.count('action="/dispatch/console/reports/%s/emergency"' % urgent) == 1
    assert 'action="/dispatch/console/reports/%s/emergency"' % calm not in html  # only urgent reports go to 113/114/115
    assert '<script src="/dispatch/static/console.js" defer></script>' in html and "<script>" not in html


def test_an_editor_sees_the_console_but_has_no_forms(dispatch, settings):
    report(dispatch, "traffic-safety")
    page = browser(dispatch, settings, "bientap", "ioc_editor", "ioc-tinh").get("/dispatch/console")
    assert page.status_code == 200 and "Chỉ xem" in text_of(page.text)
    assert "/dispatch/console/reports/" not in page.text


def test_one_click_dispatch_and_a_refusal_shown_in_the_persons_language(dispatch, settings):
    rid = report(dispatch, "traffic-safety")
    ioc = browser(dispatch, settings, "ioc", "ioc_operator", "ioc-tinh")
    # another agency without competence and without a reason: the page says why, keeps what was typed, no 500
    r = post_form(ioc, "/dispatch/console", f"/dispatch/console/reports/{rid}/dispatch",
                  {"other_agency_id": "so-dl", "note": "Ghi chú của tôi", "competence_reason": ""})
    assert r.status_code == 422
    said = text_of(r.text)
    assert "Không thực hiện được" in said and "không có thẩm quyền về lĩnh vực nào của chủ đề" in said
    assert 'value="Ghi chú của tôi"' in r.text and re.search(r'<details class="more" open>\s*<summary>Chuyển cơ quan khác', r.text)
    en = browser(dispatch, settings, "ioc", "ioc_operator", "ioc-tinh", lang="en")
    r = post_form(en, "/dispatch/console", f"/dispatch/console/reports/{rid}/dispatch", {"other_agency_id": "so-dl"})
    assert r.status_code == 422 and "is not competent for any field of this report's topic" in text_of(r.text)
    # one click on a suggestion
    r = post_form(ioc, "/dispatch/console", f"/dispatch/console/reports/{rid}/dispatch", {"agency_id": "cong-an-tinh"})
    assert r.status_code == 303 and r.headers["location"].startswith("/dispatch/console?done=dispatched")
    after = ioc.get(r.headers["location"])
    assert "Đã chuyển phản ánh" in text_of(after.text) and f'id="r-{rid}"' not in after.text
    assert events_of(dispatch, rid) == ["ReportDispatched"]
    again = post_form(ioc, "/dispatch/console", f"/dispatch/console/reports/{rid}/dispatch", {"agency_id": "so-gtvt"})
    assert again.status_code == 409 and "đã được chuyển cho cơ quan chủ trì" in text_of(again.text)
    assert post_form(ioc, "/dispatch/console", f"/dispatch/console/reports/{rid}/nonsense", {}).status_code == 404
    assert ioc.get("/dispatch/console", params={"cursor": "not-a-cursor"}).status_code == 422


def test_forward_to_114_is_shown_pending_then_the_desk_acknowledges_it(dispatch, settings):
    rid = report(dispatch, "crime", urgent=True, minutes_ago=1)
    ioc = browser(dispatch, settings, "ioc", "ioc_operator", "ioc-tinh")
    r = post_form(ioc, "/dispatch/console", f"/dispatch/console/reports/{rid}/emergency",
                  {"service": "114", "note": "Cháy nhà 3 tầng, có người mắc kẹt"})
    assert r.status_code == 303 and "done=forwarded" in r.headers["location"] and r.headers["location"].endswith("#forwards")
    said = text_of(ioc.get(r.headers["location"]).text)
    assert "Đã chuyển phản ánh" in said and "114 Chữa cháy, cứu nạn cứu hộ" in said and "đang gửi đến trực ban" in said
    assert "Đã chuyển 114 đúng hạn khẩn cấp" in said and "✔ 114 Chữa cháy, cứu nạn cứu hộ · đã chuyển" in said
    twice = post_form(ioc, "/dispatch/console", f"/dispatch/console/reports/{rid}/emergency", {"service": "114"})
    assert twice.status_code == 409 and "Phản ánh này đã được chuyển cho 114" in text_of(twice.text)

    desk = browser(dispatch, settings, "truc114", "emergency_desk", "emergency-114")
    page = desk.get("/dispatch/emergency")
    assert page.status_code == 200 and "Cháy nhà 3 tầng, có người mắc kẹt" in text_of(page.text)
    assert "Phản ánh khẩn cấp" in text_of(page.text) and "Hoạt động tội phạm, vi phạm pháp luật" in text_of(page.text)
    other_desk = browser(dispatch, settings, "truc113", "emergency_desk", "emergency-113")
    assert "Cháy nhà 3 tầng" not in other_desk.get("/dispatch/emergency").text
    forward_id = re.search(r'action="/dispatch/emergency/([^/"]+)/ack"', page.text).group(1)
    wrong = post_form(other_desk, "/dispatch/emergency", f"/dispatch/emergency/{forward_id}/ack", {"note": "nhầm"})
    assert wrong.status_code == 403 and "không phải đơn vị của bạn" in text_of(wrong.text)
    ok = post_form(desk, "/dispatch/emergency", f"/dispatch/emergency/{forward_id}/ack", {"note": "Đã điều 2 xe", "reference": "114-77"})
    assert ok.status_code == 303
    assert "Đã xác nhận" in text_of(desk.get(ok.headers["location"]).text)
    assert events_of(dispatch, rid) == ["EmergencyForwarded", "EmergencyAcknowledged"]
    assert "Không có yêu cầu chuyển khẩn cấp nào đang chờ xác nhận" in text_of(ioc.get("/dispatch/console").text)


def test_an_unacknowledged_forward_turns_red_on_top(dispatch, settings):
    rid = report(dispatch, "crime", urgent=True, minutes_ago=1)
    ioc = browser(dispatch, settings, "ioc", "ioc_operator", "ioc-tinh")
    post_form(ioc, "/dispatch/console", f"/dispatch/console/reports/{rid}/emergency", {"service": "113"})
    with dispatch.uow() as uow:  # as if the forward was made four minutes ago (the timeout is three)
        (forward,) = uow.forwards.of_report(rid)
        forward.forwarded_at -= timedelta(minutes=4)
        uow.commit()
    html = ioc.get("/dispatch/console").text
    said = text_of(html)
    assert html.find('id="late"') < html.find('id="forwards"') < html.find(f'id="r-{rid}"')
    assert "⚠ Chưa được xác nhận quá 3 phút: 1" in said and "QUÁ THỜI GIAN CHỜ XÁC NHẬN" in said


def test_escalation_then_the_steering_committee_designates_the_lead_agency(dispatch, settings):
    rid = report(dispatch, "street-encroachment")
    ioc = browser(dispatch, settings, "ioc", "ioc_operator", "ioc-tinh")
    short = post_form(ioc, "/dispatch/console", f"/dispatch/console/reports/{rid}/escalate",
                      [("candidate_ids", "so-gtvt"), ("reason", "Hai sở chưa thống nhất")])
    assert short.status_code == 422  # one agency only: the Committee decides between several
    r = post_form(ioc, "/dispatch/console", f"/dispatch/console/reports/{rid}/escalate",
                  [("candidate_ids", "so-gtvt"), ("candidate_ids", "so-xd"), ("candidate_ids", ""),
                   ("reason", "Sở GTVT và Sở Xây dựng chưa thống nhất cơ quan chủ trì")])
    assert r.status_code == 303 and "done=escalated" in r.headers["location"]
    said = text_of(ioc.get(r.headers["location"]).text)
    assert "Đang chờ Ban Chỉ đạo quyết định: 1" in said and "Sở Giao thông vận tải, Sở Xây dựng" in said

    member = browser(dispatch, settings, "bcd", "steering_member", "ban-chi-dao")
    page = member.get("/dispatch/steering")
    said = text_of(page.text)
    assert page.status_code == 200 and "Sở GTVT và Sở Xây dựng chưa thống nhất cơ quan chủ trì" in said and "Giao chủ trì" in said
    bad = post_form(member, "/dispatch/steering", f"/dispatch/steering/reports/{rid}/decision", {"agency_id": "so-xd", "decision": "ngắn"})
    assert bad.status_code == 422 and "Quyết định của Ban Chỉ đạo quá ngắn" in text_of(bad.text)
    r = post_form(member, "/dispatch/steering", f"/dispatch/steering/reports/{rid}/decision",
                  {"agency_id": "so-xd", "decision": "Giao Sở Xây dựng chủ trì xử lý việc lấn chiếm."})
    assert r.status_code == 303 and "Không có phản ánh nào chờ Ban Chỉ đạo quyết định" in text_of(member.get(r.headers["location"]).text)
    assert events_of(dispatch, rid) == ["ReportEscalated", "ReportDispatched"]
    assert ioc.get("/dispatch/console").text.count(f'id="r-{rid}"') == 0


def test_a_report_refused_by_its_agency_comes_back_with_the_reason(dispatch, settings):
    from paht.handling.v1 import events_pb2 as handling_ev
    from tests.support.handling import envelope
    from tests.support.services import deliver

    rid = report(dispatch, "traffic-safety")
    ioc = browser(dispatch, settings, "ioc", "ioc_operator", "ioc-tinh")
    assert post_form(ioc, "/dispatch/console", f"/dispatch/console/reports/{rid}/dispatch", {"agency_id": "so-gtvt"}).status_code == 303
    refusal = handling_ev.CaseRefusedByAgency(reason="Việc đỗ xe thuộc thẩm quyền Công an")
    refusal.agency.id = "so-gtvt"
    deliver(dispatch, envelope(dispatch, "handling", refusal, rid, 1))
    said = text_of(ioc.get("/dispatch/console").text)
    assert "Cơ quan Sở Giao thông vận tải đã từ chối (lượt 1): “Việc đỗ xe thuộc thẩm quyền Công an”" in said
