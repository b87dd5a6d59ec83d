"""Submitting on a real database: the channel from the credential, idempotent resends, history, events, Open311's command."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from paht.intake.v1 import events_pb2 as ev
from paht.runtime.errors import InvalidInput
from services.intake.adapters.orm import report_history, reports
from services.intake.bootstrap import SPEC, build_http
from services.intake.service_layer import submission
from services.intake.service_layer.open311 import open311_submission, title_from
from services.intake.service_layer.partners import PartnerApp
from tests.support.reporters import reporter_session
from tests.support.services import migrated_context, outbox_envelopes, token_for
from tests.support.taxonomy import FakeTaxonomy

pytestmark = pytest.mark.integration

REPORT = {
    "reporter": {"name": "Công ty TNHH Nhật Lệ", "email": "lienhe@nhatle.vn", "kind": "organisation"},
    "title": "Cột điện nghiêng sát nhà dân",
    "description": "Cột điện trước số 45 Lý Thường Kiệt nghiêng khoảng 20 độ sau bão, dây điện võng thấp.",
    "location": {"lat": 17.4702, "lon": 106.6188},
    "acknowledged": True,
}


@pytest.fixture
def app(settings):
    ctx = migrated_context(SPEC, settings)
    yield ctx, TestClient(build_http(ctx, FakeTaxonomy()))
    ctx.engine.dispose()


def staff(settings, roles=("ioc_operator",)):
    return {"Authorization": "Bearer " + token_for(settings, "tongdai1", list(roles), "ioc-tinh")}


def submitted_events(ctx) -> list[ev.ReportSubmitted]:
    return [e.decode() for e in outbox_envelopes(ctx) if e.type.endswith("ReportSubmitted")]


def test_a_reporter_app_session_submits_on_the_app_channel_with_the_verified_phone(app):
    ctx, client = app
    occurred = (datetime.now(timezone.utc) - timedelta(hours=3)).isoformat()
    r = client.post("/api/intake/v1/reports", json={**REPORT, "occurred_at": occurred, "urgent_service": "114"},
                    headers=reporter_session(ctx, "0905111222", origin="app"))
    assert r.status_code == 201, r.text
    assert (r.json()["channel"], r.json()["verification"]) == ("app", "otp")
    (event,) = submitted_events(ctx)
    assert event.channel == ev.CHANNEL_APP and event.verification == "otp" and event.reporter_kind == "organisation"
    assert event.urgent and event.urgent_service == "114" and event.HasField("occurred_at")
    raw = event.SerializeToString()
    assert b"905111222" not in raw and b"nhatle.vn" not in raw and "Nhật Lệ".encode() not in raw
    with ctx.engine.connect() as conn:
        line = conn.execute(select(report_history).where(report_history.c.report_id == r.json()["id"])).one()
    assert (line.action, line.actor_kind, line.to_reporter) == ("submitted", "reporter", True)


def test_a_web_session_is_the_web_channel_and_another_phone_than_the_verified_one_is_refused(app):
    ctx, client = app
    headers = reporter_session(ctx, "0905111222", origin="web")
    r = client.post("/api/intake/v1/reports", json={**REPORT, "reporter": {**REPORT["reporter"], "phone": "+84 905 111 222"}}, headers=headers)
    assert r.status_code == 201 and r.json()["channel"] == "web"
    r = client.post("/api/intake/v1/reports", json={**REPORT, "reporter": {**REPORT["reporter"], "phone": "0987654321"}}, headers=headers)
    assert r.status_code == 422 and "đã xác thực" in r.json()["error"]["detail"]["vi"]


def test_without_a_credential_nothing_is_stored_and_the_answer_says_how_to_sign_in(app):
    ctx, client = app
    for headers in ({}, {"Authorization": "Bearer rpt_not-a-session"}, {"X-API-Key": "not-a-key"}):
        r = client.post("/api/intake/v1/reports", json=REPORT, headers=headers)
        assert r.status_code == 401, r.text
        assert "OTP" in r.json()["error"]["detail"]["vi"] and r.json()["error"]["detail"]["en"]
    assert outbox_envelopes(ctx) == []


def test_the_call_centre_enters_a_callers_report_and_marks_the_phone_verified_by_the_call(app, settings):
    ctx, client = app
    body = {**REPORT, "reporter": {"name": "Lê Văn Nam", "email": "nam@example.vn", "phone": "0911000111"}, "phone_verified": True}
    r = client.post("/api/intake/v1/reports", json=body, headers=staff(settings))
    assert r.status_code == 201, r.text
    assert (r.json()["channel"], r.json()["verification"]) == ("call_center", "call")
    no_phone = {**body, "reporter": {"name": "Lê Văn Nam", "email": "nam@example.vn"}}
    assert client.post("/api/intake/v1/reports", json=no_phone, headers=staff(settings)).status_code == 422
    unverified = client.post("/api/intake/v1/reports", json={**body, "phone_verified": False}, headers=staff(settings))
    assert unverified.json()["verification"] == "none"
    # a staff member who is not at the IOC does not enter reports for callers
    assert client.post("/api/intake/v1/reports", json=body, headers=staff(settings, ("staff",))).status_code == 401
    # a reporter cannot claim a verifying call
    r = client.post("/api/intake/v1/reports", json={**REPORT, "phone_verified": True}, headers=reporter_session(ctx))
    assert r.status_code == 422
    with ctx.engine.connect() as conn:
        actors = conn.execute(select(report_history.c.actor_kind, report_history.c.actor)).all()
    assert set(actors) == {("staff", "tongdai1")}


@pytest.mark.parametrize("change, fragment", [
    ({"occurred_at": (datetime.now(timezone.utc) + timedelta(hours=2)).isoformat()}, "tương lai"),
    ({"occurred_at": "2026-11-28T08:30:00"}, "timezone"),
    ({"urgent_service": "116"}, "urgent_service"),
    ({"reporter": {**REPORT["reporter"], "kind": "robot"}}, "kind"),
    ({"media": ["x"] * 9}, "media"),
])
def test_bad_fields_are_refused_before_anything_is_stored(app, change, fragment):
    ctx, client = app
    r = client.post("/api/intake/v1/reports", json={**REPORT, **change}, headers=reporter_session(ctx))
    assert r.status_code == 422, r.text
    assert fragment in r.text
    assert outbox_envelopes(ctx) == []


def test_a_resend_with_the_same_idempotency_key_is_the_same_report(app):
    ctx, client = app
    headers = {**reporter_session(ctx), "Idempotency-Key": "draft-7f3a"}
    first = client.post("/api/intake/v1/reports", json=REPORT, headers=headers)
    again = client.post("/api/intake/v1/reports", json=REPORT, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200) and first.json() == again.json()
    other_sender = client.post("/api/intake/v1/reports", json=REPORT, headers={**reporter_session(ctx, "0905111222"), "Idempotency-Key": "draft-7f3a"})
    assert other_sender.status_code == 201 and other_sender.json()["id"] != first.json()["id"]
    assert len(submitted_events(ctx)) == 2


def test_an_idempotency_key_too_long_or_with_controls_is_refused_in_both_languages(app):
    ctx, client = app
    for key in ("k" * 201, "draft\u0007bell"):
        r = client.post("/api/intake/v1/reports", json=REPORT, headers={**reporter_session(ctx), "Idempotency-Key": key})
        assert r.status_code == 422, r.text
        detail = r.json()["error"]["detail"]
        assert "Idempotency-Key" in detail["en"] and "Idempotency-Key" in detail["vi"]
    assert outbox_envelopes(ctx) == []


def test_a_double_tap_sent_at_once_stores_one_report(app):
    """Eight copies of one submission at the same instant (on PostgreSQL: really concurrent): one report, one event."""
    ctx, _ = app
    cmd = dict(name="Phan Thị Thu", phone="0912345678", email="thu@example.vn", title="Rác thải đổ trộm ven sông",
               description="Nhiều bao rác bị đổ trộm dưới chân cầu Nhật Lệ 2.", lat=17.46, lon=106.63,
               owner="reporter:abc", idempotency_key="tap-1", channel="app", verification="otp")
    start, results, errors = threading.Barrier(8), [], []

    def tap():
        start.wait()
        try:
            results.append(submission.submit_report(ctx.uow(), FakeTaxonomy(), submission.SubmitReport(**cmd)).report.id)
        except Exception as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)

    threads = [threading.Thread(target=tap) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(results)) == 1
    with ctx.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(reports)).scalar_one() == 1
    assert len(submitted_events(ctx)) == 1


def test_topics_come_from_the_taxonomy_with_suggestions_for_the_text(app):
    _, client = app
    body = client.get("/api/intake/v1/topics", params={"text": "Đổ rác thải bừa bãi ven sông"}).json()
    assert {t["code"] for t in body["items"]} >= {"waste-dumping", "road-damage"}
    assert body["suggested"][0] == "waste-dumping"
    assert client.get("/api/intake/v1/topics").json()["suggested"] == []


PARTNER = PartnerApp(id="smartcity-donghoi", name="Đồng Hới SmartCity", channel_name="smartcity-donghoi", rate_per_minute=60,
                     verifies_phone=True, active=True)
OPEN311 = {"service_code": "waste-dumping", "lat": "17.468", "long": "106.622", "first_name": "Hoa", "last_name": "Nguyễn",
           "email": "hoa@example.vn", "phone": "0912345678",
           "description": "Bãi rác tự phát ở cuối đường Hà Huy Tập. Mùi hôi ảnh hưởng cả khu dân cư."}


def test_the_open311_command_is_a_submission_on_the_open311_channel(app):
    ctx, _ = app
    cmd = open311_submission(PARTNER, OPEN311, idempotency_key="311-1")
    assert (cmd.channel, cmd.channel_name, cmd.verification, cmd.title) == ("open311", "smartcity-donghoi", "partner",
                                                                           "Bãi rác tự phát ở cuối đường Hà Huy Tập")
    done = submission.submit_report(ctx.uow(), FakeTaxonomy(), cmd)
    assert done.report.channel == "open311" and done.report.lat == 17.468 and done.report.topic_code == "waste-dumping"
    assert open311_submission(PARTNER, {**OPEN311, "media_url": "http://10.0.0.1/x.jpg"}).media_ids == []  # never fetched
    for change, field in [({"service_code": ""}, "service_code"),
                          ({"first_name": "", "last_name": ""}, "first_name"), ({"lat": "abc"}, "lat"), ({"email": ""}, "email")]:
        with pytest.raises(InvalidInput) as refused:
            open311_submission(PARTNER, {**OPEN311, **change})
        assert refused.value.params.get("field") == field


def test_an_open311_title_is_the_first_sentence_cut_at_a_word():
    assert title_from("Đèn đường hỏng. Tối om cả khu.") == "Đèn đường hỏng"
    long = "Nước thải từ khu chế biến hải sản chảy tràn ra đường " * 4
    assert len(title_from(long)) <= 81 and title_from(long).endswith("…") and not title_from(long)[:-1].endswith(" ")


def test_a_draft_resent_after_signing_in_anew_is_still_the_same_report(app):
    """The answer was lost, the reporter verified the phone again, the app resends the draft: one report."""
    ctx, client = app
    first = client.post("/api/intake/v1/reports", json=REPORT, headers={**reporter_session(ctx), "Idempotency-Key": "draft-lost"})
    again = client.post("/api/intake/v1/reports", json=REPORT, headers={**reporter_session(ctx), "Idempotency-Key": "draft-lost"})
    assert (first.status_code, again.status_code) == (201, 200) and first.json()["id"] == again.json()["id"]
    assert len(submitted_events(ctx)) == 1
