"""Emergency forwarding's rules (113/114/115) without I/O: who may be forwarded, delivery claims and back-off,
acknowledgement, and re-alerting the IOC once per timeout."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from paht.runtime.errors import InvalidInput, StateConflict
from services.dispatch.domain.emergency import (
    ALERT_LEASE,
    MAX_REALERTS,
    MAX_RETRY_DELAY,
    SEND_LEASE,
    AckChannel,
    EmergencyForward,
    EmergencyService,
    ForwardState,
    retry_delay,
)

T0 = datetime(2026, 3, 2, 20, 5, tzinfo=timezone.utc)  # 03:05 in Vietnam: the console must work at this hour
TIMEOUT = 180


def forward(service: str = "114", urgent: bool = True, already=(), note: str = "Cháy nhà dân, có người mắc kẹt") -> EmergencyForward:
    return EmergencyForward.forward("f1", "r1", urgent=urgent, service=service, note=note, now=T0, by="ioc", ioc_unit="ioc-tinh",
                                    due_at=T0 + timedelta(minutes=8), ack_timeout_s=TIMEOUT, already=already)


def test_the_three_services_are_one_vocabulary_with_both_languages():
    assert [s.value for s in EmergencyService] == ["113", "114", "115"]
    for service in EmergencyService:
        en, vi = service.label
        assert service.value in en and service.value in vi and en != vi
    assert EmergencyService.parse(" 115 ") is EmergencyService.AMBULANCE_115
    for bad in ("112", "", None, "fire"):
        with pytest.raises(InvalidInput) as err:
            EmergencyService.parse(bad)
        assert "113, 114" in err.value.detail_en and "113, 114" in err.value.detail_vi


def test_only_an_urgent_report_is_forwarded():
    with pytest.raises(StateConflict) as err:
        forward(urgent=False)
    assert "urgent" in err.value.detail_en and "khẩn cấp" in err.value.detail_vi


def test_forwarding_twice_to_one_service_is_refused_but_another_service_is_fine():
    with pytest.raises(StateConflict) as err:
        forward("114", already=["114"])
    assert "114" in err.value.detail_en and "114" in err.value.detail_vi
    both = forward("115", already=["114"])  # fire and ambulance
    assert both.service == "115" and both.state == ForwardState.PENDING.value


def test_a_new_forward_is_pending_due_for_delivery_now_and_for_a_re_alert_after_the_timeout():
    f = forward(note="  Cháy nhà dân  ")
    assert f.note == "Cháy nhà dân" and f.next_attempt_at == T0 and f.alert_due_at == T0 + timedelta(seconds=TIMEOUT)
    assert f.on_time and f.awaiting and f.unacknowledged_for(T0 + timedelta(seconds=TIMEOUT - 1)) is None
    assert f.unacknowledged_for(T0 + timedelta(seconds=TIMEOUT + 5)) == timedelta(seconds=5)
    late = EmergencyForward.forward("f2", "r1", urgent=True, service="113", note="", now=T0, by="ioc", ioc_unit="ioc-tinh",
                                    due_at=T0 - timedelta(seconds=1), ack_timeout_s=TIMEOUT)
    assert not late.on_time


def test_a_note_with_a_control_character_is_refused():
    with pytest.raises(InvalidInput) as err:
        forward(note="Cháy\x00")
    assert err.value.key == "error.bad_character"


def test_a_delivery_is_claimed_once_per_lease():
    f = forward()
    assert f.claim_delivery(T0) and f.attempts == 1
    assert not f.claim_delivery(T0 + SEND_LEASE - timedelta(seconds=1))  # another sender holds it
    assert f.claim_delivery(T0 + SEND_LEASE) and f.attempts == 2        # that sender died: take it over


def test_a_failed_delivery_is_retried_with_a_capped_back_off_and_never_dropped():
    assert [retry_delay(n).total_seconds() for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert retry_delay(1000) == MAX_RETRY_DELAY
    f = forward()
    for n in range(1, 10):
        now = f.next_attempt_at
        assert f.claim_delivery(now)
        f.delivery_failed("HTTP 503", now)
        assert f.state == ForwardState.PENDING.value and f.last_error == "HTTP 503"
        assert f.next_attempt_at == now + retry_delay(n)


def test_delivery_keeps_the_desk_reference_and_an_acknowledgement_that_came_first():
    f = forward()
    f.claim_delivery(T0)
    f.delivered("114-2026-0007", T0 + timedelta(seconds=1))
    assert f.state == ForwardState.DELIVERED.value and f.desk_reference == "114-2026-0007" and f.next_attempt_at is None
    assert not f.claim_delivery(T0 + timedelta(hours=1))
    early = forward()
    early.claim_delivery(T0)
    assert early.acknowledge(T0 + timedelta(seconds=2), "truc114", AckChannel.CONSOLE)  # the desk learnt it by phone
    early.delivered("X-1", T0 + timedelta(seconds=3))
    early.delivery_failed("late failure", T0 + timedelta(seconds=3))
    assert early.state == ForwardState.ACKNOWLEDGED.value and early.desk_reference == "X-1" and early.last_error == ""


def test_acknowledging_twice_changes_nothing_and_stops_re_alerts():
    f = forward()
    assert f.acknowledge(T0 + timedelta(seconds=30), "desk-114", AckChannel.WEBHOOK, reference="A-1", note="Đã điều xe")
    assert (f.state, f.ack_channel, f.desk_reference, f.ack_note, f.alert_due_at) == ("acknowledged", "webhook", "A-1", "Đã điều xe", None)
    assert not f.acknowledge(T0 + timedelta(seconds=40), "truc114", AckChannel.CONSOLE, reference="B-2")
    assert f.acknowledged_by == "desk-114" and f.desk_reference == "A-1"
    assert f.claim_alert(T0 + timedelta(hours=1)) is None and f.unacknowledged_for(T0 + timedelta(hours=1)) is None


def test_the_ioc_is_alerted_again_once_per_timeout_at_most_max_realerts_times():
    f = forward()
    assert f.claim_alert(T0 + timedelta(seconds=TIMEOUT - 1)) is None
    at = T0 + timedelta(seconds=TIMEOUT)
    assert f.claim_alert(at) == 1
    assert f.claim_alert(at) is None and f.claim_alert(at + timedelta(seconds=TIMEOUT - 1)) is None  # once per timeout
    assert f.alert_due_at == T0 + timedelta(seconds=2 * TIMEOUT)
    numbers = [f.claim_alert(T0 + timedelta(seconds=TIMEOUT * n)) for n in range(2, MAX_REALERTS + 3)]
    assert numbers == [*range(2, MAX_REALERTS + 1), None, None] and f.alert_due_at is None
    assert f.unacknowledged_for(T0 + timedelta(hours=2)) is not None  # the console keeps showing it


def test_a_claimed_re_alert_whose_notice_never_went_out_is_taken_over_after_the_lease():
    f = forward()
    at = T0 + timedelta(seconds=TIMEOUT)
    assert f.claim_alert(at) == 1
    assert f.alert_to_resend(at + ALERT_LEASE - timedelta(seconds=1)) is None  # its watcher may still be sending
    assert f.alert_to_resend(at + ALERT_LEASE) == 1
    assert f.alert_to_resend(at + ALERT_LEASE) is None  # taken over once per lease
    f.alert_sent(1)
    assert f.alert_to_resend(at + 10 * ALERT_LEASE) is None
    f.claim_alert(T0 + timedelta(seconds=2 * TIMEOUT))
    f.acknowledge(T0 + timedelta(seconds=2 * TIMEOUT + 1), "truc114", AckChannel.CONSOLE)
    assert f.alert_to_resend(T0 + timedelta(hours=1)) is None  # acknowledged meanwhile: nothing to resend
