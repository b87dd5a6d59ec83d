"""Step 1 at the IOC over HTTP on a real database: edit requests, verification calls, refusals only at will,
duplicates (marked and suggested), the state-secret flag, messages and SMS to the reporter, the history, and two
operators acting on one report at once (real concurrent requests; PostgreSQL when DATABASE_URL is set)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from paht.intake.v1 import events_pb2 as ev
from paht.runtime.app import make_app
from services.intake.adapters.orm import report_history, reports
from services.intake.bootstrap import SPEC
from services.intake.entrypoints import api, my_api, triage_api
from services.intake.service_layer import submission
from tests.integration.test_handling_races import together
from tests.support.live_server import live_server
from tests.support.services import migrated_context, outbox_envelopes, token_for
from tests.support.taxonomy import FakeTaxonomy

pytestmark = pytest.mark.integration
PHONE = "0912345678"
WHAT = "Vui lòng bổ sung ảnh chụp ổ gà và số nhà gần nhất."


class Phone:
    """The reporter's phone as the SMS gateway sees it (paht.runtime.sms's interface); `broken` makes it fail."""

    def __init__(self, broken: bool = False):
        self.sent: list[tuple[str, str, str]] = []
        self.broken = broken

    def send(self, phone: str, text: str, *, purpose: str, key: str | None = None) -> str:
        if self.broken:
            raise ConnectionError("the SMS provider is down")
        self.sent.append((phone, text, purpose))
        return f"sms-{len(self.sent)}"


def deliver_notices(ctx, settings, sms) -> int:
    """What intake's background sender does in a pass: send the reporters' notices due (e-mail and push to the outboxes)."""
    from paht.runtime.mail import DevOutboxEmail
    from paht.runtime.webpush import DevOutboxPush
    from services.intake.service_layer import notices

    folder = settings.data / "dev-outbox"
    return notices.send_due(ctx.uow, notices.Ports(sms=sms, email=DevOutboxEmail(folder), push=DevOutboxPush(folder)), settings.public_url)


def intake_app(ctx):
    """Intake's submission, step-1 and reporter routes (the reporter's notices are sent by the background sender)."""
    taxonomy = FakeTaxonomy()
    app = make_app(ctx, "PAHT intake (test)", "step 1")
    app.include_router(api.build_router(ctx, taxonomy))
    app.include_router(triage_api.build_router(ctx, taxonomy))
    app.include_router(my_api.build_router(ctx, taxonomy))
    return app


@pytest.fixture
def ctx(settings):
    context = migrated_context(SPEC, settings)
    yield context
    context.engine.dispose()


@pytest.fixture
def phone():
    return Phone()


@pytest.fixture
def client(ctx):
    return TestClient(intake_app(ctx))


def ioc(settings, user="ioc", roles=("ioc_operator",)):
    return {"Authorization": "Bearer " + token_for(settings, user, list(roles), "ioc-tinh")}


def submit(ctx, phone: str = PHONE, email: str = "thu@example.vn", **change) -> str:
    """A report as the reporter's app sends it (through the submission use case)."""
    values = dict(name="Phan Thị Thu", phone=phone, email=email, title="Ổ gà lớn trên đường Quang Trung",
                  description="Ổ gà rộng nửa mét giữa làn xe máy trước số nhà 120, rất nguy hiểm vào ban đêm.",
                  topic_code="road-damage", lat=17.4683, lon=106.6222, address_text="120 Quang Trung, Đồng Hới")
    values.update(change)
    return submission.submit_report(ctx.uow(), FakeTaxonomy(), submission.SubmitReport(**values)).report.id


def events_of(ctx, rid: str) -> list:
    return [e.decode() for e in outbox_envelopes(ctx) if e.report_id == rid]


def kinds(ctx, rid: str) -> list[str]:
    return [type(e).__name__ for e in events_of(ctx, rid)]


def versions(ctx, rid: str) -> list[int]:
    return [e.report_version for e in outbox_envelopes(ctx) if e.report_id == rid]


