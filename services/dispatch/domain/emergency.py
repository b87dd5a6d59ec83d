"""Urgent reports forwarded to 113, 114 or 115 (appendix IV.1, step 2 "Urgent"). No I/O here.

A report the IOC confirmed urgent is forwarded directly to an emergency service within 10 minutes of
its arrival, at any hour. A forward lives in three states: recorded (PENDING: the sender is delivering
it to the desk), DELIVERED (the desk's system took it and gave its own reference) and ACKNOWLEDGED (a
person at the desk confirmed it, by the desk's signed callback or in the desk's console). While it is
not acknowledged the IOC is alerted again once per acknowledgement timeout (at most MAX_REALERTS
times; after that the console keeps it red on top). Emergency units receive and acknowledge: they are
never lead agencies, so forwarding does not dispatch the report (the IOC may still send it to a lead
agency for follow-up).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Iterable

from paht.runtime.emergency import EmergencyService  # noqa: F401  (the procedure's vocabulary, shared with intake)
from paht.runtime.errors import InvalidInput, StateConflict
from paht.runtime.text import Label, clean_optional

NOTE = Label("Note for the emergency desk", "Ghi chú gửi trực ban")
ACK_NOTE = Label("Acknowledgement note", "Ghi chú xác nhận")
REFERENCE = Label("Desk reference", "Số tham chiếu của trực ban")
MAX_NOTE = 2000
MAX_REFERENCE = 200
MAX_ERROR = 500
MAX_REALERTS = 5                          # re-alerts per forward; then the console alone keeps showing it
SEND_LEASE = timedelta(seconds=30)        # a sender that claimed a delivery and died is replaced after this
ALERT_LEASE = timedelta(seconds=30)       # a watcher that claimed a re-alert and died is replaced after this
MAX_RETRY_DELAY = timedelta(seconds=30)   # back-off between deliveries is capped low: lives may depend on it


class ForwardState(str, Enum):
    PENDING = "pending"            # recorded with its event; the sender is delivering it to the desk
    DELIVERED = "delivered"        # the desk's system received it; a person has not confirmed yet
    ACKNOWLEDGED = "acknowledged"  # the desk confirmed it

    @property
    def phrase(self) -> tuple[str, str]:
        """(English, Vietnamese) words for "the forward is …"."""
        return STATE_PHRASES[self]


STATE_PHRASES: dict[ForwardState, tuple[str, str]] = {
    ForwardState.PENDING: ("being sent to the desk", "đang gửi đến trực ban"),
    ForwardState.DELIVERED: ("received by the desk's system, not confirmed yet", "hệ thống trực ban đã nhận, chưa xác nhận"),
    ForwardState.ACKNOWLEDGED: ("acknowledged by the desk", "trực ban đã xác nhận"),
}


class AckChannel(str, Enum):
    WEBHOOK = "webhook"  # the desk's system called back, signed with the shared secret
    CONSOLE = "console"  # a person with the emergency desk role confirmed it on the desk page


def retry_delay(attempts: int) -> timedelta:
    """Back-off after the n-th failed delivery: 1 s, 2 s, 4 s … capped at MAX_RETRY_DELAY."""
    return min(timedelta(seconds=2 ** max(0, min(attempts, 16) - 1)), MAX_RETRY_DELAY)


@dataclass
class EmergencyForward:
    """One urgent report forwarded to one emergency service (a report may go to several: fire and ambulance)."""

    id: str
    report_id: str
    service: str
    note: str
    state: str
    forwarded_at: datetime
    forwarded_by: str                        # the IOC operator (token subject)
    ioc_unit: str                            # the IOC the operator acted for: who is alerted again
    due_at: datetime                         # the report's urgent deadline: arrival + 10 minutes
    ack_timeout_s: int                       # the acknowledgement timeout in force when it was forwarded
    attempts: int = 0
    next_attempt_at: datetime | None = None  # when the sender may (re)try; None once delivered
    last_error: str = ""
    delivered_at: datetime | None = None
    desk_reference: str = ""
    acknowledged_at: datetime | None = None
    acknowledged_by: str = ""
    ack_channel: str = ""
    ack_note: str = ""
    alerts: int = 0                          # re-alerts claimed (each announced by an event)
    alerts_sent: int = 0                     # re-alerts whose notice went out
    alert_due_at: datetime | None = None     # when the next re-alert is owed; None when acknowledged or exhausted
    alert_claimed_at: datetime | None = None
    version: int = 0

    @classmethod
    def forward(cls, forward_id: str, report_id: str, *, urgent: bool, service: str, note: str, now: datetime, by: str,
                ioc_unit: str, due_at: datetime, ack_timeout_s: int, already: Iterable[str] = ()) -> "EmergencyForward":
        """Record a forward of an urgent report; refuse a report not confirmed urgent or a service it already went to."""
        chosen = EmergencyService.parse(service)
        if not urgent:
            raise StateConflict("Only a report the IOC confirmed urgent is forwarded to 113, 114 or 115.",
                                "Chỉ phản ánh được Trung tâm IOC xác nhận khẩn cấp mới được chuyển 113, 114, 115.")
        if chosen.value in set(already):
            en, vi = chosen.label
            raise StateConflict(f"This report was already forwarded to {en}.", f"Phản ánh này đã được chuyển cho {vi}.")
        if ack_timeout_s <= 0:
            raise InvalidInput("The acknowledgement timeout must be positive.", "Thời gian chờ xác nhận phải lớn hơn 0.")
        return cls(
            id=forward_id, report_id=report_id, service=chosen.value, note=clean_optional(note, NOTE, MAX_NOTE),
            state=ForwardState.PENDING.value, forwarded_at=now, forwarded_by=by, ioc_unit=ioc_unit, due_at=due_at,
            ack_timeout_s=ack_timeout_s, next_attempt_at=now, alert_due_at=now + timedelta(seconds=ack_timeout_s),
        )

    @property
    def emergency_service(self) -> EmergencyService:
        return EmergencyService(self.service)

    @property
    def on_time(self) -> bool:
        """Whether the forward met the report's urgent deadline (it satisfies step 2's 10 minutes)."""
        return self.forwarded_at <= self.due_at

    @property
    def awaiting(self) -> bool:
        return self.state != ForwardState.ACKNOWLEDGED.value

    def unacknowledged_for(self, now: datetime) -> timedelta | None:
        """How long past its acknowledgement timeout the forward is still unconfirmed (None: not late, or confirmed)."""
        if not self.awaiting:
            return None
        late = now - (self.forwarded_at + timedelta(seconds=self.ack_timeout_s))
        return late if late >= timedelta(0) else None

    # --- delivery to the desk -------------------------------------------------------------------

    def claim_delivery(self, now: datetime) -> bool:
        """Take the next delivery attempt (a lease: if this sender dies, another tries after SEND_LEASE)."""
        if self.state != ForwardState.PENDING.value or self.next_attempt_at is None or self.next_attempt_at > now:
            return False
        self.attempts += 1
        self.next_attempt_at = now + SEND_LEASE
        return True

    def delivered(self, reference: str, now: datetime) -> None:
        """The desk's system took it; keep its reference (an acknowledgement that came first stays)."""
        self.desk_reference = clean_optional(reference, REFERENCE, MAX_REFERENCE, multiline=False) or self.desk_reference
        self.delivered_at = self.delivered_at or now
        self.next_attempt_at = None
        self.last_error = ""
        if self.state == ForwardState.PENDING.value:
            self.state = ForwardState.DELIVERED.value

    def delivery_failed(self, error: str, now: datetime) -> None:
        """The desk did not take it: try again after the back-off (forever: an emergency is never dropped)."""
        if self.state != ForwardState.PENDING.value:
            return
        self.last_error = (error or "unknown error")[:MAX_ERROR]
        self.next_attempt_at = now + retry_delay(self.attempts)

    # --- acknowledgement --------------------------------------------------------------------------

    def acknowledge(self, now: datetime, by: str, channel: AckChannel, reference: str = "", note: str = "") -> bool:
        """The desk confirmed it; return False when it was already confirmed (a repeated callback changes nothing)."""
        reference = clean_optional(reference, REFERENCE, MAX_REFERENCE, multiline=False)
        note = clean_optional(note, ACK_NOTE, MAX_NOTE)
        if not self.awaiting:
            return False
        self.state = ForwardState.ACKNOWLEDGED.value
        self.acknowledged_at, self.acknowledged_by, self.ack_channel, self.ack_note = now, by, channel.value, note
        self.desk_reference = reference or self.desk_reference
        self.next_attempt_at = None  # nothing left to deliver: the desk has it
        self.alert_due_at = None
        return True

    # --- re-alerting the IOC ----------------------------------------------------------------------

    def claim_alert(self, now: datetime) -> int | None:
        """Take the re-alert owed now, if any; return its number (1, 2, …). Once per timeout, at most MAX_REALERTS."""
        if not self.awaiting or self.alert_due_at is None or now < self.alert_due_at or self.alerts >= MAX_REALERTS:
            return None
        self.alerts += 1
        self.alert_claimed_at = now
        more = self.alerts < MAX_REALERTS
        self.alert_due_at = self.forwarded_at + timedelta(seconds=self.ack_timeout_s * (self.alerts + 1)) if more else None
        return self.alerts

    def alert_to_resend(self, now: datetime) -> int | None:
        """A re-alert claimed by a watcher that died before its notice went out: take it over after ALERT_LEASE."""
        if not self.awaiting or self.alerts_sent >= self.alerts or self.alert_claimed_at is None:
            return None
        if now < self.alert_claimed_at + ALERT_LEASE:
            return None
        self.alert_claimed_at = now
        return self.alerts

    def alert_sent(self, number: int) -> None:
        self.alerts_sent = max(self.alerts_sent, number)
