"""The reporter is told of every change of their report, on a real database (PostgreSQL when DATABASE_URL is set) and,
for the other services' events, through a real NATS server and intake's real consumers: the rows written with the
change, the development outboxes the sender writes to, no second notice for an event seen twice, a gateway that fails
and then works, two senders at once, and the private answer on the reporter's own page and API only."""
from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from paht.dispatch.v1 import events_pb2 as dispatch_ev
from paht.handling.v1 import events_pb2 as handling_ev
from paht.publication.v1 import events_pb2 as publication_ev
from paht.runtime.events import bus
from paht.runtime.events.consumer import EventConsumer, Outcome
from paht.runtime.events.envelope import Envelope, subject_for
from paht.runtime.host import build_context
from paht.runtime.mail import DevOutboxEmail
from paht.runtime.sms import DevOutboxSms
from paht.runtime.webpush import DevOutboxPush, PushSubscription
from services.intake.adapters.orm import reporter_notifications
from services.intake.bootstrap import SPEC, build_http
from services.intake.service_layer import handlers, notices, submission, triage
from tests.support.reporters import reporter_session
from tests.support.services import deliver, eventually, migrated_context, principal
from tests.support.taxonomy import FakeTaxonomy

pytestmark = pytest.mark.integration
IOC = principal("ioc", ["ioc_operator"], "ioc-tinh")
PHONE, EMAIL = "0912345678", "thu@example.vn"
ANSWER = "Kính gửi bà Thu: Phường đã xử lý hộ gia đình đổ rác trái phép và lắp biển cấm đổ rác tại chân cầu."


def _browser() -> PushSubscription:
    """A browser's subscription: a real P-256 public key and a 16-byte secret, as PushSubscription.toJSON() gives."""
    import os

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from paht.runtime.webpush import b64url

    public = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(serialization.Encoding.X962,
                                                                               serialization.PublicFormat.UncompressedPoint)
    return PushSubscription("https://push.example.net/send/browser-1", b64url(public), b64url(os.urandom(16)))


BROWSER = _browser()


@pytest.fixture
def ctx(settings):
    context = migrated_context(SPEC, settings.model_copy(update={"public_url": "https://paht.quangbinh.gov.vn"}))
    yield context
    context.engine.dispose()


def outboxes(ctx) -> notices.Ports:
    folder = ctx.settings.data / "dev-outbox"
    return notices.Ports(sms=DevOutboxSms(folder), email=DevOutboxEmail(folder), push=DevOutboxPush(folder))


def submit(ctx, phone=PHONE, email=EMAIL, private=False, title="Rác thải đổ trộm ven sông Nhật Lệ"):
    cmd = submission.SubmitReport(name="Phan Thị Thu", phone=phone, email=email, title=title,
                                  description="Nhiều bao rác sinh hoạt bị đổ trộm dưới chân cầu Nhật Lệ 2 từ tuần trước.",
                                  lat=17.46, lon=106.63, private_result=private)
    return submission.submit_report(ctx.uow(), FakeTaxonomy(), cmd).report


def envelope(ctx, producer: str, event, report_id: str, version: int, at: datetime | None = None) -> Envelope:
    """An event as its producer's outbox would carry it."""
    event.meta.report_id, event.meta.report_version, event.meta.node_id = report_id, version, ctx.settings.node_id
    event.meta.occurred_at.FromDatetime(at or datetime.now(timezone.utc))
    return Envelope.for_event(event, node_id=ctx.settings.node_id, service=producer, report_id=report_id, version=version,
                              traceparent="", tracestate="")


def rows(ctx, report_id: str | None = None) -> list[dict]:
    n = reporter_notifications.c
    query = select(reporter_notifications).order_by(n.created_at, n.channel)
    if report_id:
        query = query.where(n.report_id == report_id)
    with ctx.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def subscribe_browser(ctx, phone=PHONE):
    with ctx.uow() as uow:
        uow.notices.subscribe("b1-" + phone, phone, BROWSER, datetime.now(timezone.utc))
        uow.commit()


def dispatched(agency="Sở Tài nguyên và Môi trường") -> dispatch_ev.ReportDispatched:
    return dispatch_ev.ReportDispatched(lead_agency={"id": "so-tnmt", "name": agency}, round=1, title="Rác thải")


def unit_assigned() -> handling_ev.CaseAssigned:
    return handling_ev.CaseAssigned(level=handling_ev.ASSIGNMENT_LEVEL_UNIT, unit={"id": "so-tnmt-ctr", "name": "Phòng Quản lý chất thải rắn"})


