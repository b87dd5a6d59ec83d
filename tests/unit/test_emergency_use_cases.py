"""Emergency forwarding's use cases on in-memory repositories: the event of a forward, the proto vocabulary,
delivery through a forwarder, acknowledgement (signed callback or the desk's console) and re-alerts."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from paht.dispatch.v1 import events_pb2 as ev
from paht.runtime.errors import NotFound, OutOfScope, StateConflict, Unauthorized
from paht.runtime.notify import sign
from paht.runtime.sla import default_engine
from services.dispatch.adapters.forwarding import DevOutboxForwarder, ForwardingFailed, HttpWebhookForwarder, forwarders_from
from services.dispatch.domain.directory import OrgUnit
from services.dispatch.domain.dispatching import DispatchItem
from services.dispatch.domain.emergency import EmergencyService, ForwardState
from services.dispatch.service_layer import emergency
from tests.support.fakes import FakeUnitOfWork
from tests.support.services import principal

IOC = principal("ioc", ["ioc_operator"], "ioc-tinh")
DESK_114 = principal("truc114", ["emergency_desk"], "emergency-114")
DESK_113 = principal("truc113", ["emergency_desk"], "emergency-113")
SECRET = "bí-mật-chung-của-trực-ban"


class Items:
    def __init__(self, *items: DispatchItem):
        self.items = {i.report_id: i for i in items}

    def get(self, report_id, for_change=False):
        return self.items.get(report_id)


class Forwards:
    def __init__(self):
        self.rows = {}

    def get(self, forward_id):
        return self.rows.get(forward_id)

    def add(self, forward):
        self.rows[forward.id] = forward

    def of_report(self, report_id):
        return [f for f in self.rows.values() if f.report_id == report_id]

    def due_for_delivery(self, now, limit):
        return [f.id for f in self.rows.values() if f.state == "pending" and f.next_attempt_at <= now][:limit]

    def due_for_alert(self, now, limit):
        return [f.id for f in self.rows.values() if f.alert_due_at is not None and f.alert_due_at <= now][:limit]

    def unsent_alerts(self, now, limit):
        return [f.id for f in self.rows.values() if f.alerts_sent < f.alerts][:limit]

    def awaiting(self, services=None, limit=200):
        return [f for f in self.rows.values() if f.awaiting and (services is None or f.service in services)]


class Directory:
    def unit(self, unit_id):
        codes = {"emergency-113": "113", "emergency-114": "114", "ioc-tinh": "IOC-QB"}
        return OrgUnit(id=unit_id, code=codes[unit_id], name=unit_id, name_en=unit_id, kind="emergency", parent_id=None,
                       hub_node="", can_lead=False) if unit_id in codes else None


def world(urgent: bool = True, received: datetime | None = None):
    received = received or datetime.now(timezone.utc) - timedelta(minutes=3)
    item = DispatchItem.accepted("r1", received, urgent, "chay-no", "an-ninh", default_engine())
    uow = FakeUnitOfWork(items=Items(item), forwards=Forwards(), directory=Directory())
    return uow, item


def test_the_services_map_to_the_proto_enum_both_ways():
    for service in EmergencyService:
        assert emergency.from_proto(emergency.to_proto(service)) is service
    specified = [n for n in ev.EmergencyService.values() if n != 0]
    assert sorted(emergency.to_proto(emergency.from_proto(n)) for n in specified) == sorted(specified)
    assert len(specified) == len(EmergencyService)


def test_forwarding_records_a_pending_forward_and_its_event_in_one_commit():
    uow, item = world()
    forward = emergency.forward_to_emergency(uow, IOC, "r1", "114", "Cháy kho hàng, khói lớn", 180)
    ((event, report_id, version),) = uow.events
    assert uow.committed and uow.forwards.get(forward.id) is forward and forward.state == ForwardState.PENDING.value
    assert isinstance(event, ev.EmergencyForwarded) and (report_id, version) == ("r1", 1) and item.version == 1
    assert event.service == ev.EMERGENCY_SERVICE_FIRE_RESCUE_114 and event.forward_reference == forward.id
    due = event.due_at.ToDatetime(tzinfo=timezone.utc)
    assert due == item.received_at + timedelta(minutes=10) == forward.due_at  # the SLA engine's urgent rule
    assert event.meta.actor.subject == "ioc" and forward.ioc_unit == "ioc-tinh"


def test_a_second_forward_to_the_same_service_is_refused_another_service_is_fine():
    uow, _ = world()
    emergency.forward_to_emergency(uow, IOC, "r1", "114", "", 180)
    with pytest.raises(StateConflict):
        emergency.forward_to_emergency(uow, IOC, "r1", "114", "", 180)
    emergency.forward_to_emergency(uow, IOC, "r1", "115", "Có người bị thương", 180)
    assert [e.service for e, _, _ in uow.events] == [ev.EMERGENCY_SERVICE_FIRE_RESCUE_114, ev.EMERGENCY_SERVICE_AMBULANCE_115]
    assert [v for _, _, v in uow.events] == [1, 2]


def test_a_report_not_urgent_or_unknown_is_not_forwarded():
    uow, _ = world(urgent=False)
    with pytest.raises(StateConflict):
        emergency.forward_to_emergency(uow, IOC, "r1", "113", "", 180)
    with pytest.raises(NotFound):
        emergency.forward_to_emergency(uow, IOC, "nope", "113", "", 180)
    assert uow.events == []


def test_the_sender_delivers_to_the_fake_desk_and_keeps_its_reference(tmp_path):
    uow, _ = world()
    forward = emergency.forward_to_emergency(uow, IOC, "r1", "115", "Tai nạn giao thông, 2 người bị thương", 180)
    desk = DevOutboxForwarder(tmp_path)
    assert emergency.deliver_due(lambda: uow, {"115": desk}, public_url="https://paht.example.vn") == 1
    (got,) = desk.sent()
    assert got["forward_id"] == forward.id and got["service"] == "115" and got["note"].startswith("Tai nạn")
    assert got["ack_url"] == f"https://paht.example.vn/api/dispatch/v1/emergency/{forward.id}/ack"
    assert forward.state == ForwardState.DELIVERED.value and forward.desk_reference.startswith("DEV-115-")
    assert emergency.deliver_due(lambda: uow, {"115": desk}) == 0  # nothing left to send


def test_a_desk_that_fails_is_retried_after_a_back_off():
    uow, _ = world()
    forward = emergency.forward_to_emergency(uow, IOC, "r1", "113", "", 180)

    class Down:
        def send(self, payload):
            raise ForwardingFailed("HTTP 503: busy")

    now = datetime.now(timezone.utc)
    assert emergency.deliver_due(lambda: uow, {"113": Down()}, now=now) == 0
    assert forward.state == "pending" and forward.last_error == "HTTP 503: busy" and forward.attempts == 1
    assert forward.next_attempt_at > now
    assert emergency.claim_deliveries(lambda: uow, now) == []  # not before the back-off


def test_the_webhook_forwarder_signs_retries_transient_errors_and_reads_the_reference():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(503)
        return httpx.Response(202, json={"reference": "114-0042"})

    forwarder = HttpWebhookForwarder("https://desk114.example.vn/paht", SECRET, backoff_s=0, transport=httpx.MockTransport(handler))
    assert forwarder.send({"forward_id": "f-1", "service": "114"}) == "114-0042"
    last = seen[-1]
    stamp = last.headers["x-paht-timestamp"]
    assert len(seen) == 2 and last.headers["idempotency-key"] == "f-1"
    assert last.headers["x-paht-signature"] == sign(SECRET, last.content, stamp)
    refusing = HttpWebhookForwarder("https://desk114.example.vn/paht", SECRET, backoff_s=0,
                                    transport=httpx.MockTransport(lambda r: httpx.Response(400, text="bad payload")))
    with pytest.raises(ForwardingFailed, match="HTTP 400"):
        refusing.send({"forward_id": "f-2", "service": "114"})


def test_settings_choose_the_webhook_else_the_fake_desk(settings):
    s = settings.model_copy(update={"emergency_webhook_114": "https://desk114.example.vn/paht", "emergency_webhook_secret": SECRET})
    chosen = forwarders_from(s)
    assert isinstance(chosen["114"], HttpWebhookForwarder) and chosen["114"].secret == SECRET
    assert isinstance(chosen["113"], DevOutboxForwarder) and chosen["113"].path == settings.data / "dev-outbox" / "emergency.jsonl"


def test_a_desk_callback_must_be_signed_with_the_shared_secret_within_five_minutes():
    body = json.dumps({"reference": "113-7"}).encode()
    now = time.time()
    stamp = str(int(now))
    emergency.verify_desk_signature(SECRET, body, stamp, sign(SECRET, body, stamp), now)  # accepted
    for secret, the_body, the_stamp, signature in [
        (SECRET, body + b" ", stamp, sign(SECRET, body, stamp)),                    # body changed
        (SECRET, body, stamp, sign("another secret", body, stamp)),                  # wrong secret
        (SECRET, body, str(int(now) - 301), sign(SECRET, body, str(int(now) - 301))),  # too old
        (SECRET, body, "", ""),                                                      # nothing
        (None, body, stamp, sign(SECRET, body, stamp)),                              # no secret configured
    ]:
        with pytest.raises(Unauthorized) as err:
            emergency.verify_desk_signature(secret, the_body, the_stamp, signature, now)
        assert err.value.detail_vi and err.value.detail_en


def test_acknowledgement_emits_once_and_a_desk_acknowledges_only_its_own_service():
    uow, item = world()
    forward = emergency.forward_to_emergency(uow, IOC, "r1", "114", "", 180)
    with pytest.raises(OutOfScope):
        emergency.acknowledge_in_console(lambda: uow, DESK_113, forward.id)
    with pytest.raises(OutOfScope):
        emergency.acknowledge_in_console(lambda: uow, IOC, forward.id)  # the IOC does not confirm for the desk
    done, changed = emergency.acknowledge_in_console(lambda: uow, DESK_114, forward.id, note="Đã điều 2 xe chữa cháy")
    assert changed and done.state == "acknowledged" and done.acknowledged_by == "truc114" and done.ack_channel == "console"
    again, changed = emergency.acknowledge_by_callback(lambda: uow, forward.id, reference="114-9")
    assert not changed and again.acknowledged_by == "truc114"
    kinds = [type(e).__name__ for e, _, _ in uow.events]
    assert kinds == ["EmergencyForwarded", "EmergencyAcknowledged"] and item.version == 2
    ack = uow.events[-1][0]
    assert ack.channel == "console" and ack.forward_reference == forward.id and ack.meta.actor.subject == "truc114"
    with pytest.raises(NotFound):
        emergency.acknowledge_by_callback(lambda: uow, "no-such-forward")


class Outbox:
    def __init__(self, fail: int = 0):
        self.sent, self.fail = [], fail

    def send(self, notice):
        if self.fail:
            self.fail -= 1
            raise RuntimeError("gateway down")
        self.sent.append(notice)


def test_the_ioc_is_alerted_again_once_per_timeout_with_an_event_and_a_notice():
    uow, item = world()
    forward = emergency.forward_to_emergency(uow, IOC, "r1", "114", "", 60)
    t0 = forward.forwarded_at
    outbox = Outbox()
    assert emergency.alert_unacknowledged(lambda: uow, outbox, now=t0 + timedelta(seconds=59)) == 0
    assert emergency.alert_unacknowledged(lambda: uow, outbox, now=t0 + timedelta(seconds=60)) == 1
    assert emergency.alert_unacknowledged(lambda: uow, outbox, now=t0 + timedelta(seconds=90)) == 0  # once per timeout
    (notice,) = outbox.sent
    assert notice.key == f"emergency:{forward.id}:unacknowledged:1" and notice.to == ("org:ioc-tinh", "ioc")
    assert "114" in notice.subject[0] and "114" in notice.subject[1] and notice.link.startswith("/dispatch/console")
    event = uow.events[-1][0]
    assert isinstance(event, ev.EmergencyNotAcknowledged) and event.alert == 1 and event.waited_s == 60 and not event.delivered
    assert emergency.alert_unacknowledged(lambda: uow, outbox, now=t0 + timedelta(seconds=120)) == 1
    assert [n.key[-1] for n in outbox.sent] == ["1", "2"] and item.version == 3


def test_a_notice_that_could_not_be_sent_is_sent_again_without_a_second_event():
    uow, _ = world()
    forward = emergency.forward_to_emergency(uow, IOC, "r1", "113", "", 60)
    t0 = forward.forwarded_at
    outbox = Outbox(fail=1)
    assert emergency.alert_unacknowledged(lambda: uow, outbox, now=t0 + timedelta(seconds=60)) == 0
    assert forward.alerts == 1 and forward.alerts_sent == 0
    assert emergency.alert_unacknowledged(lambda: uow, outbox, now=t0 + timedelta(seconds=61)) == 0  # its lease still runs
    assert emergency.alert_unacknowledged(lambda: uow, outbox, now=t0 + timedelta(seconds=95)) == 1
    assert [n.key for n in outbox.sent] == [f"emergency:{forward.id}:unacknowledged:1"] and forward.alerts_sent == 1
    assert [type(e).__name__ for e, _, _ in uow.events].count("EmergencyNotAcknowledged") == 1