def history_of(client, settings, rid: str) -> list[dict]:
    r = client.get(f"/api/intake/v1/reports/{rid}/history", headers=ioc(settings))
    assert r.status_code == 200, r.text
    return r.json()["items"]


# ---- edit requests and SMS ---------------------------------------------------------------------------------

def test_an_edit_request_waits_two_days_for_the_reporter_who_hears_of_it_by_sms(ctx, client, settings, phone):
    rid = submit(ctx)
    before = datetime.now(timezone.utc)
    r = client.post(f"/api/intake/v1/reports/{rid}/request-edit", json={"what": WHAT}, headers=ioc(settings))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["edit_request"]) == ("edit_requested", WHAT)
    due = datetime.fromisoformat(body["edit_due"])
    assert before + timedelta(hours=48) <= due <= datetime.now(timezone.utc) + timedelta(hours=48)
    event = events_of(ctx, rid)[-1]
    assert isinstance(event, ev.EditRequested) and event.what == WHAT
    assert event.edit_due.ToDatetime(tzinfo=timezone.utc) == due and versions(ctx, rid) == [1, 2]
    assert deliver_notices(ctx, settings, phone) == 2  # the SMS and the e-mail (the reporter gave an address)
    (to, text, purpose), = phone.sent
    assert to == PHONE and purpose == "notice_edit_requested" and text.isascii() and len(text) <= 160
    # what to complete (as much as one SMS holds), the tracking code, and never the report's own content
    assert body["tracking_code"] in text and "bo sung anh chup" in text.lower() and "Quang Trung" not in text
    lines = history_of(client, settings, rid)
    assert [(x["action"], x["actor_kind"], x["actor"], x["to_reporter"]) for x in lines] == [
        ("submitted", "reporter", None, True), ("edit_requested", "staff", "ioc", True)]
    assert lines[1]["text"] == WHAT
    again = client.post(f"/api/intake/v1/reports/{rid}/request-edit", json={"what": WHAT}, headers=ioc(settings))
    assert again.status_code == 409 and again.json()["error"]["code"] == "error.conflict_state"


def test_a_failed_sms_never_undoes_the_action(ctx, settings):
    client = TestClient(intake_app(ctx))
    rid = submit(ctx)
    r = client.post(f"/api/intake/v1/reports/{rid}/request-edit", json={"what": WHAT}, headers=ioc(settings))
    assert r.status_code == 200 and r.json()["status"] == "edit_requested"
    m = client.post(f"/api/intake/v1/reports/{rid}/message", json={"text": "Xin gửi thêm ảnh chụp ban ngày."}, headers=ioc(settings))
    assert m.status_code == 200
    deliver_notices(ctx, settings, Phone(broken=True))  # the gateway is down: the notices wait for another try
    assert kinds(ctx, rid) == ["ReportSubmitted", "EditRequested"]
    assert [x["action"] for x in history_of(client, settings, rid)] == ["submitted", "edit_requested", "message"]


def test_the_sms_gateway_plugs_into_the_sender(ctx, client, settings):
    from paht.runtime.sms import sms_from

    gateway = sms_from(settings)  # the development outbox outside production
    rid = submit(ctx)
    assert client.post(f"/api/intake/v1/reports/{rid}/request-edit", json={"what": WHAT}, headers=ioc(settings)).status_code == 200
    deliver_notices(ctx, settings, gateway)
    (sms,) = gateway.recent(PHONE)
    assert sms["purpose"] == "notice_edit_requested" and sms["text"].startswith("PAHT: Bo sung phan anh") and sms["text"].isascii()
    assert sms["key"].endswith(":sms")  # the row's idempotency key travels to the provider


