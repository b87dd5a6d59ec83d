"""Emergency forwarding on a real database (SQLite, or PostgreSQL with DATABASE_URL): one transaction for the
forward and its event, the sender and the fake desk, signed acknowledgements, and re-alerts that are sent once
even with two watchers (two replicas) running at the same moment."""
from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from paht.runtime.host import build_context
from paht.runtime.ids import new_id
from paht.runtime.notify import DevOutboxNotifier, sign
from paht.runtime.sla import Step, default_engine
from paht.runtime.uow import UnitOfWork
from services.dispatch.adapters.forwarding import forwarders_from
from services.dispatch.adapters.orm_emergency import emergency_forwards
from services.dispatch.bootstrap import SPEC, build_http, seed
from services.dispatch.domain.clocks import Clock
from services.dispatch.domain.dispatching import DispatchItem
from services.dispatch.entrypoints import emergency_watch
from services.dispatch.service_layer import emergency
from tests.support.services import migrated_context, outbox_envelopes, token_for

pytestmark = pytest.mark.integration
SECRET = "khóa-bí-mật-dùng-chung-113-114-115"


@pytest.fixture
def dispatch(settings):
    settings = settings.model_copy(update={"emergency_webhook_secret": SECRET, "public_url": "https://paht.example.vn"})
    ctx = migrated_context(SPEC, settings)
    seed(ctx)
    yield ctx
    ctx.engine.dispose()


def urgent_report(ctx, urgent: bool = True) -> str:
    rid = new_id()
    with ctx.uow() as uow:
        uow.items.add(DispatchItem.accepted(rid, datetime.now(timezone.utc) - timedelta(minutes=2), urgent, "chay-no", "an-ninh",
                                            default_engine(), location=(17.4683, 106.6222), area_code="18880",
                                            title="Cháy nhà dân trên đường Lý Thường Kiệt"))
        uow.commit()
    return rid


def bearer(settings, subject: str, role: str, org_unit: str) -> dict:
    return {"Authorization": "Bearer " + token_for(settings, subject, [role], org_unit)}


def ioc(settings) -> dict:
    return bearer(settings, "ioc", "ioc_operator", "ioc-tinh")


def forward_rows(ctx) -> list:
    with ctx.engine.connect() as conn:
        return conn.execute(select(emergency_forwards)).all()


def events_of(ctx, report_id: str) -> list:
    """The events dispatch announced about one report (the seed announces the directory, the taxonomy and the calendar too)."""
    return [e for e in outbox_envelopes(ctx) if e.report_id == report_id]


def signed(body: dict, secret: str = SECRET, age_s: int = 0) -> tuple[bytes, dict]:
    raw = json.dumps(body).encode()
    stamp = str(int(time.time()) - age_s)
    return raw, {"Content-Type": "application/json", "X-PAHT-Timestamp": stamp, "X-PAHT-Signature": sign(secret, raw, stamp)}


def test_a_forward_and_its_event_are_written_together_or_not_at_all(dispatch, settings, monkeypatch):
    client, rid = TestClient(build_http(dispatch)), urgent_report(dispatch)
    r = client.post(f"/api/dispatch/v1/reports/{rid}/emergency", json={"service": "114", "note": "Cháy kho, khói lớn"},
                    headers=ioc(settings))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["state"] == "pending" and body["service_name"]["vi"].startswith("114") and body["on_time"] is True
    (row,) = forward_rows(dispatch)
    (event,) = events_of(dispatch, rid)
    assert event.type == "paht.dispatch.v1.EmergencyForwarded" and event.report_id == rid and event.decode().forward_reference == row.id
    assert row.state == "pending" and row.service == "114"

    # the same use case, made to fail after both are staged: neither the forward nor its event survives
    real_commit = UnitOfWork.commit

    def commit_then_crash(self):
        self.session.flush()
        raise RuntimeError("crash before commit")

    monkeypatch.setattr(UnitOfWork, "commit", commit_then_crash)
    with pytest.raises(RuntimeError):
        emergency.forward_to_emergency(dispatch.uow(), emergency_user(), rid, "115", "", 180)
    monkeypatch.setattr(UnitOfWork, "commit", real_commit)
    assert len(forward_rows(dispatch)) == 1 and len(events_of(dispatch, rid)) == 1

    again = client.post(f"/api/dispatch/v1/reports/{rid}/emergency", json={"service": "114"}, headers=ioc(settings))
    assert again.status_code == 409 and "114" in again.json()["error"]["detail"]["vi"]
    both = client.post(f"/api/dispatch/v1/reports/{rid}/emergency", json={"service": "115", "note": "Có người bị bỏng"},
                       headers=ioc(settings))
    assert both.status_code == 201
    assert [e.decode().meta.report_version for e in events_of(dispatch, rid)] == [1, 2]