def staff_assigned() -> handling_ev.CaseAssigned:
    return handling_ev.CaseAssigned(level=handling_ev.ASSIGNMENT_LEVEL_STAFF, staff_subject="canbo")


def published(visibility: int, text: str = ANSWER) -> publication_ev.ResultPublished:
    event = publication_ev.ResultPublished(answer_text=text, visibility=visibility, on_time=True)
    event.published_at.FromDatetime(datetime.now(timezone.utc))
    return event


# ---- through NATS and the real consumers ------------------------------------------------------------------

def test_every_change_reaches_the_reporter_through_the_real_consumers_and_the_outboxes(ctx, settings, nats_url):
    subscribe_browser(ctx)
    report = submit(ctx, private=True)
    handlers.accept_report(ctx.uow(), FakeTaxonomy(), IOC, report.id, "road-damage", False, "")  # intake's own change: same transaction
    assert [(r["kind"], r["channel"]) for r in rows(ctx)] == [("accepted", "email"), ("accepted", "push"), ("accepted", "sms")]
    stream = [("dispatch", dispatched(), 1), ("handling", unit_assigned(), 1), ("handling", staff_assigned(), 2),
              ("publication", published(publication_ev.VISIBILITY_REPORTER_ONLY), 1),
              ("publication", publication_ev.ClarificationPublished(clarification_id="c1", text="Đội thu gom sẽ dọn xong trước ngày 20."), 2)]
    sent = [envelope(ctx, producer, event, report.id, version) for producer, event, version in stream]

    async def scenario():
        nc = await bus.connect(nats_url, "test")
        js = nc.jetstream()
        for producer in ("dispatch", "handling", "publication"):
            await bus.ensure_stream(js, ctx.settings.node_id, producer)
        applier = ctx.applier()
        consumers = [EventConsumer(js, ctx.settings.node_id, "intake", sub, applier) for sub in SPEC.subscriptions(ctx)]
        tasks = [asyncio.create_task(c.run()) for c in consumers]
        try:
            for env in sent + [sent[0]]:  # the first one twice: the same event id (dropped by JetStream's window)
                await js.publish(subject_for(ctx.settings.node_id, env.producer, env.type), env.data, headers=env.headers())
            assert await eventually(lambda: len(rows(ctx)) == 15, timeout=20), [r["kind"] for r in rows(ctx)]
            await asyncio.sleep(0.3)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await nc.close()

    asyncio.run(scenario())
    kinds = [r["kind"] for r in rows(ctx) if r["channel"] == "sms"]
    # each stream in its own order (its consumer's); a staff member's assignment is internal: not told
    assert sorted(kinds) == sorted(["accepted", "dispatched", "in_handling", "answered_privately", "clarified"])
    # a redelivery past JetStream's window is the inbox's: applied once, no second notice
    assert deliver(ctx, sent[0]) is Outcome.DUPLICATE and len(rows(ctx)) == 15
    with ctx.uow() as uow:
        stored = uow.reports.get(report.id)
        assert (stored.answer_text, stored.answer_visibility) == (ANSWER, "reporter_only")

    assert notices.send_due(ctx.uow, outboxes(ctx), ctx.settings.public_url) == 15
    assert {r["status"] for r in rows(ctx)} == {"sent"}
    folder = ctx.settings.data / "dev-outbox"
    sms = {m["purpose"]: m for m in DevOutboxSms(folder).recent(PHONE)}
    link = f"https://paht.quangbinh.gov.vn/intake/me/{report.tracking_code}"
    assert sorted(sms) == ["notice_accepted", "notice_answered_privately", "notice_clarified", "notice_dispatched", "notice_in_handling"]
    for m in sms.values():
        assert m["text"].isascii() and len(m["text"]) <= 160 and report.tracking_code in m["text"] and m["text"].endswith(link)
        assert "Phan Thi Thu" not in m["text"] and PHONE not in m["text"]
    assert "So Tai nguyen va Moi truong" in sms["notice_dispatched"]["text"]
    assert "Phong Quan ly chat thai ran" in sms["notice_in_handling"]["text"]
    private = sms["notice_answered_privately"]["text"]
    assert "ho gia dinh" not in private and "rieng cho ban" in private  # the private answer is never in an SMS
    mails = {m["purpose"]: m for m in DevOutboxEmail(folder).sent()}
    assert len(mails) == 5 and {m["to"] for m in mails.values()} == {EMAIL}
    assert ANSWER in mails["notice_answered_privately"]["text"] and mails["notice_accepted"]["subject"].startswith("[PAHT] Phản ánh")
    pushes = DevOutboxPush(folder).sent()
    assert len(pushes) == 5 and {p["endpoint"] for p in pushes} == {BROWSER.endpoint} and {p["payload"]["url"] for p in pushes} == {link}
    assert all("hộ gia đình" not in p["payload"]["body"] for p in pushes)
    assert notices.send_due(ctx.uow, outboxes(ctx), ctx.settings.public_url) == 0  # never twice


