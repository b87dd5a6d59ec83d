"""Emergency forwarding's use cases: forward an urgent report to 113/114/115, deliver it to the desk,
take the desk's acknowledgement, and alert the IOC again when none came in time.

Reliability: forwarding records the forward (pending) and its EmergencyForwarded event in one
transaction; the sender (entrypoints/emergency_watch.py) then delivers it through the forwarder of its
service. Every claim (a delivery attempt, a re-alert) is a conditional write on the forward's version,
so with two replicas exactly one takes it; a claimer that dies is replaced after a lease, and what it
may have sent is recognisable by its idempotency key (forward id; "emergency:<id>:unacknowledged:<n>").
"""
from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Iterable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from paht.common.v1 import common_pb2
from paht.dispatch.v1 import events_pb2 as ev
from paht.runtime import roles
from paht.runtime.auth import Principal
from paht.runtime.errors import ConcurrentChange, NotFound, OutOfScope, StateConflict, Unauthorized
from paht.runtime.ids import looks_like_id, new_id
from paht.runtime.notify import Notice, Notifier, sign
from paht.runtime.sla import Step
from paht.runtime.uow import UnitOfWork, actor_of
from services.dispatch.adapters.forwarding import EmergencyForwarder, ForwardingFailed
from services.dispatch.domain.emergency import AckChannel, EmergencyForward, EmergencyService
from services.dispatch.service_layer.calendar import sla_engine

log = logging.getLogger(__name__)
SIGNATURE_WINDOW_S = 300      # a desk's callback must be signed within 5 minutes of PAHT's clock
CONSOLE_LINK = "/dispatch/console#forwards"
RETRIES = 3                   # an acknowledgement that met a concurrent change is simply taken again

UowFactory = Callable[[], UnitOfWork]


def _now() -> datetime:
    return datetime.now(timezone.utc)


def to_proto(service: EmergencyService) -> int:
    """The proto enum value of a service, by name (EMERGENCY_SERVICE_<MEMBER>)."""
    return ev.EmergencyService.Value(f"EMERGENCY_SERVICE_{service.name}")


def from_proto(number: int) -> EmergencyService:
    return EmergencyService[ev.EmergencyService.Name(number).removeprefix("EMERGENCY_SERVICE_")]


def _forward(uow: UnitOfWork, forward_id: str) -> EmergencyForward:
    forward = uow.forwards.get(forward_id) if looks_like_id(forward_id) else None
    if forward is None:
        raise NotFound(f"No emergency forward '{forward_id[:40]}'.", f"Không có yêu cầu chuyển khẩn cấp '{forward_id[:40]}'.")
    return forward


def _item(uow: UnitOfWork, report_id: str):
    """The report's step-2 item, locked until the unit of work ends: every emergency event takes the report's next
    version from it, and taking the item's lock first (before the forward's row) keeps every transaction in one order."""
    item = uow.items.get(report_id, for_change=True) if looks_like_id(report_id) else None
    if item is None:
        raise NotFound(f"Report {report_id[:40]} is not in step 2 (not accepted yet, or unknown).",
                       f"Phản ánh {report_id[:40]} chưa được tiếp nhận hoặc không tồn tại.")
    return item


def _retrying(action: Callable[[], object]) -> object:
    """Run a use case again when someone changed the same rows at the same moment (it re-reads and decides again)."""
    for attempt in range(RETRIES):
        try:
            return action()
        except (StaleDataError, ConcurrentChange):
            if attempt == RETRIES - 1:
                raise ConcurrentChange("Someone else acted on this report at the same moment; reload it to see what they did.",
                                       "Phản ánh vừa được người khác xử lý cùng lúc; vui lòng tải lại để xem thay đổi.") from None
    raise AssertionError("unreachable")


# --- forwarding ---------------------------------------------------------------------------------------

