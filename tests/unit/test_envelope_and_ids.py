import uuid

import pytest

from paht.intake.v1 import events_pb2
from paht.runtime.events.envelope import Envelope, stream_for, subject_for
from paht.runtime.ids import new_id, new_tracking_code


def test_new_id_is_a_time_ordered_uuid7():
    a, b = new_id(), new_id()
    assert uuid.UUID(a).version == 7
    assert a[:8] <= b[:8]
    assert a != b


def test_tracking_code_avoids_ambiguous_characters():
    for _ in range(200):
        code = new_tracking_code()
        assert code.startswith("QB-") and len(code) == 12
        assert not set(code[3:].replace("-", "")) & set("01IO")


def test_subjects_and_streams_are_node_specific():
    assert subject_for("donghoi", "intake", "paht.intake.v1.ReportSubmitted") == "paht.donghoi.intake.ReportSubmitted"
    assert stream_for("province", "intake") == ("PAHT_PROVINCE_INTAKE", "paht.province.intake.>")
    assert stream_for("dong-hoi", "sync")[0] == "PAHT_DONG_HOI_SYNC"


def test_envelope_round_trips_through_nats_headers():
    body = events_pb2.ReportSubmitted(title="Ổ gà", tracking_code="QB-AAAA-BBBB")
    env = Envelope(id=new_id(), source="/paht/province/intake", type=body.DESCRIPTOR.full_name, subject="reports/r1",
                   time="2026-01-01T00:00:00Z", report_id="r1", report_version=3, data=body.SerializeToString(),
                   traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01")
    headers = env.headers()
    assert headers["Nats-Msg-Id"] == env.id == headers["ce-id"]
    assert headers["ce-specversion"] == "1.0"
    back = Envelope.from_nats(headers, env.data)
    assert back.producer == "intake" and back.report_version == 3
    decoded = back.decode()
    assert decoded.title == "Ổ gà" and decoded.tracking_code == "QB-AAAA-BBBB"


def test_message_without_cloudevents_headers_is_refused():
    with pytest.raises(ValueError, match="not a PAHT event"):
        Envelope.from_nats({"ce-id": "x"}, b"")