# ---- the same event twice; a state secret -----------------------------------------------------------------

def test_an_event_seen_twice_makes_one_notice_even_past_the_inbox(ctx):
    report = submit(ctx)
    env = envelope(ctx, "dispatch", dispatched(), report.id, 1)
    assert deliver(ctx, env) is Outcome.APPLIED and deliver(ctx, env) is Outcome.DUPLICATE
    assert [(r["kind"], r["channel"], r["key"]) for r in rows(ctx)] == [
        ("dispatched", "email", f"{env.id}:email"), ("dispatched", "sms", f"{env.id}:sms")]
    with ctx.uow() as uow:  # the key alone also refuses a second notice (a replayed dead letter, a second consumer)
        again = notices.tell(uow, uow.reports.get(report.id), env.id, notices.words.dispatched(report.tracking_code, "Sở Tài chính"))
        uow.commit()
    assert again == 0 and len(rows(ctx)) == 2


def test_an_old_change_read_late_is_applied_but_not_told(ctx):
    report = submit(ctx)
    old = envelope(ctx, "publication", published(publication_ev.VISIBILITY_PUBLIC), report.id, 1,
                   at=datetime.now(timezone.utc) - notices.HORIZON - timedelta(hours=1))
    assert deliver(ctx, old) is Outcome.APPLIED
    with ctx.uow() as uow:
        assert uow.reports.get(report.id).answer_text == ANSWER  # kept for the page
    assert rows(ctx) == []


def test_a_state_secrets_answer_is_neither_kept_nor_told_only_that_it_was_concluded(ctx):
    report = submit(ctx)
    secret = "Nội dung tuyệt mật về vị trí quân sự"
    assert deliver(ctx, envelope(ctx, "publication", published(publication_ev.VISIBILITY_STATE_SECRET, secret), report.id, 1)) is Outcome.APPLIED
    clarification = publication_ev.ClarificationPublished(clarification_id="c1", text="Giải thích: " + secret)
    assert deliver(ctx, envelope(ctx, "publication", clarification, report.id, 2)) is Outcome.APPLIED
    with ctx.uow() as uow:
        stored = uow.reports.get(report.id)
        assert (stored.answer_text, stored.answer_visibility) == ("", "state_secret")
    texts = [r["text"] for r in rows(ctx)]
    assert {r["kind"] for r in rows(ctx)} == {"concluded", "clarified"} and texts
    assert all("mật" not in t and "mat" not in t.replace("mat ", "") for t in texts)
    assert all(t.endswith("đã được xử lý xong.") or t.endswith("da duoc xu ly xong.") for t in texts)
    client = TestClient(build_http(ctx, FakeTaxonomy()))
    mine = client.get(f"/api/intake/v1/me/reports/{report.id}", headers=reporter_session(ctx)).json()
    assert mine["answer"] == {"visibility": "state_secret", "text": None, "published_at": mine["answer"]["published_at"], "concluded": True}
    assert secret not in str(mine)


# ---- the sender -------------------------------------------------------------------------------------------

class Gateway:
    """An SMS provider that refuses `failures` times, then takes every message; it records each key it took."""

    def __init__(self, failures: int = 0, delay_s: float = 0.0):
        self.failures, self.delay_s, self.taken, self._lock = failures, delay_s, [], threading.Lock()

    def send(self, phone: str, text: str, *, purpose: str, key: str | None = None) -> str:
        time.sleep(self.delay_s)
        with self._lock:
            if self.failures > 0:
                self.failures -= 1
                raise ConnectionError("the provider is down")
            self.taken.append(key)
            return f"m{len(self.taken)}"


def sms_rows(ctx) -> list[dict]:
    return [r for r in rows(ctx) if r["channel"] == "sms"]