def forward_to_emergency(uow: UnitOfWork, user: Principal, report_id: str, service: str, note: str, ack_timeout_s: int,
                         now: datetime | None = None) -> EmergencyForward:
    """Forward an urgent report to 113, 114 or 115: the pending forward and EmergencyForwarded in one transaction."""
    now = now or _now()
    with uow:
        item = _item(uow, report_id)
        already = [f.service for f in uow.forwards.of_report(report_id)]
        due = sla_engine(uow).due(Step.DISPATCH, item.clock_start, urgent=True).astimezone(timezone.utc)  # arrival + 10 min
        forward = EmergencyForward.forward(new_id(), report_id, urgent=item.urgent, service=service, note=note, now=now, by=user.subject,
                                           ioc_unit=user.org_unit or uow.directory.ioc_id(), due_at=due, ack_timeout_s=ack_timeout_s,
                                           already=already)
        uow.forwards.add(forward)
        event = ev.EmergencyForwarded(service=to_proto(forward.emergency_service), forward_reference=forward.id)
        event.forwarded_at.FromDatetime(now)
        event.due_at.FromDatetime(due)
        uow.emit(event, report_id=report_id, version=item.next_version(), actor=actor_of(user))
        try:
            uow.commit()
        except IntegrityError:  # another operator forwarded it to the same service at the same moment
            en, vi = forward.emergency_service.label
            raise StateConflict(f"This report was already forwarded to {en}.", f"Phản ánh này đã được chuyển cho {vi}.") from None
        return forward


# --- delivery to the desk -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Delivery:
    """One delivery attempt a sender claimed: what to send, to which service."""

    forward_id: str
    service: str
    payload: dict


def desk_payload(forward: EmergencyForward, item, public_url: str | None) -> dict:
    """What the desk receives: the report's step-2 facts, the IOC's note, and where to acknowledge (no reporter data)."""
    base = public_url or ""
    en, vi = forward.emergency_service.label
    payload = {
        "forward_id": forward.id,
        "report_id": forward.report_id,
        "service": forward.service,
        "service_name": {"vi": vi, "en": en},
        "note": forward.note,
        "topic_code": item.topic_code,
        "group_code": item.group_code,
        "received_at": item.received_at.isoformat(),
        "forwarded_at": forward.forwarded_at.isoformat(),
        "due_at": forward.due_at.isoformat(),
        "ack_url": f"{base}/api/dispatch/v1/emergency/{forward.id}/ack",
    }
    if item.location is not None:
        payload["location"] = {"lat": item.location[0], "lon": item.location[1]}
    if item.area_code:
        payload["area_code"] = item.area_code
    if getattr(item, "title", ""):
        payload["title"] = item.title  # the report's title as accepted at step 1 (public from then on; never the reporter)
    return payload


def claim_deliveries(uows: UowFactory, now: datetime | None = None, public_url: str | None = None, limit: int = 20) -> list[Delivery]:
    """Claim the delivery attempts due now; each claim is its own transaction, and a lost race is skipped."""
    now = now or _now()
    with uows() as uow:
        due = uow.forwards.due_for_delivery(now, limit)
    claimed = []
    for forward_id in due:
        try:
            with uows() as uow:
                forward = uow.forwards.get(forward_id)
                if forward is None or not forward.claim_delivery(now):
                    continue
                payload = desk_payload(forward, uow.items.get(forward.report_id), public_url)
                uow.commit()
        except StaleDataError:
            continue  # another sender claimed it first
        claimed.append(Delivery(forward_id, forward.service, payload))
    return claimed


def send(forwarders: dict[str, EmergencyForwarder], delivery: Delivery) -> tuple[str | None, str]:
    """Deliver through the service's forwarder; return (the desk's reference, "") or (None, the problem)."""
    forwarder = forwarders.get(delivery.service)
    if forwarder is None:
        return None, f"no forwarder for {delivery.service}"
    try:
        return forwarder.send(delivery.payload), ""
    except ForwardingFailed as exc:
        return None, str(exc) or "the desk did not take it"
    except Exception as exc:  # an adapter's bug must not stop the other forwards
        log.exception("emergency forwarder for %s failed", delivery.service)
        return None, f"{type(exc).__name__}: {exc}"


def record_delivery(uows: UowFactory, forward_id: str, reference: str | None, problem: str, now: datetime | None = None) -> None:
    """Keep the outcome of one attempt: delivered with the desk's reference, or failed (retried after a back-off)."""
    def record() -> None:
        moment = now or _now()
        with uows() as uow:
            forward = uow.forwards.get(forward_id)
            if forward is None:
                return
            if reference is not None:
                forward.delivered(reference, moment)
            else:
                forward.delivery_failed(problem, moment)
            uow.commit()
    _retrying(record)


def deliver_due(uows: UowFactory, forwarders: dict[str, EmergencyForwarder], now: datetime | None = None,
                public_url: str | None = None) -> int:
    """Claim, send and record every delivery due now, one after the other; return how many were delivered."""
    delivered = 0
    for delivery in claim_deliveries(uows, now, public_url):
        reference, problem = send(forwarders, delivery)
        record_delivery(uows, delivery.forward_id, reference, problem)
        delivered += reference is not None
    return delivered


# --- acknowledgement ------------------------------------------------------------------------------------