def test_a_message_to_the_reporter_is_a_history_line_they_see_and_an_sms_that_only_says_to_look(ctx, client, settings, phone):
    rid = submit(ctx)
    text = "Trung tâm IOC đã nhận phản ánh, chúng tôi sẽ gọi lại để xác minh."
    r = client.post(f"/api/intake/v1/reports/{rid}/message", json={"text": text}, headers=ioc(settings))
    assert r.status_code == 200 and r.json()["status"] == "submitted"
    deliver_notices(ctx, settings, phone)
    (to, sms, purpose), = phone.sent
    assert (to, purpose) == (PHONE, "notice_message") and sms.isascii() and r.json()["tracking_code"] in sms and "xac minh" not in sms
    line = history_of(client, settings, rid)[-1]
    assert (line["action"], line["text"], line["to_reporter"], line["actor"]) == ("message", text, True, "ioc")
    assert kinds(ctx, rid) == ["ReportSubmitted"]  # a message changes no state: no event


# ---- verification calls ------------------------------------------------------------------------------------

def test_verification_calls_keep_the_first_deadline_and_reaching_the_reporter_stops_it(ctx, client, settings):
    rid = submit(ctx)
    url = f"/api/intake/v1/reports/{rid}/call"
    first = client.post(url, json={"outcome": "not_reached", "note": "Máy bận"}, headers=ioc(settings)).json()
    second = client.post(url, json={"outcome": "not_reached"}, headers=ioc(settings)).json()
    assert first["verify_due"] and second["verify_due"] == first["verify_due"]
    reached = client.post(url, json={"outcome": "reached", "note": "Người phản ánh xác nhận"}, headers=ioc(settings)).json()
    assert (reached["verify_due"], reached["verification"], reached["status"]) == (None, "call", "submitted")
    calls = [e for e in events_of(ctx, rid) if isinstance(e, ev.VerificationCallRecorded)]
    assert [c.outcome for c in calls] == ["not_reached", "not_reached", "reached"]
    assert calls[0].verify_due == calls[1].verify_due and not calls[2].HasField("verify_due")
    lines = [x for x in history_of(client, settings, rid) if x["action"] == "call_recorded"]
    assert lines[0]["text"] == "không liên hệ được — Máy bận" and not any(x["to_reporter"] for x in lines)


def test_a_call_that_reaches_someone_else_cancels_at_once(ctx, client, settings):
    rid = submit(ctx)
    r = client.post(f"/api/intake/v1/reports/{rid}/call", json={"outcome": "not_the_reporter"}, headers=ioc(settings))
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert kinds(ctx, rid) == ["ReportSubmitted", "VerificationCallRecorded", "ReportCancelled"] and versions(ctx, rid) == [1, 2, 3]
    cancelled = events_of(ctx, rid)[-1]
    assert cancelled.reason == ev.REFUSAL_REASON_VERIFICATION_FAILED and "không phải là người phản ánh" in cancelled.reason_text
    assert [x["action"] for x in history_of(client, settings, rid)] == ["submitted", "call_recorded", "cancelled"]


# ---- refusals and duplicates -------------------------------------------------------------------------------

@pytest.mark.parametrize("reason, path", [("duplicate", "mark as duplicate"), ("verification_failed", "verification calls"),
                                          ("edit_not_done", "request an edit")])
def test_refusing_at_will_with_a_reason_that_has_its_own_path_is_a_422_saying_which(ctx, client, settings, reason, path):
    rid = submit(ctx)
    r = client.post(f"/api/intake/v1/reports/{rid}/refuse", json={"reason": reason, "reason_text": "Lý do nhập tay"}, headers=ioc(settings))
    assert r.status_code == 422 and path in r.json()["error"]["detail"]["en"] and r.json()["error"]["detail"]["vi"]
    assert kinds(ctx, rid) == ["ReportSubmitted"]
    ok = client.post(f"/api/intake/v1/reports/{rid}/refuse", json={"reason": "out_of_scope", "reason_text": "Không thuộc phạm vi tiếp nhận."},
                     headers=ioc(settings))
    assert ok.status_code == 200 and ok.json()["status"] == "refused"
    assert history_of(client, settings, rid)[-1]["text"] == "Không thuộc phạm vi tiếp nhận."