def test_a_failing_gateway_is_tried_again_after_a_back_off_and_then_the_notice_goes_once(ctx):
    report = submit(ctx)
    handlers.accept_report(ctx.uow(), FakeTaxonomy(), IOC, report.id, "road-damage", False, "")
    gateway = Gateway(failures=2)
    ports = notices.Ports(sms=gateway, email=outboxes(ctx).email, push=outboxes(ctx).push)
    now = datetime.now(timezone.utc)
    assert notices.send_due(ctx.uow, ports, None, now) == 1  # the e-mail went; the SMS did not
    (row,) = sms_rows(ctx)
    assert (row["status"], row["attempts"], row["error"]) == ("pending", 1, "ConnectionError")
    assert row["next_attempt_at"] >= now + notices.FIRST_RETRY - timedelta(seconds=1)
    assert notices.send_due(ctx.uow, ports, None, now) == 0  # not due yet: nothing tried
    assert notices.send_due(ctx.uow, ports, None, now + timedelta(seconds=31)) == 0  # fails again: 1 min now
    assert sms_rows(ctx)[0]["attempts"] == 2 and sms_rows(ctx)[0]["next_attempt_at"] >= now + timedelta(seconds=89)
    assert notices.send_due(ctx.uow, ports, None, now + timedelta(minutes=3)) == 1
    (row,) = sms_rows(ctx)
    assert (row["status"], row["attempts"], row["error"], row["provider_id"]) == ("sent", 3, "", "m1") and row["sent_at"] is not None
    assert notices.send_due(ctx.uow, ports, None, now + timedelta(hours=3)) == 0 and gateway.taken == [row["key"]]


def test_a_sender_that_died_holding_a_notice_leaves_it_to_another_after_its_lease_with_the_same_key(ctx):
    report = submit(ctx)
    handlers.accept_report(ctx.uow(), FakeTaxonomy(), IOC, report.id, "road-damage", False, "")
    now = datetime.now(timezone.utc)
    claimed = [c for c in notices.claim(ctx.uow, None, now) if c.channel == "sms"][0]  # ... and the process dies there
    gateway = Gateway()
    ports = notices.Ports(sms=gateway, email=outboxes(ctx).email, push=outboxes(ctx).push)
    assert notices.send_due(ctx.uow, ports, None, now + timedelta(seconds=30)) == 0  # its lease still runs
    assert notices.send_due(ctx.uow, ports, None, now + notices.LEASE + timedelta(seconds=1)) == 2  # the SMS and the e-mail
    assert gateway.taken == [claimed.key]
    # the dead sender, were it to come back, sends with the same key, but its claim can no longer record over the row
    assert notices.deliver(ctx.uow, ports, claimed) is True and sms_rows(ctx)[0]["provider_id"] == "m1"
    assert gateway.taken == [claimed.key, claimed.key]  # the at-least-once edge: a provider honouring the key sends one