def verify_desk_signature(secret: str | None, body: bytes, timestamp: str, signature: str, now_s: float) -> None:
    """Accept a desk's callback only when signed with the shared secret, within 5 minutes of our clock."""
    if not secret:
        raise Unauthorized("Desk callbacks are not accepted here: no shared secret is configured.",
                           "Không nhận xác nhận tự động từ trực ban: chưa cấu hình khóa bí mật dùng chung.")
    try:
        stamp = int(timestamp)
    except (TypeError, ValueError):
        stamp = None
    if stamp is None or abs(now_s - stamp) > SIGNATURE_WINDOW_S:
        raise Unauthorized("The callback's timestamp is missing or more than 5 minutes from PAHT's clock.",
                           "Thời điểm ký của xác nhận bị thiếu hoặc lệch quá 5 phút so với đồng hồ hệ thống.")
    expected = sign(secret, body, timestamp)
    if not signature or not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
        raise Unauthorized("The callback's signature is not valid.", "Chữ ký của xác nhận không hợp lệ.")


def desk_services(uow: UnitOfWork, user: Principal) -> frozenset[str]:
    """The services whose forwards a desk person handles: the emergency unit they belong to (its code is the number)."""
    if not user.has(roles.Role.EMERGENCY_DESK.value) or not user.org_unit:
        return frozenset()
    with uow:
        unit = uow.directory.unit(user.org_unit)
        code = (unit.code if unit is not None else "").strip()
    return frozenset({code}) if code in {s.value for s in EmergencyService} else frozenset()


def _acknowledge(uows: UowFactory, forward_id: str, *, by: str, channel: AckChannel, actor: common_pb2.Actor, reference: str = "",
                 note: str = "", allowed: frozenset[str] | None = None, now: datetime | None = None) -> tuple[EmergencyForward, bool]:
    def take() -> tuple[EmergencyForward, bool]:
        moment = now or _now()
        with uows() as uow:
            forward = _forward(uow, forward_id)
            if allowed is not None and forward.service not in allowed:
                en, vi = forward.emergency_service.label
                raise OutOfScope(f"This forward went to {en}, not to your desk.",
                                 f"Yêu cầu này được chuyển cho {vi}, không phải đơn vị của bạn.")
            if not forward.awaiting:
                return forward, False  # a repeated confirmation (a desk retrying its callback) changes nothing
            item = _item(uow, forward.report_id)
            changed = forward.acknowledge(moment, by, channel, reference, note)
            if changed:
                event = ev.EmergencyAcknowledged(service=to_proto(forward.emergency_service), forward_reference=forward.id,
                                                 desk_reference=forward.desk_reference, channel=channel.value)
                event.acknowledged_at.FromDatetime(moment)
                uow.emit(event, report_id=forward.report_id, version=item.next_version(), actor=actor)
                uow.commit()
            return forward, changed
    return _retrying(take)


def acknowledge_by_callback(uows: UowFactory, forward_id: str, reference: str = "", note: str = "", acknowledged_by: str = "",
                            now: datetime | None = None) -> tuple[EmergencyForward, bool]:
    """The desk's system confirmed (its signature already checked); a repeated callback changes nothing."""
    with uows() as uow:
        service = _forward(uow, forward_id).service
    by = f"desk-{service}" + (f": {acknowledged_by.strip()[:80]}" if acknowledged_by.strip() else "")
    actor = common_pb2.Actor(subject=f"desk-{service}", role=roles.Role.EMERGENCY_DESK.value)
    return _acknowledge(uows, forward_id, by=by, channel=AckChannel.WEBHOOK, actor=actor, reference=reference, note=note, now=now)


def acknowledge_in_console(uows: UowFactory, user: Principal, forward_id: str, note: str = "", reference: str = "",
                           now: datetime | None = None) -> tuple[EmergencyForward, bool]:
    """A person at the desk confirmed on the desk page: only forwards to their own service."""
    allowed = desk_services(uows(), user)
    return _acknowledge(uows, forward_id, by=user.subject, channel=AckChannel.CONSOLE, actor=actor_of(user),
                        reference=reference, note=note, allowed=allowed, now=now)


# --- re-alerting the IOC ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Alert:
    forward_id: str
    number: int
    notice: Notice