def test_a_duplicate_is_linked_to_the_same_reporter_s_earlier_report(ctx, client, settings):
    first = submit(ctx)
    other_person = submit(ctx, phone="0987654321", email="nam@example.vn")
    same_phone_other_email = submit(ctx, email="thu.phan@example.vn")
    again = submit(ctx)
    url = f"/api/intake/v1/reports/{again}/duplicate"
    assert client.post(url, json={"of": again}, headers=ioc(settings)).status_code == 422
    assert client.post(url, json={"of": other_person}, headers=ioc(settings)).status_code == 422
    assert client.post(url, json={"of": "không-có"}, headers=ioc(settings)).status_code == 404
    later = client.post(f"/api/intake/v1/reports/{first}/duplicate", json={"of": again}, headers=ioc(settings))
    assert later.status_code == 422 and "before this one" in later.json()["error"]["detail"]["en"]
    assert kinds(ctx, again) == ["ReportSubmitted"]
    r = client.post(url, json={"of": same_phone_other_email, "note": "Đã gửi hôm qua."}, headers=ioc(settings))
    assert r.status_code == 200 and (r.json()["status"], r.json()["duplicate_of"]) == ("refused", same_phone_other_email)
    refused = events_of(ctx, again)[-1]
    assert refused.reason == ev.REFUSAL_REASON_DUPLICATE and refused.duplicate_of == same_phone_other_email
    assert refused.reason_text == "Phản ánh trùng, lặp lại của cùng 01 cá nhân, tổ chức gửi."  # the public reason: no note, no code
    line = history_of(client, settings, again)[-1]
    assert line["action"] == "duplicate" and line["to_reporter"] and "Đã gửi hôm qua." in line["text"]


# ---- the state-secret flag ---------------------------------------------------------------------------------

def test_the_state_secret_flag_is_the_ioc_s_at_any_status(ctx, client, settings):
    rid = submit(ctx)
    staff = ioc(settings, "canbo", ("staff",))
    assert client.post(f"/api/intake/v1/reports/{rid}/classify", json={"state_secret": True}, headers=staff).status_code == 403
    assert client.post(f"/api/intake/v1/reports/{rid}/accept", json={"topic_code": "road-damage"}, headers=ioc(settings)).status_code == 200
    url = f"/api/intake/v1/reports/{rid}/classify"
    r = client.post(url, json={"state_secret": True, "note": "Liên quan khu vực quân sự"}, headers=ioc(settings))
    assert r.status_code == 200 and r.json()["state_secret"] is True
    assert client.post(url, json={"state_secret": True}, headers=ioc(settings)).status_code == 200  # no change: no event
    assert client.post(url, json={"state_secret": False}, headers=ioc(settings)).json()["state_secret"] is False
    assert [e.state_secret for e in events_of(ctx, rid) if isinstance(e, ev.ReportClassified)] == [True, False]
    assert versions(ctx, rid) == [1, 2, 3, 4]
    lines = [x for x in history_of(client, settings, rid) if x["action"] == "classified"]
    assert len(lines) == 2 and not any(x["to_reporter"] for x in lines) and "quân sự" in lines[0]["text"]


# ---- suggestions, contact, history -------------------------------------------------------------------------

