"""Events that cannot be applied are parked as dead letters, never retried for ever nor dropped; an
operator replays them after a fix or discards them, and the report's later events then flow."""
from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient

from paht.intake.v1 import events_pb2 as intake_ev
from paht.runtime.errors import InvalidInput, StateConflict
from paht.runtime.events import bus, consumer as consumer_module
from paht.runtime.events.consumer import EventConsumer, Outcome, Subscription
from paht.runtime.events.dead_letters import DeadLetters
from paht.runtime.events.relay import OutboxRelay
from services.dispatch.bootstrap import SPEC as DISPATCH
from services.intake.bootstrap import SPEC as INTAKE
from tests.support.services import eventually, migrated_context, outbox_envelopes, token_for

pytestmark = pytest.mark.integration


class Recorder:
    """Handlers of a test consumer: ReportSubmitted fails until `fixed`, the way a bug or bad data would."""

    def __init__(self, error: Exception):
        self.error, self.fixed, self.applied = error, False, []

    def submitted(self, uow, msg, envelope):
        if not self.fixed:
            raise self.error
        self.applied.append(("submitted", envelope.report_id))

    def accepted(self, uow, msg, envelope):
        self.applied.append(("accepted", envelope.report_id))

    def subscription(self) -> Subscription:
        return Subscription("intake", {intake_ev.ReportSubmitted: self.submitted, intake_ev.ReportAccepted: self.accepted})


@pytest.fixture
def contexts(settings):
    i, d = migrated_context(INTAKE, settings), migrated_context(DISPATCH, settings)
    yield i, d
    i.engine.dispose()
    d.engine.dispose()


def two_events(i) -> tuple:
    """Write ReportSubmitted (v1) and ReportAccepted (v2) of one report into intake's outbox, as intake would."""
    from paht.runtime.ids import new_id

    report_id = new_id()
    with i.uow() as uow:
        uow.emit(intake_ev.ReportSubmitted(title="Đèn đường hỏng"), report_id=report_id, version=1)
        uow.emit(intake_ev.ReportAccepted(topic_code="chieu-sang"), report_id=report_id, version=2)
        uow.commit()
    return report_id, [e for e in outbox_envelopes(i) if e.report_id == report_id]


def dead_letters(d, recorder) -> DeadLetters:
    return DeadLetters(d.engine, d.spec.event_tables["dead_letters"], d.applier(), [recorder.subscription()])


def run_consumer(i, d, settings, nats_url, recorder, scenario):
    async def main():
        nc = await bus.connect(nats_url, "test")
        js = nc.jetstream()
        await bus.ensure_stream(js, settings.node_id, "intake")
        relay = OutboxRelay(i.engine, i.spec.event_tables["outbox"], js, poll_s=0.05)
        consumer = EventConsumer(js, settings.node_id, "dispatch", recorder.subscription(), d.applier())
        tasks = [asyncio.create_task(relay.run()), asyncio.create_task(consumer.run())]
        try:
            await scenario(js)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await nc.close()

    asyncio.run(main())


def test_a_refused_event_is_parked_at_once_and_replayed_after_the_fix(contexts, settings, nats_url, monkeypatch):
    i, d = contexts
    monkeypatch.setattr(consumer_module, "BLOCKED_RETRY_S", 0.3)
    recorder = Recorder(InvalidInput("bad data", "dữ liệu sai"))
    report_id, (submitted, accepted) = two_events(i)
    dead = dead_letters(d, recorder)

    async def scenario(js):
        assert await eventually(lambda: dead.list()[1] == 1), "the failing event was never parked"
        await asyncio.sleep(1.0)
        # parked once (not retried for ever), and the later event of the same report waits behind it
        items, total = dead.list()
        assert total == 1 and items[0].event_id == submitted.id and items[0].attempts == 1
        assert "InvalidInput: bad data" in items[0].error
        assert recorder.applied == []
        with pytest.raises(StateConflict):
            dead.replay(items[0].id, "admin")  # still broken: stays parked
        assert dead.get(items[0].id).status == "parked"
        recorder.fixed = True
        assert dead.replay(items[0].id, "admin").status == "replayed"
        # the waiting event is offered again and now applies
        assert await eventually(lambda: ("accepted", report_id) in recorder.applied), "the later event never flowed"

    run_consumer(i, d, settings, nats_url, recorder, scenario)
    assert recorder.applied == [("submitted", report_id), ("accepted", report_id)]
    assert dead.list("parked")[1] == 0


def test_an_unexpected_error_is_retried_then_parked_and_can_be_discarded(contexts, settings, nats_url, monkeypatch):
    i, d = contexts
    monkeypatch.setattr(consumer_module, "MAX_ATTEMPTS", 2)
    monkeypatch.setattr(consumer_module, "BLOCKED_RETRY_S", 0.3)
    recorder = Recorder(RuntimeError("a bug"))
    report_id, (submitted, _accepted) = two_events(i)
    dead = dead_letters(d, recorder)

    async def scenario(js):
        assert await eventually(lambda: dead.list()[1] == 1, timeout=20), "the failing event was never parked"
        item = dead.list()[0][0]
        assert item.attempts == 2  # retried once (a passing fault would have been cured), then parked
        with pytest.raises(InvalidInput):
            dead.discard(item.id, "admin", "")  # a discard needs its reason
        assert dead.discard(item.id, "admin", "applied by hand after checking").status == "discarded"
        assert await eventually(lambda: ("accepted", report_id) in recorder.applied), "the later event never flowed"

    run_consumer(i, d, settings, nats_url, recorder, scenario)
    assert ("submitted", report_id) not in recorder.applied
    kept = dead.list("discarded")[0][0]
    assert kept.resolved_by == "admin" and "applied by hand" in kept.error


def test_operators_see_dead_letters_over_http_and_nobody_else(contexts, settings):
    i, d = contexts
    recorder = Recorder(InvalidInput("bad data", "dữ liệu sai"))
    report_id, (submitted, accepted) = two_events(i)
    applier = d.applier()
    with pytest.raises(InvalidInput) as failure:
        applier.apply(submitted, recorder.subscription().handlers)
    dead_id = applier.park(submitted, failure.value, 1)
    assert applier.park(submitted, failure.value, 2) == dead_id  # parked once, however often it fails
    assert applier.apply(accepted, recorder.subscription().handlers) is Outcome.BLOCKED
    client = TestClient(d.spec.build_http(d))
    url = "/api/dispatch/v1/ops/dead-letters"
    assert client.get(url).status_code == 401
    staff = token_for(settings, "canbo", ["staff"], "so-gtvt-kcht")
    assert client.get(url, headers={"Authorization": f"Bearer {staff}"}).status_code == 403
    admin = {"Authorization": f"Bearer {token_for(settings, 'admin', ['ioc_admin'], 'ioc-tinh')}"}
    body = client.get(url, headers=admin).json()
    assert body["total"] == 1 and body["items"][0]["report_id"] == report_id and body["items"][0]["status"] == "parked"
    assert client.post(f"{url}/{dead_id}/discard", headers=admin, json={"reason": "x"}).status_code == 422
    assert client.post(f"{url}/not-an-id/replay", headers=admin).status_code == 422
    done = client.post(f"{url}/{dead_id}/discard", headers=admin, json={"reason": "checked by hand, nothing to apply"})
    assert done.status_code == 200 and done.json()["status"] == "discarded" and done.json()["resolved_by"] == "admin"
    assert client.post(f"{url}/{dead_id}/replay", headers=admin).status_code == 409  # already resolved
    assert applier.apply(accepted, recorder.subscription().handlers) is Outcome.APPLIED