def emergency_user():
    from tests.support.services import principal

    return principal("ioc", ["ioc_operator"], "ioc-tinh")


def test_who_may_forward_and_what_is_refused(dispatch, settings):
    client = TestClient(build_http(dispatch))
    rid, calm = urgent_report(dispatch), urgent_report(dispatch, urgent=False)
    path = f"/api/dispatch/v1/reports/{rid}/emergency"
    assert client.post(path, json={"service": "114"}).status_code == 401
    editor = bearer(settings, "bientap", "ioc_editor", "ioc-tinh")
    assert client.post(path, json={"service": "114"}, headers=editor).status_code == 403  # only dispatchers forward
    assert client.post(path, json={"service": "112"}, headers=ioc(settings)).status_code == 422
    assert client.post(path, json={"service": "114", "extra": 1}, headers=ioc(settings)).status_code == 422
    nul = client.post(path, json={"service": "114", "note": "cháy\u0000"}, headers=ioc(settings))
    assert nul.status_code == 422 and nul.json()["error"]["code"] == "error.bad_character"
    not_urgent = client.post(f"/api/dispatch/v1/reports/{calm}/emergency", json={"service": "113"}, headers=ioc(settings))
    assert not_urgent.status_code == 409 and "khẩn cấp" in not_urgent.json()["error"]["detail"]["vi"]
    assert client.post(f"/api/dispatch/v1/reports/{new_id()}/emergency", json={"service": "113"}, headers=ioc(settings)).status_code == 404
    assert forward_rows(dispatch) == []