def test_duplicate_suggestions_name_their_reason_and_merge_nothing(ctx, client, settings):
    earlier = submit(ctx, title="Đường Quang Trung có ổ gà rất lớn", description="Ổ gà to trước nhà số 120 Quang Trung, xe máy dễ ngã.")
    unrelated = submit(ctx, title="Karaoke hát to sau 23 giờ", description="Quán karaoke ở phường Đồng Phú hát to đến nửa đêm.",
                       topic_code="traffic-safety", lat=17.47, lon=106.60)
    near = submit(ctx, phone="0987654321", email="nam@example.vn", title="Hố sâu trên mặt đường",
                  description="Mặt đường bị sụt thành hố sâu, nguy hiểm cho người đi đường.", lat=17.4694, lon=106.6222)  # ~120 m north
    far = submit(ctx, phone="0987654322", email="lan@example.vn", title="Hố sâu trên mặt đường",
                 description="Mặt đường bị sụt thành hố sâu.", lat=17.4719, lon=106.6222)  # ~400 m
    other_topic = submit(ctx, phone="0987654323", email="hai@example.vn", title="Xe đỗ sai quy định",
                         description="Xe tải đỗ chắn lối đi trước cổng trường.", topic_code="traffic-safety", lat=17.4684, lon=106.6223)
    refused = submit(ctx, phone="0987654324", email="an@example.vn", title="Hố sâu trên mặt đường",
                     description="Mặt đường bị sụt thành hố sâu nguy hiểm.", lat=17.4685, lon=106.6222)
    body = {"reason": "unclear_or_test", "reason_text": "Gửi thử hệ thống."}
    assert client.post(f"/api/intake/v1/reports/{refused}/refuse", json=body, headers=ioc(settings)).status_code == 200
    rid = submit(ctx)  # the same reporter, the same pothole
    r = client.get(f"/api/intake/v1/reports/{rid}/duplicates", headers=ioc(settings))
    assert r.status_code == 200, r.text
    items = {i["report"]["id"]: i for i in r.json()["items"]}
    assert set(items) == {earlier, near}, [i["report"]["title"] for i in r.json()["items"]]
    assert unrelated not in items and far not in items and other_topic not in items and refused not in items
    mine = items[earlier]
    assert mine["same_reporter"] and mine["earlier"] and mine["similarity"] >= 0.5
    assert mine["reasons"][0]["vi"] == "cùng người phản ánh, nội dung tương tự" and mine["distance_m"] == pytest.approx(0, abs=1)
    assert len(mine["reasons"]) == 2  # also within 250 m with the same topic
    assert items[near]["reasons"] == [{"en": "within 122 m, same topic", "vi": "cách 122 m, cùng lĩnh vực"}]
    assert not items[near]["same_reporter"]
    with ctx.engine.connect() as conn:  # suggested, never merged
        assert conn.execute(select(func.count()).select_from(reports).where(reports.c.status == "submitted")).scalar_one() == 6
    assert client.get(f"/api/intake/v1/reports/{rid}/duplicates", headers=ioc(settings, "canbo", ("staff",))).status_code == 403


def test_seeing_the_reporter_s_contact_is_a_history_line_the_reporter_does_not_see(ctx, client, settings):
    rid = submit(ctx)
    r = client.post(f"/api/intake/v1/reports/{rid}/contact", json={"purpose": "Gọi điện xác minh vị trí"}, headers=ioc(settings))
    assert r.status_code == 200 and r.json()["phone"] == PHONE
    line = history_of(client, settings, rid)[-1]
    assert (line["action"], line["actor"], line["text"], line["to_reporter"]) == ("contact_seen", "ioc", "Gọi điện xác minh vị trí", False)
    listing = client.get(f"/api/intake/v1/reports/{rid}/history", headers=ioc(settings)).text
    assert PHONE not in listing and "thu@example.vn" not in listing


@pytest.mark.parametrize("path, body", [
    ("request-edit", {"what": "Bổ sung\x00 ảnh"}), ("request-edit", {"what": "abc"}), ("request-edit", {"what": "x" * 2001}),
    ("call", {"outcome": "busy"}), ("call", {"outcome": "reached", "note": "ghi\u202echú"}), ("call", {"outcome": "reached", "extra": 1}),
    ("duplicate", {"of": "r\x00"}), ("classify", {"state_secret": "có"}), ("message", {"text": ""}), ("message", {"text": "Tin\x00 nhắn"}),
    ("refuse", {"reason": "boring", "reason_text": "Không rõ ràng"}),
])
def test_bad_input_to_every_action_is_a_4xx_in_both_languages_and_changes_nothing(ctx, client, settings, path, body):
    rid = submit(ctx)
    r = client.post(f"/api/intake/v1/reports/{rid}/{path}", json=body, headers=ioc(settings))
    assert 400 <= r.status_code < 500 and r.status_code != 404, r.text
    assert r.json()["error"]["message"]["vi"] and "\x00" not in r.text
    assert kinds(ctx, rid) == ["ReportSubmitted"]
    assert [x["action"] for x in history_of(client, settings, rid)] == ["submitted"]
    assert client.get(f"/api/intake/v1/reports/{rid}", headers=ioc(settings)).json()["status"] == "submitted"