def alert_notice(forward: EmergencyForward, number: int, now: datetime) -> Notice:
    """The notice the IOC gets again: which service, which report, how long without acknowledgement."""
    en, vi = forward.emergency_service.label
    minutes = max(0, int((now - forward.forwarded_at).total_seconds() // 60))
    delivered_en = "" if forward.delivered_at else " The desk's system has not taken it yet: call the desk."
    delivered_vi = "" if forward.delivered_at else " Hệ thống trực ban chưa nhận được: hãy gọi điện cho trực ban."
    return Notice(
        key=f"emergency:{forward.id}:unacknowledged:{number}",
        kind="emergency_unacknowledged",
        to=tuple(dict.fromkeys(([f"org:{forward.ioc_unit}"] if forward.ioc_unit else []) + [forward.forwarded_by])),
        subject=(f"{en} has not acknowledged an urgent report", f"{vi} chưa xác nhận phản ánh khẩn cấp"),
        body=(f"Forwarded {minutes} min ago, not acknowledged (alert {number}).{delivered_en}",
              f"Đã chuyển {minutes} phút trước, chưa được xác nhận (nhắc lần {number}).{delivered_vi}"),
        link=CONSOLE_LINK,
        report_id=forward.report_id,
        extra={"forward_id": forward.id, "service": forward.service, "alert": number},
    )


def claim_alerts(uows: UowFactory, now: datetime | None = None, limit: int = 50) -> list[Alert]:
    """Claim every re-alert owed now (announced by EmergencyNotAcknowledged in the same transaction), and take over
    the claimed re-alerts whose watcher died before sending; a lost race is skipped."""
    now = now or _now()
    with uows() as uow:
        ids = list(dict.fromkeys([*uow.forwards.due_for_alert(now, limit), *uow.forwards.unsent_alerts(now, limit)]))
    claimed = []
    for forward_id in ids:
        try:
            with uows() as uow:
                forward = uow.forwards.get(forward_id)
                if forward is None:
                    continue
                item = _item(uow, forward.report_id)  # locked before the forward changes: one order for every transaction
                number = forward.claim_alert(now)
                if number is not None:
                    event = ev.EmergencyNotAcknowledged(service=to_proto(forward.emergency_service), forward_reference=forward.id,
                                                        alert=number, waited_s=int((now - forward.forwarded_at).total_seconds()),
                                                        delivered=forward.delivered_at is not None)
                    event.forwarded_at.FromDatetime(forward.forwarded_at)
                    uow.emit(event, report_id=forward.report_id, version=item.next_version(),
                             actor=common_pb2.Actor(subject="system", role="system"))
                else:
                    number = forward.alert_to_resend(now)  # announced already; only the notice is owed
                    if number is None:
                        continue
                notice = alert_notice(forward, number, now)
                uow.commit()
        except StaleDataError:
            continue  # another watcher (or an acknowledgement) changed it first
        claimed.append(Alert(forward_id, number, notice))
    return claimed


def mark_alert_sent(uows: UowFactory, forward_id: str, number: int) -> None:
    def mark() -> None:
        with uows() as uow:
            forward = uow.forwards.get(forward_id)
            if forward is not None and forward.alerts_sent < number:
                forward.alert_sent(number)
                uow.commit()
    _retrying(mark)


def alert_unacknowledged(uows: UowFactory, notifier: Notifier, now: datetime | None = None) -> int:
    """Claim and send every re-alert owed now; return how many notices went out (a failed one is taken over later)."""
    sent = 0
    for alert in claim_alerts(uows, now):
        try:
            notifier.send(alert.notice)
        except Exception:
            log.exception("re-alert %s of emergency forward %s not sent; retried after the lease", alert.number, alert.forward_id)
            continue
        mark_alert_sent(uows, alert.forward_id, alert.number)
        sent += 1
    return sent


# --- what the consoles show ------------------------------------------------------------------------------

def forwards_of(uow: UnitOfWork, report_id: str) -> list[EmergencyForward]:
    with uow:
        if not looks_like_id(report_id) or uow.items.get(report_id) is None:
            raise NotFound(f"No dispatch record for report {report_id[:40]}.",
                           f"Không có thông tin điều phối cho phản ánh {report_id[:40]}.")
        return uow.forwards.of_report(report_id)


def forwards_of_reports(uow: UnitOfWork, report_ids: Iterable[str]) -> dict[str, list[EmergencyForward]]:
    with uow:
        return uow.forwards.of_reports(report_ids)


def awaiting(uow: UnitOfWork, services: Iterable[str] | None = None) -> list[EmergencyForward]:
    """Forwards waiting for acknowledgement (all, or of some services), the longest wait first."""
    with uow:
        return uow.forwards.awaiting(services)


def get_forward(uow: UnitOfWork, forward_id: str) -> EmergencyForward:
    with uow:
        return _forward(uow, forward_id)
