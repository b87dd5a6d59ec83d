"""Outbox → relay → JetStream → consumer (inbox, order), on the real database and a real NATS server."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from paht.runtime.events import bus
from paht.runtime.events.consumer import EventApplier, EventConsumer, Outcome
from paht.runtime.events.envelope import stream_for
from paht.runtime.events.relay import OutboxRelay
from tests.support.services import eventually, migrated_context, outbox_envelopes, principal
from services.dispatch.bootstrap import SPEC as DISPATCH
from services.dispatch.domain.dispatching import DispatchItem
from services.intake.bootstrap import SPEC as INTAKE
from services.intake.service_layer import handlers as intake
from services.intake.service_layer import submission
from tests.support.taxonomy import FakeTaxonomy

pytestmark = pytest.mark.integration
IOC = principal("ioc", ["ioc_operator"], "ioc-tinh")


def submit(ctx, title="Đèn đường hỏng ở phường Đồng Phú"):
    cmd = submission.SubmitReport(name="Trần Văn Bình", phone="0905123456", email="binh@example.vn", title=title,
                                  description="Ba cột đèn liền nhau không sáng từ tối qua.", lat=17.47, lon=106.62)
    return submission.submit_report(ctx.uow(), FakeTaxonomy(), cmd).report


@pytest.fixture
def contexts(settings):
    i, d = migrated_context(INTAKE, settings), migrated_context(DISPATCH, settings)
    yield i, d
    i.engine.dispose()
    d.engine.dispose()


def test_state_change_and_event_commit_together_or_not_at_all(contexts):
    i, _ = contexts
    report = submit(i)
    with pytest.raises(Exception):
        intake.accept_report(i.uow(), FakeTaxonomy(), IOC, report.id, "", None, "")  # refused by the rule: nothing written
    envs = outbox_envelopes(i)
    assert [e.type for e in envs] == ["paht.intake.v1.ReportSubmitted"]
    decoded = envs[0].decode()
    assert decoded.reporter_ref and "0905123456" not in envs[0].data.decode("utf-8", "ignore")
    assert "binh@example.vn" not in envs[0].data.decode("utf-8", "ignore")


@pytest.fixture(scope="module")
def metric_reader():
    """Collect OpenTelemetry metrics in memory (this process has no other meter provider)."""
    from opentelemetry import metrics
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    return reader


def _counter(reader, name: str) -> dict:
    values: dict = {}
    data = reader.get_metrics_data()
    for rm in data.resource_metrics if data else []:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == name:
                    for point in metric.data.data_points:
                        values[tuple(sorted(point.attributes.items()))] = point.value
    return values


def test_events_flow_from_intake_outbox_to_dispatch_exactly_once(contexts, settings, nats_url, metric_reader):
    i, d = contexts
    report = submit(i)
    intake.accept_report(i.uow(), FakeTaxonomy(), IOC, report.id, "trat-tu-giao-thong", False, "")

    async def scenario():
        nc = await bus.connect(nats_url, "test")
        js = nc.jetstream()
        await bus.ensure_stream(js, settings.node_id, "intake")
        relay = OutboxRelay(i.engine, i.spec.event_tables["outbox"], js, poll_s=0.05)
        applier = EventApplier("dispatch", d.uow, d.spec.event_tables["inbox"], d.spec.event_tables["event_positions"])
        sub = {s.producer: s for s in d.spec.subscriptions(d)}["intake"]
        consumer = EventConsumer(js, settings.node_id, "dispatch", sub, applier)
        tasks = [asyncio.create_task(relay.run()), asyncio.create_task(consumer.run())]
        try:
            def dispatched():
                with d.uow() as uow:
                    return uow.session.get(DispatchItem, report.id) is not None
            assert await eventually(dispatched), "the accepted report never reached dispatch"
            # publishing the same outbox rows again is dropped by JetStream (Nats-Msg-Id); first the relay marks them
            # (a little after they were acknowledged: until then it knows not to send them again)
            def marked():
                with i.engine.connect() as conn:
                    return all(r.published_at is not None for r in conn.execute(select(i.spec.event_tables["outbox"].c.published_at)))
            assert await eventually(marked), "the relay never marked the rows it published"
            name, _ = stream_for(settings.node_id, "intake")
            before = (await js.stream_info(name)).state.messages
            with i.engine.begin() as conn:
                conn.execute(i.spec.event_tables["outbox"].update().values(published_at=None))
            await relay.publish_pending()
            assert (await js.stream_info(name)).state.messages == before == 2
            await asyncio.sleep(0.3)
            assert consumer.applied == 2
            handled = _counter(metric_reader, "paht.events.handled")
            applied = sum(v for k, v in handled.items() if ("paht.outcome", "applied") in k and ("paht.consumer", "dispatch") in k)
            assert applied >= 2
            assert sum(_counter(metric_reader, "paht.events.published").values()) >= 3
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await nc.close()

    asyncio.run(scenario())
    # redelivery of an already handled event changes nothing
    env = outbox_envelopes(i)[1]
    applier = EventApplier("dispatch", d.uow, d.spec.event_tables["inbox"], d.spec.event_tables["event_positions"])
    assert applier.apply(env, {}) is Outcome.DUPLICATE


def test_events_apply_in_per_report_order(contexts):
    i, d = contexts
    report = submit(i)
    intake.accept_report(i.uow(), FakeTaxonomy(), IOC, report.id, "trat-tu-giao-thong", False, "")
    submitted, accepted = outbox_envelopes(i)
    applier = EventApplier("dispatch", d.uow, d.spec.event_tables["inbox"], d.spec.event_tables["event_positions"])
    handlers = {s.producer: s.handlers for s in d.spec.subscriptions(d)}["intake"]
    assert applier.apply(accepted, handlers) is Outcome.EARLY  # version 2 before 1: wait
    assert applier.apply(submitted, handlers) is Outcome.APPLIED
    assert applier.apply(accepted, handlers) is Outcome.APPLIED
    assert applier.apply(accepted, handlers) is Outcome.DUPLICATE
    with d.uow() as uow:
        assert uow.session.get(DispatchItem, report.id).status == "awaiting_dispatch"


def test_outbox_waits_while_nats_is_down_and_flows_when_it_is_back(contexts, settings, nats_url):
    i, _ = contexts
    report = submit(i)

    async def scenario():
        nc = await bus.connect(nats_url, "test")
        js = nc.jetstream()
        await bus.ensure_stream(js, settings.node_id, "intake")
        await nc.close()
        # a relay whose connection is gone fails the round and keeps the rows
        relay = OutboxRelay(i.engine, i.spec.event_tables["outbox"], js, poll_s=0.05)
        with pytest.raises(Exception):
            await relay.publish_pending()
        assert [e.report_id for e in outbox_envelopes(i)] == [report.id]
        relay.close()
        nc2 = await bus.connect(nats_url, "test2")
        relay2 = OutboxRelay(i.engine, i.spec.event_tables["outbox"], nc2.jetstream(), poll_s=0.05)
        assert await relay2.publish_pending() == 1
        assert await relay2.publish_pending() == 0
        await nc2.close()

    asyncio.run(scenario())


def test_published_outbox_rows_are_purged_after_the_keep_period_and_unpublished_never(contexts):
    from datetime import datetime, timedelta, timezone

    i, _ = contexts
    old, pending = submit(i), submit(i, "Cây đổ chắn ngang đường Lý Thường Kiệt")
    outbox = i.spec.event_tables["outbox"]
    with i.engine.begin() as conn:
        conn.execute(outbox.update().where(outbox.c.report_id == old.id).values(published_at=datetime.now(timezone.utc) - timedelta(days=8)))
    relay = OutboxRelay(i.engine, outbox, js=None)
    assert relay.purge_published(timedelta(days=7)) == 1
    assert [e.report_id for e in outbox_envelopes(i)] == [pending.id]


def test_a_batch_applies_in_per_report_order_in_one_transaction(contexts):
    """What one fetch brings is applied together: each event by the same rules as alone (order, duplicates)."""
    i, d = contexts
    first, _second = submit(i), submit(i, "Cây đổ chắn ngang đường Trần Hưng Đạo")
    intake.accept_report(i.uow(), FakeTaxonomy(), IOC, first.id, "trat-tu-giao-thong", False, "")
    sub_1, sub_2, acc_1 = outbox_envelopes(i)
    applier = EventApplier("dispatch", d.uow, d.spec.event_tables["inbox"], d.spec.event_tables["event_positions"])
    handlers = {s.producer: s.handlers for s in d.spec.subscriptions(d)}["intake"]
    commits = []
    from sqlalchemy import event

    event.listen(d.engine, "commit", lambda _conn: commits.append(1))
    # the second report's only event, the first report's version 2 before its version 1, and a copy of an event
    outcomes = applier.apply_batch([sub_2, acc_1, sub_1, acc_1, sub_2], handlers)
    assert outcomes == [Outcome.APPLIED, Outcome.EARLY, Outcome.APPLIED, Outcome.APPLIED, Outcome.DUPLICATE]
    assert len(commits) == 1
    with d.uow() as uow:
        assert uow.session.get(DispatchItem, first.id).status == "awaiting_dispatch"
    assert applier.apply_batch([acc_1, sub_1], handlers) == [Outcome.DUPLICATE, Outcome.DUPLICATE]


def test_a_failing_event_rolls_its_batch_back_and_each_then_goes_alone(contexts):
    i, d = contexts
    good, bad = submit(i), submit(i, "Nắp cống bị mất trên vỉa hè")
    env_good, env_bad = outbox_envelopes(i)
    applier = EventApplier("dispatch", d.uow, d.spec.event_tables["inbox"], d.spec.event_tables["event_positions"])
    seen: list[str] = []

    def handler(uow, event, envelope):
        seen.append(envelope.report_id)
        if envelope.report_id == bad.id:
            raise RuntimeError("this event cannot be applied")

    handlers = {"paht.intake.v1.ReportSubmitted": handler}
    assert applier.apply_batch([env_good, env_bad], handlers) is None  # nothing of the batch stays
    assert applier.apply(env_good, handlers) is Outcome.APPLIED  # the good one was not taken as handled
    with pytest.raises(RuntimeError):
        applier.apply(env_bad, handlers)
    assert seen == [good.id, bad.id, good.id, bad.id]


def test_the_relay_marks_published_rows_later_without_sending_them_twice_and_never_skips_a_late_commit(contexts, settings, nats_url):
    """Acknowledged rows are marked published in one write a little later; until then they are not sent again; a row
    with a lower seq that commits after a higher one was sent (PostgreSQL's order of commits) still goes out."""
    i, _ = contexts
    outbox = i.spec.event_tables["outbox"]

    def submit_with_seq(title: str, seq: int | None = None) -> str:
        report = submit(i, title)
        if seq is not None:
            with i.engine.begin() as conn:
                conn.execute(outbox.update().where(outbox.c.report_id == report.id).values(seq=seq))
        return report.id

    def marked() -> dict:
        with i.engine.connect() as conn:
            return {r.report_id: r.published_at is not None for r in conn.execute(select(outbox.c.report_id, outbox.c.published_at))}

    async def scenario():
        nc = await bus.connect(nats_url, "test")
        js = nc.jetstream()
        stream = await bus.ensure_stream(js, settings.node_id, "intake")
        relay = OutboxRelay(i.engine, outbox, js, poll_s=0.05, mark_every_s=60)  # nothing is marked during the rounds below
        a = submit_with_seq("Đèn đường hỏng số một")
        assert await relay.publish_pending() == 1
        b = submit_with_seq("Đèn đường hỏng số hai", seq=1001)
        assert await relay.publish_pending() == 1  # only the new one: the first is not sent again
        c = submit_with_seq("Đèn đường hỏng số ba", seq=1000)  # lower than one already sent
        assert await relay.publish_pending() == 1
        assert await relay.publish_pending() == 0
        assert marked() == {a: False, b: False, c: False}
        await relay._mark_now()
        assert marked() == {a: True, b: True, c: True}
        assert (await js.stream_info(stream)).state.messages == 3
        await nc.close()

    asyncio.run(scenario())


def test_a_lone_writer_hands_its_committed_rows_to_the_relay_which_publishes_them_without_reading_them_back(contexts, settings, nats_url):
    """The process that is its service's only writer gives the relay the rows its commits wrote: they go out at once,
    and are marked published as those the relay read; rows of a rolled-back transaction never go."""
    i, _ = contexts
    outbox = i.spec.event_tables["outbox"]

    async def scenario():
        nc = await bus.connect(nats_url, "test")
        js = nc.jetstream()
        stream = await bus.ensure_stream(js, settings.node_id, "intake")
        relay = OutboxRelay(i.engine, outbox, js, poll_s=60, handoff=True)  # reads the outbox once, at its start
        reads = []
        read_outbox = relay._pending_rows
        relay._pending_rows = lambda: reads.append(1) or read_outbox()
        i.notifier.hand_to(relay)
        task = asyncio.create_task(relay.run())
        try:
            assert await eventually(lambda: reads == [1])
            first = await asyncio.to_thread(submit, i, "Đèn đường hỏng số một")
            with pytest.raises(Exception):  # refused by the rule: nothing written, nothing handed over
                await asyncio.to_thread(intake.accept_report, i.uow(), FakeTaxonomy(), IOC, first.id, "", None, "")
            await asyncio.to_thread(intake.accept_report, i.uow(), FakeTaxonomy(), IOC, first.id, "trat-tu-giao-thong", False, "")
            second = await asyncio.to_thread(submit, i, "Đèn đường hỏng số hai")

            async def on_stream() -> int:
                return (await js.stream_info(stream)).state.messages

            for _ in range(100):
                if await on_stream() == 3:
                    break
                await asyncio.sleep(0.05)
            assert await on_stream() == 3 and relay.published == 3
            assert reads == [1]  # none of them was read back
            got = [await js.get_msg(stream, seq) for seq in (1, 2, 3)]
            assert [(m.headers["ce-reportid"], m.headers["ce-reportversion"]) for m in got] == [(first.id, "1"), (first.id, "2"), (second.id, "1")]

            def marked() -> bool:
                with i.engine.connect() as conn:
                    return all(r.published_at is not None for r in conn.execute(select(outbox.c.published_at)))
            assert await eventually(marked)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await nc.close()

    asyncio.run(scenario())


def test_rows_handed_over_go_in_the_order_of_their_tickets_and_a_ticket_out_too_long_stops_nobody(contexts, settings, nats_url):
    """A transaction takes its ticket before it writes, so of two changes of one report the first has the lower one:
    rows go in ticket order whatever order the commits end in; a ticket given back without rows lets the next ones go;
    one out longer than STALL_S is passed over, and its rows, when they come, are left to the outbox read."""
    from paht.runtime.events.envelope import subject_for

    i, _ = contexts
    outbox = i.spec.event_tables["outbox"]

    def row(name: str) -> dict:
        return {"event_id": f"00000000-0000-4000-8000-{name:0>12}", "subject": subject_for(settings.node_id, "intake", "Test"),
                "ce_type": "paht.test.v1.Test", "report_id": name, "report_version": 1, "payload": b"",
                "headers": {"Nats-Msg-Id": f"test-{name}", "ce-reportid": name}}

    async def scenario():
        nc = await bus.connect(nats_url, "test")
        js = nc.jetstream()
        stream = await bus.ensure_stream(js, settings.node_id, "intake")
        relay = OutboxRelay(i.engine, outbox, js, poll_s=0.05, handoff=True)
        relay.STALL_S = 0.3
        task = asyncio.create_task(relay.run())

        async def sent() -> list[str]:
            count = (await js.stream_info(stream)).state.messages
            return [(await js.get_msg(stream, seq)).headers["ce-reportid"] for seq in range(1, count + 1)]

        try:
            await asyncio.sleep(0.1)
            a, b, c, d = (relay.expect() for _ in range(4))
            relay.deliver_threadsafe(b, [row("b")])
            relay.deliver_threadsafe(d, [row("d")])
            await asyncio.sleep(0.1)
            assert await sent() == []  # b waits for a
            relay.deliver_threadsafe(a, [row("a1"), row("a2")])
            await asyncio.sleep(0.1)
            assert await sent() == ["a1", "a2", "b"]  # d waits for c
            relay.deliver_threadsafe(c, None)  # rolled back
            await asyncio.sleep(0.1)
            assert await sent() == ["a1", "a2", "b", "d"]
            e, f = relay.expect(), relay.expect()
            relay.deliver_threadsafe(f, [row("f")])
            await asyncio.sleep(0.6)  # e is out longer than STALL_S
            assert await sent() == ["a1", "a2", "b", "d", "f"]
            relay.deliver_threadsafe(e, [row("e")])  # not in the outbox: only a read of the outbox would send it
            await asyncio.sleep(0.2)
            assert await sent() == ["a1", "a2", "b", "d", "f"]
            relay.deliver_threadsafe(relay.expect(), [row("b")])  # sent lately: never twice
            await asyncio.sleep(0.1)
            assert await sent() == ["a1", "a2", "b", "d", "f"] and relay.published == 5
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await nc.close()

    asyncio.run(scenario())


def test_a_relay_that_cannot_mark_its_rows_goes_on_and_marks_them_later(contexts, settings, nats_url):
    i, _ = contexts
    outbox = i.spec.event_tables["outbox"]

    def marked() -> bool:
        with i.engine.connect() as conn:
            return all(r.published_at is not None for r in conn.execute(select(outbox.c.published_at)))

    async def scenario():
        nc = await bus.connect(nats_url, "test")
        js = nc.jetstream()
        await bus.ensure_stream(js, settings.node_id, "intake")
        relay = OutboxRelay(i.engine, outbox, js, poll_s=0.05, mark_every_s=0.05)
        failures = [RuntimeError("the database is away")]
        mark = relay._mark_published

        def flaky(event_ids):
            if failures:
                raise failures.pop()
            mark(event_ids)

        relay._mark_published = flaky
        task = asyncio.create_task(relay.run())
        try:
            await asyncio.to_thread(submit, i, "Đèn đường hỏng số một")
            assert await eventually(lambda: not failures and relay.published == 1)
            assert await eventually(marked)  # tried again
            await asyncio.to_thread(submit, i, "Đèn đường hỏng số hai")
            assert await eventually(lambda: relay.published == 2 and marked())
            assert not task.done()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await nc.close()

    asyncio.run(scenario())