def test_every_action_needs_an_ioc_sign_in(ctx, client, settings):
    rid = submit(ctx)
    staff = ioc(settings, "canbo", ("staff",))
    for path, body in [("request-edit", {"what": WHAT}), ("call", {"outcome": "reached"}), ("duplicate", {"of": rid}),
                       ("classify", {"state_secret": True}), ("message", {"text": "Xin chào"})]:
        assert client.post(f"/api/intake/v1/reports/{rid}/{path}", json=body).status_code == 401
        assert client.post(f"/api/intake/v1/reports/{rid}/{path}", json=body, headers=staff).status_code == 403
    assert client.get(f"/api/intake/v1/reports/{rid}/history").status_code == 401
    assert kinds(ctx, rid) == ["ReportSubmitted"]


# ---- two operators at once ---------------------------------------------------------------------------------

ROUNDS = 4
# Pairs of actions that exclude each other whichever comes first ("EARLIER": the same reporter's earlier report).
RACES = [
    ("accept", {"topic_code": "road-damage"}, "refuse", {"reason": "unclear_or_test", "reason_text": "Nội dung không rõ ràng."}),
    ("request-edit", {"what": WHAT}, "request-edit", {"what": "Vui lòng ghi rõ số nhà."}),
    ("duplicate", {"of": "EARLIER"}, "call", {"outcome": "not_the_reporter"}),
]


@pytest.mark.parametrize("first, first_body, second, second_body", RACES, ids=[f"{r[0]}-vs-{r[2]}" for r in RACES])
def test_two_operators_acting_on_one_report_at_once_one_wins_the_other_hears_why(ctx, settings, first, first_body, second, second_body):
    a, b = ioc(settings, "ioc"), ioc(settings, "ioc2")
    earlier = submit(ctx)
    first_body, second_body = ({k: earlier if v == "EARLIER" else v for k, v in body.items()} for body in (first_body, second_body))
    with live_server(intake_app(ctx)) as url:
        for _ in range(ROUNDS):
            rid = submit(ctx)
            base = f"{url}/api/intake/v1/reports/{rid}"
            answers = together(("POST", f"{base}/{first}", first_body, a), ("POST", f"{base}/{second}", second_body, b))
            assert sorted(x.status_code for x in answers) == [200, 409], [x.text for x in answers]
            loser = next(x for x in answers if x.status_code == 409).json()["error"]
            assert loser["code"] == "error.conflict_state" and loser["detail"]["vi"] and loser["detail"]["en"] != loser["detail"]["vi"]
            assert "This step is not possible now" in loser["detail"]["en"]  # decided again on the report as it now is
            done = kinds(ctx, rid)[1:]
            assert done == {"accept": ["ReportAccepted"], "refuse": ["ReportRefused"], "request-edit": ["EditRequested"],
                            "duplicate": ["ReportRefused"], "call": ["VerificationCallRecorded", "ReportCancelled"]}[
                                first if answers[0].status_code == 200 else second]
            assert versions(ctx, rid) == list(range(1, len(done) + 2))  # no gap, no repeat
            with ctx.engine.connect() as conn:  # one history line per event: none of the loser's
                lines = conn.execute(select(func.count()).select_from(report_history).where(report_history.c.report_id == rid)).scalar_one()
            assert lines == len(done) + 1


def test_a_report_changed_under_an_operator_s_feet_is_decided_again_not_overwritten(ctx, client, settings):
    rid = submit(ctx)
    with ctx.engine.begin() as conn:  # someone else's decision landed meanwhile, behind the screen's back
        conn.execute(update(reports).where(reports.c.id == rid).values(status="refused", version=reports.c.version + 1))
    r = client.post(f"/api/intake/v1/reports/{rid}/accept", json={"topic_code": "road-damage"}, headers=ioc(settings))
    assert r.status_code == 409 and "refused" in r.json()["error"]["detail"]["en"]