def test_the_sender_delivers_pending_forwards_to_the_fake_desk(dispatch, settings):
    client, rid = TestClient(build_http(dispatch)), urgent_report(dispatch)
    made = client.post(f"/api/dispatch/v1/reports/{rid}/emergency", json={"service": "115", "note": "Tai nạn, 2 người bị thương"},
                       headers=ioc(settings)).json()

    async def run_watch_briefly():
        task = asyncio.create_task(emergency_watch.watch_acknowledgements(dispatch, poll_s=0.05))
        try:
            def delivered():
                items = client.get(f"/api/dispatch/v1/reports/{rid}/emergency", headers=ioc(settings)).json()["items"]
                return items[0]["state"] == "delivered"
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not await asyncio.to_thread(delivered):
                await asyncio.sleep(0.05)
        finally:
            task.cancel()

    asyncio.run(run_watch_briefly())
    (view,) = client.get(f"/api/dispatch/v1/reports/{rid}/emergency", headers=ioc(settings)).json()["items"]
    assert view["state"] == "delivered" and view["desk_reference"].startswith("DEV-115-") and view["attempts"] == 1
    lines = [json.loads(line) for line in (settings.data / "dev-outbox" / "emergency.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(x["forward_id"], x["service"], x["area_code"], x["location"]["lat"]) for x in lines] == [(made["id"], "115", "18880", 17.4683)]
    assert lines[0]["ack_url"] == f"https://paht.example.vn/api/dispatch/v1/emergency/{made['id']}/ack"
    assert lines[0]["title"] == "Cháy nhà dân trên đường Lý Thường Kiệt"  # what the desk reads first; never the reporter
    assert emergency.deliver_due(dispatch.uow, forwarders_from(dispatch.settings)) == 0  # nothing is sent twice


def test_a_signed_callback_acknowledges_and_a_bad_signature_is_401(dispatch, settings):
    client, rid = TestClient(build_http(dispatch)), urgent_report(dispatch)
    made = client.post(f"/api/dispatch/v1/reports/{rid}/emergency", json={"service": "113"}, headers=ioc(settings)).json()
    ack = f"/api/dispatch/v1/emergency/{made['id']}/ack"
    raw, headers = signed({"reference": "113-2026-15"})
    forged = dict(headers, **{"X-PAHT-Signature": sign("đoán mò", raw, headers["X-PAHT-Timestamp"])})
    for bad_raw, bad_headers in [(raw, forged), (*signed({"reference": "x"}, age_s=400),), (raw, {"Content-Type": "application/json"}),
                                 (raw + b" ", headers)]:
        r = client.post(ack, content=bad_raw, headers=bad_headers)
        assert r.status_code == 401 and r.json()["error"]["detail"]["vi"], r.text
    assert forward_rows(dispatch)[0].state == "pending"

    r = client.post(ack, content=raw, headers=headers)
    assert r.status_code == 200 and r.json()["changed"]
    assert r.json()["state"] == "acknowledged" and r.json()["desk_reference"] == "113-2026-15"
    repeat = client.post(ack, content=raw, headers=headers)  # the desk retried its callback
    assert repeat.status_code == 200 and repeat.json()["changed"] is False
    kinds = [e.type.rsplit(".", 1)[1] for e in events_of(dispatch, rid)]
    assert kinds == ["EmergencyForwarded", "EmergencyAcknowledged"]
    assert events_of(dispatch, rid)[-1].decode().channel == "webhook"
    unknown_raw, unknown_headers = signed({})
    assert client.post(f"/api/dispatch/v1/emergency/{new_id()}/ack", content=unknown_raw, headers=unknown_headers).status_code == 404
    bad_json, bad_json_headers = signed({"reference": 5, "oops": True})
    assert client.post(ack, content=bad_json, headers=bad_json_headers).status_code == 422


def test_a_desk_person_acknowledges_only_forwards_to_their_own_service(dispatch, settings):
    client, rid = TestClient(build_http(dispatch)), urgent_report(dispatch)
    made = client.post(f"/api/dispatch/v1/reports/{rid}/emergency", json={"service": "114"}, headers=ioc(settings)).json()
    desk113 = bearer(settings, "truc113", "emergency_desk", "emergency-113")
    desk114 = bearer(settings, "truc114", "emergency_desk", "emergency-114")
    assert [f["id"] for f in client.get("/api/dispatch/v1/emergency/forwards", headers=desk114).json()["items"]] == [made["id"]]
    assert client.get("/api/dispatch/v1/emergency/forwards", headers=desk113).json()["items"] == []
    ack = f"/api/dispatch/v1/emergency/{made['id']}/ack"
    assert client.post(ack, json={}, headers=desk113).status_code == 403
    assert client.post(ack, json={}, headers=ioc(settings)).status_code == 403
    r = client.post(ack, json={"note": "Đã điều 2 xe chữa cháy"}, headers=desk114)
    assert r.status_code == 200 and r.json()["acknowledged_by"] == "truc114" and r.json()["ack_channel"] == "console"
    assert client.get("/api/dispatch/v1/emergency/forwards", headers=ioc(settings)).json()["items"] == []


def replica(ctx):
    """A second dispatch process on the same database (its own engine and sessions)."""
    return build_context(SPEC, ctx.settings)


def test_two_watchers_at_the_same_moment_re_alert_once_per_timeout(dispatch, settings):
    rid = urgent_report(dispatch)
    forward = emergency.forward_to_emergency(dispatch.uow(), emergency_user(), rid, "114", "", 60)
    other = replica(dispatch)
    outbox = settings.data / "dev-outbox"
    watchers = [(dispatch, DevOutboxNotifier(outbox)), (other, DevOutboxNotifier(outbox))]  # each replica has its own notifier

    def race(now: datetime, rounds: int = 5) -> None:
        barrier = threading.Barrier(len(watchers))
        errors = []

        def run(ctx, notifier):
            try:
                barrier.wait()
                for _ in range(rounds):
                    emergency.alert_unacknowledged(ctx.uow, notifier, now=now)
            except Exception as exc:  # pragma: no cover - shown by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=w) for w in watchers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not errors, errors

    try:
        t0 = forward.forwarded_at
        race(t0 + timedelta(seconds=30))   # not late yet
        race(t0 + timedelta(seconds=61))   # first timeout passed
        race(t0 + timedelta(seconds=100))  # still the first timeout's window
        race(t0 + timedelta(seconds=121))  # second timeout passed
    finally:
        other.engine.dispose()
    sent = DevOutboxNotifier(outbox).sent()
    keys = Counter(n["key"] for n in sent)
    assert keys == {f"emergency:{forward.id}:unacknowledged:1": 1, f"emergency:{forward.id}:unacknowledged:2": 1}, keys
    assert all(n["to"] == ["org:ioc-tinh", "ioc"] and n["kind"] == "emergency_unacknowledged" for n in sent)
    alerts = [e.decode().alert for e in events_of(dispatch, rid) if e.type.endswith("EmergencyNotAcknowledged")]
    assert alerts == [1, 2]
    (row,) = forward_rows(dispatch)
    assert (row.alerts, row.alerts_sent) == (2, 2)


def test_a_re_alert_claimed_by_a_watcher_that_died_is_sent_by_another_after_the_lease(dispatch, settings):
    rid = urgent_report(dispatch)
    forward = emergency.forward_to_emergency(dispatch.uow(), emergency_user(), rid, "113", "", 60)
    due = forward.forwarded_at + timedelta(seconds=61)
    (claimed,) = emergency.claim_alerts(dispatch.uow, now=due)  # ... and the process is killed before sending
    notifier = DevOutboxNotifier(settings.data / "dev-outbox")
    assert emergency.alert_unacknowledged(dispatch.uow, notifier, now=due + timedelta(seconds=5)) == 0  # lease still held
    assert emergency.alert_unacknowledged(dispatch.uow, notifier, now=due + timedelta(seconds=31)) == 1
    assert [n["key"] for n in notifier.sent()] == [claimed.notice.key]
    assert sum(e.type.endswith("EmergencyNotAcknowledged") for e in events_of(dispatch, rid)) == 1


def test_an_acknowledged_forward_is_not_re_alerted(dispatch, settings):
    client, rid = TestClient(build_http(dispatch)), urgent_report(dispatch)
    made = client.post(f"/api/dispatch/v1/reports/{rid}/emergency", json={"service": "115"}, headers=ioc(settings)).json()
    raw, headers = signed({"acknowledged_by": "BS. Lê Thu"})
    assert client.post(f"/api/dispatch/v1/emergency/{made['id']}/ack", content=raw, headers=headers).status_code == 200
    notifier = DevOutboxNotifier(settings.data / "dev-outbox")
    assert emergency.alert_unacknowledged(dispatch.uow, notifier, now=datetime.now(timezone.utc) + timedelta(hours=1)) == 0
    with dispatch.engine.connect() as conn:
        owed = select(func.count()).select_from(emergency_forwards).where(emergency_forwards.c.alert_due_at.is_not(None))
        assert conn.execute(owed).scalar_one() == 0


def test_a_real_desk_over_http_receives_a_signed_forward_and_calls_back_to_acknowledge(dispatch, settings):
    """The whole loop with the webhook adapter: PAHT posts to the desk, the desk checks the signature and answers its
    case number, then calls PAHT back, signed, to acknowledge."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from tests.support.live_server import live_server

    received: list[dict] = []
    failures = {"left": 1}  # the desk is busy once: the sender retries

    async def desk(request: Request):
        raw = await request.body()
        stamp, signature = request.headers["x-paht-timestamp"], request.headers["x-paht-signature"]
        if signature != sign(SECRET, raw, stamp):
            return JSONResponse({"error": "bad signature"}, status_code=401)
        if failures["left"]:
            failures["left"] -= 1
            return JSONResponse({"error": "busy"}, status_code=503)
        received.append({**json.loads(raw), "idempotency_key": request.headers["idempotency-key"]})
        return JSONResponse({"reference": "114-2026-0099"}, status_code=202)

    rid = urgent_report(dispatch)
    with live_server(Starlette(routes=[Route("/paht", desk, methods=["POST"])])) as url:
        dispatch.settings = dispatch.settings.model_copy(update={"emergency_webhook_114": f"{url}/paht"})
        forward = emergency.forward_to_emergency(dispatch.uow(), emergency_user(), rid, "114", "Cháy chợ, khói lớn", 180)
        assert emergency.deliver_due(dispatch.uow, forwarders_from(dispatch.settings), public_url="https://paht.example.vn") == 1
    (got,) = received
    assert got["forward_id"] == got["idempotency_key"] == forward.id and got["note"] == "Cháy chợ, khói lớn"
    client = TestClient(build_http(dispatch))
    view = client.get(f"/api/dispatch/v1/reports/{rid}/emergency", headers=ioc(settings)).json()["items"][0]
    assert view["state"] == "delivered" and view["desk_reference"] == "114-2026-0099"

    raw, headers = signed({"reference": "114-2026-0099", "acknowledged_by": "Thiếu tá Phan Văn Hùng"})
    r = client.post(got["ack_url"].removeprefix("https://paht.example.vn"), content=raw, headers=headers)
    assert r.status_code == 200 and r.json()["state"] == "acknowledged" and r.json()["ack_channel"] == "webhook"
    assert r.json()["acknowledged_by"] == "desk-114: Thiếu tá Phan Văn Hùng"


def test_two_running_watch_loops_deliver_once_and_re_alert_once_per_timeout(dispatch, settings):
    """The background task itself, as two replicas run it: one delivery to the fake desk, and each re-alert once."""
    rid = urgent_report(dispatch)
    other = replica(dispatch)
    forward = emergency.forward_to_emergency(dispatch.uow(), emergency_user(), rid, "115", "Ngã cầu thang, bất tỉnh", 2)

    async def run_both(seconds: float):
        tasks = [asyncio.create_task(emergency_watch.watch_acknowledgements(ctx, poll_s=0.05)) for ctx in (dispatch, other)]
        await asyncio.sleep(seconds)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    try:
        asyncio.run(run_both(5.0))  # timeouts at 2 s and 4 s have passed, not the one at 6 s
    finally:
        other.engine.dispose()
    outbox = settings.data / "dev-outbox"
    desk = [json.loads(line)["forward_id"] for line in (outbox / "emergency.jsonl").read_text(encoding="utf-8").splitlines()]
    assert desk == [forward.id]
    keys = Counter(n["key"] for n in DevOutboxNotifier(outbox).sent())
    assert keys == {f"emergency:{forward.id}:unacknowledged:1": 1, f"emergency:{forward.id}:unacknowledged:2": 1}, keys
    (row,) = forward_rows(dispatch)
    assert (row.state, row.attempts, row.alerts, row.alerts_sent) == ("delivered", 1, 2, 2)


def test_a_report_forwarded_in_time_and_dispatched_later_for_follow_up_met_step_2(dispatch, settings):
    client = TestClient(build_http(dispatch))
    forwarded, not_forwarded = urgent_report(dispatch), urgent_report(dispatch)
    with dispatch.uow() as uow:  # both arrived 20 minutes ago: their 10-minute urgent window has passed
        for rid in (forwarded, not_forwarded):
            item = uow.items.get(rid)
            item.received_at = item.clock_started_at = datetime.now(timezone.utc) - timedelta(minutes=20)
            item.dispatch_due = item.received_at + timedelta(minutes=10)
        uow.commit()
    r = client.post(f"/api/dispatch/v1/reports/{forwarded}/emergency", json={"service": "114", "note": ""}, headers=ioc(settings))
    assert r.status_code == 201, r.text
    with dispatch.engine.begin() as conn:  # as if forwarded within the window, 15 minutes ago
        conn.execute(emergency_forwards.update().where(emergency_forwards.c.report_id == forwarded)
                     .values(forwarded_at=datetime.now(timezone.utc) - timedelta(minutes=15)))
    for rid in (forwarded, not_forwarded):
        r = client.post(f"/api/dispatch/v1/reports/{rid}/dispatch", json={"agency_id": "cong-an-tinh", "note": "",
                        "competence_reason": "Cảnh sát PCCC theo dõi, xử lý tiếp sau khi dập lửa."}, headers=ioc(settings))
        assert r.status_code == 200, r.text
    verdicts = {e.report_id: e.decode().on_time for e in outbox_envelopes(dispatch) if e.type.endswith("ReportDispatched")}
    assert verdicts == {forwarded: True, not_forwarded: False}


def test_a_dispatch_process_whose_broker_is_down_still_forwards_to_the_desk_and_watches_deadlines(dispatch, settings):
    """`paht serve dispatch` as a real process with NATS unreachable: the forward reaches the desk anyway, and the
    SLA monitor announces a breached clock (both need only the database; their events wait in the outbox)."""
    import os
    import subprocess
    import sys

    from paht.runtime.supervisor import free_port

    client, rid = TestClient(build_http(dispatch)), urgent_report(dispatch)
    made = client.post(f"/api/dispatch/v1/reports/{rid}/emergency", json={"service": "113", "note": "Ẩu đả đông người"},
                       headers=ioc(settings))
    assert made.status_code == 201, made.text
    late = new_id()  # a report whose step-2 clock ran out an hour ago
    with dispatch.uow() as uow:
        received = datetime.now(timezone.utc) - timedelta(hours=3)
        uow.clocks.add(Clock.open(late, Step.DISPATCH, 1, received, received + timedelta(hours=1), received + timedelta(minutes=48),
                                  "ioc-tinh"))
        uow.commit()
    dead_port = free_port()  # nothing listens there: the broker is down
    env = dict(os.environ, PAHT_DATA=str(settings.data), PAHT_ENV="test", PAHT_DB_SCHEMA_PREFIX=settings.db_schema_prefix,
               PAHT_NODE_ID=settings.node_id, NATS_URL=f"nats://127.0.0.1:{dead_port}",
               PAHT_TOKEN_PRIVATE_KEY_FILE=str(settings.token_private_key_file), PAHT_TOKEN_PUBLIC_KEY_FILE=str(settings.token_public_key_file),
               PAHT_EMERGENCY_WEBHOOK_SECRET=SECRET, PAHT_SLA_MONITOR_INTERVAL_S="0.5")
    proc = subprocess.Popen([sys.executable, "-m", "paht.runtime.cli", "serve", "dispatch", "--port", str(free_port()),
                             "--grpc-port", str(free_port())], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        desk = settings.data / "dev-outbox" / "emergency.jsonl"
        deadline = time.monotonic() + 60  # a loaded machine starts a process slowly
        while time.monotonic() < deadline and not (desk.exists() and rid in desk.read_text()):
            time.sleep(0.2)
        assert desk.exists() and rid in desk.read_text(), "the forward never reached the desk while NATS was down"
        # the desk hears it first, then the row records the delivery
        while time.monotonic() < deadline and forward_rows(dispatch)[0].state != "delivered":
            time.sleep(0.1)
        (row,) = forward_rows(dispatch)
        assert row.state == "delivered"
        deadline = time.monotonic() + 60  # a loaded machine starts a process slowly
        while time.monotonic() < deadline and not any(e.type.endswith("SlaBreached") for e in outbox_envelopes(dispatch)):
            time.sleep(0.2)
        breached = [e.decode() for e in outbox_envelopes(dispatch) if e.type.endswith("SlaBreached")]
        assert [b.clock.report_id for b in breached] == [late], "the SLA monitor did not run in the process"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
