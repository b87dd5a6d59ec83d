"""Real Chromium, phone-sized (360x740), on the reporter's own report page: the answer for them alone, the notices
they were sent (when, which channel, what), nothing sideways, and the Web Push button only where a VAPID key is set.

Intake runs in-process here (its real app on a real database, served by uvicorn); the answer arrives as publication's
ResultPublished through intake's consumer path (inbox, order), and the notices are sent by the sender's own pass."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.sync_api import expect

from paht.publication.v1 import events_pb2 as publication_ev
from paht.runtime.events.consumer import Outcome
from paht.runtime.mail import DevOutboxEmail
from paht.runtime.sms import DevOutboxSms
from paht.runtime.webpush import DevOutboxPush, VapidWebPush
from services.intake.bootstrap import SPEC, build_http
from services.intake.service_layer import handlers, notices, submission
from tests.e2e.test_browser import DESK, PHONE, browser, shots  # noqa: F401  (fixtures)
from tests.e2e.test_intake_pages import assert_readable, open_page
from tests.integration.test_reporter_notices import envelope
from tests.support.live_server import live_server
from tests.support.reporters import reporter_session
from tests.support.services import deliver, migrated_context, principal
from tests.support.taxonomy import FakeTaxonomy

IOC = principal("ioc", ["ioc_operator"], "ioc-tinh")
ANSWER = ("Kính gửi bà Thu: UBND phường Đồng Hới đã xử lý hộ gia đình đổ rác trái phép dưới chân cầu Nhật Lệ 2 "
          "và lắp biển cấm đổ rác; đề nghị bà tiếp tục phản ánh nếu tình trạng tái diễn.")


@pytest.fixture
def ctx(tmp_path):
    """Intake alone on its own schema (no NATS here: the conftest's `settings` would clean streams up with asyncio.run,
    which Playwright's running loop forbids)."""
    from tests.conftest import _drop_schemas
    from tests.support.services import test_settings

    tag = "t" + uuid.uuid4().hex[:8]
    context = migrated_context(SPEC, test_settings(tmp_path, db_schema_prefix=f"{tag}_", node_id=tag,
                                                   public_url="https://paht.quangbinh.gov.vn"))
    yield context
    context.engine.dispose()
    _drop_schemas(f"{tag}_")


def answered_privately(ctx):
    """A private report, accepted, answered to its reporter alone; every notice sent."""
    cmd = submission.SubmitReport(name="Phan Thị Thu", phone="0912345678", email="thu@example.vn", title="Rác thải đổ trộm ven sông Nhật Lệ",
                                  description="Nhiều bao rác sinh hoạt bị đổ trộm dưới chân cầu Nhật Lệ 2 từ tuần trước.",
                                  lat=17.46, lon=106.63, private_result=True)
    report = submission.submit_report(ctx.uow(), FakeTaxonomy(), cmd).report
    handlers.accept_report(ctx.uow(), FakeTaxonomy(), IOC, report.id, "road-damage", False, "")
    event = publication_ev.ResultPublished(answer_text=ANSWER, visibility=publication_ev.VISIBILITY_REPORTER_ONLY, on_time=True)
    event.published_at.FromDatetime(datetime.now(timezone.utc))
    assert deliver(ctx, envelope(ctx, "publication", event, report.id, 1)) is Outcome.APPLIED
    folder = ctx.settings.data / "dev-outbox"
    ports = notices.Ports(sms=DevOutboxSms(folder), email=DevOutboxEmail(folder), push=DevOutboxPush(folder))
    assert notices.send_due(ctx.uow, ports, ctx.settings.public_url) == 4
    return report


def signed_in(context, base_url: str, ctx, phone: str = "0912345678") -> None:
    token = reporter_session(ctx, phone=phone, origin="web")["Authorization"].removeprefix("Bearer ")
    context.add_cookies([{"name": "paht_reporter", "value": token, "url": base_url}])


def test_the_reporter_reads_their_private_answer_and_what_they_were_told_on_a_phone(ctx, browser, shots):  # noqa: F811
    report = answered_privately(ctx)
    app = build_http(ctx, FakeTaxonomy())
    with live_server(app) as base_url:
        context, page = open_page(browser, base_url, PHONE)
        try:
            signed_in(context, base_url, ctx)
            page.goto(f"/intake/me/{report.tracking_code}")  # the link every notice carries
            answer = page.locator("#answer")
            expect(answer.get_by_role("heading", name="Kết quả trả lời")).to_be_visible()
            expect(answer).to_contain_text(ANSWER)
            expect(answer).to_contain_text("chỉ gửi riêng cho bạn, không công khai")
            expect(page.get_by_role("heading", name="Thông báo đã gửi cho bạn")).to_be_visible()
            items = page.locator("ol.notices > li")
            expect(items).to_have_count(4)
            expect(items.filter(has_text="tin nhắn SMS").first).to_contain_text(f"PAHT: Phan anh {report.tracking_code} da duoc tiep nhan.")
            expect(items.filter(has_text="tin nhắn SMS").last).to_contain_text("co ket qua tra loi rieng cho ban")
            expect(items.filter(has_text="thư điện tử").last).to_contain_text(ANSWER)
            expect(items.first).to_contain_text(f"/intake/me/{report.tracking_code}")
            expect(page.locator("#push-subscribe")).to_have_count(0)  # no VAPID key: no button
            assert_readable(page)  # the long links wrap: nothing scrolls sideways on a phone
            shots(page, "intake-my-report-answer-phone")
        finally:
            context.close()
        # someone else signed in on another phone sees nothing of it
        context, page = open_page(browser, base_url, PHONE)
        try:
            signed_in(context, base_url, ctx, phone="0987654321")
            response = page.goto(f"/intake/me/{report.tracking_code}")
            assert response.status == 404
            expect(page.locator("body")).not_to_contain_text("hộ gia đình đổ rác")
        finally:
            context.close()


def test_the_push_button_is_offered_where_a_vapid_key_is_set(ctx, browser):  # noqa: F811
    report = answered_privately(ctx)
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                                 serialization.NoEncryption())
    ctx.notice_ports = notices.Ports(sms=DevOutboxSms(ctx.settings.data), email=DevOutboxEmail(ctx.settings.data),
                                     push=VapidWebPush(pem, "mailto:ioc@quangbinh.gov.vn"))
    app = build_http(ctx, FakeTaxonomy())
    with live_server(app) as base_url:
        context, page = open_page(browser, base_url, DESK)
        try:
            signed_in(context, base_url, ctx)
            page.goto(f"/intake/me/{report.id}")
            button = page.get_by_role("button", name="Nhận thông báo trên trình duyệt này")
            expect(button).to_be_visible()
            assert button.get_attribute("data-key") == ctx.notice_ports.push.public_key
            assert_readable(page)
        finally:
            context.close()