def test_two_senders_at_once_send_each_notice_exactly_once(ctx, settings):
    """Two replicas (two engines, two threads) take the same due rows at the same moment: each row goes once."""
    for n in range(15):
        report = submit(ctx, phone=f"09123450{n:02d}", email=f"r{n}@example.vn", title=f"Đèn đường hỏng số {n + 10}")
        handlers.accept_report(ctx.uow(), FakeTaxonomy(), IOC, report.id, "road-damage", False, "")
    assert len(rows(ctx)) == 30
    other = build_context(SPEC, ctx.settings)  # the second replica: its own engine and connections
    gateway = Gateway(delay_s=0.01)
    email = Gateway(delay_s=0.01)

    class Mail:
        def send(self, to, subject, text, *, purpose, key=None):
            return email.send(to, text, purpose=purpose, key=key)

    ports = notices.Ports(sms=gateway, email=Mail(), push=outboxes(ctx).push)
    start = threading.Barrier(2)
    counts: list[int] = []

    def replica(context):
        start.wait()
        total = 0
        for _ in range(5):
            total += notices.send_due(context.uow, ports, None, limit=4)
        counts.append(total)

    try:
        threads = [threading.Thread(target=replica, args=(c,)) for c in (ctx, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        other.engine.dispose()
    keys = gateway.taken + email.taken
    assert sorted(keys) == sorted(r["key"] for r in rows(ctx)) and len(set(keys)) == 30
    assert sum(counts) == 30 and all(c > 0 for c in counts), counts  # both worked, neither sent another's row
    assert {r["status"] for r in rows(ctx)} == {"sent"} and {r["attempts"] for r in rows(ctx)} == {1}


def test_a_browser_gone_is_forgotten_and_its_notice_not_retried(ctx):
    subscribe_browser(ctx)
    report = submit(ctx)
    triage.message_reporter(ctx.uow(), IOC, report.id, "Xin gửi thêm ảnh chụp ban ngày.")

    class GonePush:
        public_key = None

        def send(self, subscription, payload, *, key=None, ttl_s=86400):
            from paht.runtime.webpush import PushGone

            raise PushGone()

    ports = notices.Ports(sms=Gateway(), email=outboxes(ctx).email, push=GonePush())
    assert notices.send_due(ctx.uow, ports, None) == 2
    assert {(r["channel"], r["status"]) for r in rows(ctx)} == {("sms", "sent"), ("email", "sent"), ("push", "failed")}
    with ctx.uow() as uow:
        assert uow.notices.subscriptions(PHONE) == []


# ---- the reporter's own page and API ----------------------------------------------------------------------

def test_the_private_answer_and_the_notices_are_on_the_reporters_own_api_and_page_only(ctx):
    report = submit(ctx, private=True)
    handlers.accept_report(ctx.uow(), FakeTaxonomy(), IOC, report.id, "road-damage", False, "")
    assert deliver(ctx, envelope(ctx, "publication", published(publication_ev.VISIBILITY_REPORTER_ONLY), report.id, 1)) is Outcome.APPLIED
    notices.send_due(ctx.uow, outboxes(ctx), ctx.settings.public_url)
    client = TestClient(build_http(ctx, FakeTaxonomy()))
    mine = client.get(f"/api/intake/v1/me/reports/{report.id}", headers=reporter_session(ctx))
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["answer"]["text"] == ANSWER and body["answer"]["visibility"] == "reporter_only"
    assert [(n["kind"], n["channel"], n["status"]) for n in body["notices"]] == [
        ("accepted", "email", "sent"), ("accepted", "sms", "sent"), ("answered_privately", "email", "sent"), ("answered_privately", "sms", "sent")]
    sms = [n for n in body["notices"] if n["channel"] == "sms"][-1]
    assert sms["text"].endswith(f"/intake/me/{report.tracking_code}") and sms["sent_at"]
    by_code = client.get(f"/api/intake/v1/me/reports/{report.tracking_code}", headers=reporter_session(ctx))
    assert by_code.status_code == 200 and by_code.json()["id"] == report.id  # the notices' link names the code
    # another reporter: exactly as a report that does not exist; nobody signed in: 401
    other = client.get(f"/api/intake/v1/me/reports/{report.id}", headers=reporter_session(ctx, phone="0987654321"))
    assert other.status_code == 404 and ANSWER not in other.text and other.json()["error"]["message"]["vi"]
    assert client.get(f"/api/intake/v1/me/reports/{report.tracking_code}", headers=reporter_session(ctx, phone="0987654321")).status_code == 404
    assert client.get(f"/api/intake/v1/me/reports/{report.id}").status_code == 401
    # the IOC's view of the report (no personal data) does not carry the answer either
    from tests.support.services import token_for

    staff = client.get(f"/api/intake/v1/reports/{report.id}",
                       headers={"Authorization": "Bearer " + token_for(ctx.settings, "ioc", ["ioc_operator"], "ioc-tinh")})
    assert staff.status_code == 200 and ANSWER not in staff.text
    page = client.get(f"/intake/me/{report.tracking_code}", cookies={"paht_reporter": reporter_session(ctx)["Authorization"][7:]})
    assert page.status_code == 200 and ANSWER in page.text


def test_a_browser_subscribes_with_its_push_subscription_and_bad_keys_are_refused_in_both_languages(ctx):
    client = TestClient(build_http(ctx, FakeTaxonomy()))
    me = reporter_session(ctx)
    good = {"endpoint": BROWSER.endpoint, "expirationTime": None, "keys": {"p256dh": BROWSER.p256dh, "auth": BROWSER.auth}}
    assert client.post("/api/intake/v1/me/push-subscriptions", json=good, headers=me).status_code == 201
    assert client.post("/api/intake/v1/me/push-subscriptions", json=good, headers=me).status_code == 201  # the same browser again
    bad = client.post("/api/intake/v1/me/push-subscriptions", json={**good, "keys": {"p256dh": "abc", "auth": BROWSER.auth}}, headers=me)
    assert bad.status_code == 422 and bad.json()["error"]["detail"]["vi"] and bad.json()["error"]["detail"]["en"]
    plain = client.post("/api/intake/v1/me/push-subscriptions", json={**good, "endpoint": "http://push.example.net/x"}, headers=me)
    assert plain.status_code == 422
    assert client.post("/api/intake/v1/me/push-subscriptions", json=good).status_code == 401
    assert client.get("/api/intake/v1/me/push-key", headers=me).status_code == 404  # no VAPID key: no button either
    report = submit(ctx)
    triage.message_reporter(ctx.uow(), IOC, report.id, "Xin gửi thêm ảnh chụp ban ngày.")
    assert sorted(r["channel"] for r in rows(ctx)) == ["email", "push", "sms"]
    removed = client.post("/api/intake/v1/me/push-subscriptions/remove", json={"endpoint": BROWSER.endpoint}, headers=me)
    assert removed.json() == {"subscribed": False, "removed": True}
