"""Step 1's durable 2-day timers on a real database: a report not edited, or whose reporter was not reached, within
2 days is cancelled exactly once: also after a restart, also with two passes at once (PostgreSQL: SKIP LOCKED), and
never when it was edited, reached or decided in time."""
from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from paht.intake.v1 import events_pb2 as ev
from paht.runtime.host import build_context
from services.intake.adapters.orm import report_history, reports
from services.intake.bootstrap import SPEC
from services.intake.domain.report import ReportEdit
from services.intake.entrypoints import timer_job
from services.intake.service_layer import handlers, reporters, timers, triage
from tests.integration.test_intake_step1 import PHONE, submit
from tests.support.services import eventually, migrated_context, outbox_envelopes, principal
from tests.support.taxonomy import FakeTaxonomy

pytestmark = pytest.mark.integration
IOC = principal("ioc", ["ioc_operator"], "ioc-tinh")
NOW = datetime.now(timezone.utc) + timedelta(hours=49)  # the passes run 49 hours after the edit requests and calls below
ASKED = None  # an edit asked, or a first unanswered call, right after submission (the use cases' own clock)


@pytest.fixture
def ctx(settings):
    context = migrated_context(SPEC, settings)
    yield context
    context.engine.dispose()


def cancellations(ctx) -> list[tuple[str, int]]:
    return [(e.report_id, e.decode().reason) for e in outbox_envelopes(ctx) if e.type.endswith(".ReportCancelled")]


def status_of(ctx, rid: str) -> str:
    with ctx.engine.connect() as conn:
        return conn.execute(select(reports.c.status).where(reports.c.id == rid)).scalar_one()


def asked_to_edit(ctx, at: datetime | None = ASKED) -> str:
    rid = submit(ctx)
    triage.request_edit(ctx.uow(), IOC, rid, "Vui lòng bổ sung ảnh chụp hiện trường.", now=at)
    return rid


def not_reached(ctx, at: datetime | None = ASKED) -> str:
    rid = submit(ctx)
    triage.record_call(ctx.uow(), IOC, rid, "not_reached", now=at)
    return rid


def test_a_report_not_edited_within_two_days_is_cancelled_once_with_the_decision_s_reason(ctx):
    rid = asked_to_edit(ctx)
    waiting = asked_to_edit(ctx, at=NOW - timedelta(hours=47))  # 1 hour left
    assert timers.expire_due(ctx.uow, NOW) == 1
    assert timers.expire_due(ctx.uow, NOW) == 0
    assert cancellations(ctx) == [(rid, ev.REFUSAL_REASON_EDIT_NOT_DONE)]
    assert (status_of(ctx, rid), status_of(ctx, waiting)) == ("cancelled", "edit_requested")
    event = [e for e in outbox_envelopes(ctx) if e.report_id == rid][-1]
    assert event.decode().reason_text.startswith("Phản ánh đến sau khi xác minh có yêu cầu chỉnh sửa") and event.report_version == 3
    assert event.decode().meta.actor.subject == "system"
    with ctx.engine.connect() as conn:
        line = conn.execute(select(report_history).where(report_history.c.report_id == rid).order_by(report_history.c.at.desc())).first()
    assert (line.action, line.actor_kind, line.to_reporter) == ("cancelled", "system", True)
    assert timers.expire_due(ctx.uow, NOW + timedelta(hours=2)) == 1  # the other one's time has come
    assert status_of(ctx, waiting) == "cancelled"


def test_a_reporter_not_reached_within_two_days_of_the_first_call_is_cancelled(ctx):
    rid = not_reached(ctx)
    triage.record_call(ctx.uow(), IOC, rid, "not_reached", now=NOW - timedelta(hours=1))  # a later call keeps the first deadline
    assert timers.expire_due(ctx.uow, NOW) == 1
    assert cancellations(ctx) == [(rid, ev.REFUSAL_REASON_VERIFICATION_FAILED)]


def test_after_a_restart_the_timers_due_fire_and_nothing_fires_twice(ctx, settings):
    first, second = asked_to_edit(ctx), not_reached(ctx)
    assert timers.expire_due(ctx.uow, NOW) == 2
    ctx.engine.dispose()
    again = build_context(SPEC, settings)  # a new process over the same database
    try:
        third = asked_to_edit(again)
        assert timers.expire_due(again.uow, NOW) == 1
        assert timers.expire_due(again.uow, NOW + timedelta(days=5)) == 0
        assert sorted(r for r, _ in cancellations(again)) == sorted([first, second, third])
    finally:
        again.engine.dispose()


def test_a_report_edited_reached_or_decided_in_time_never_fires(ctx):
    edited = asked_to_edit(ctx)
    reporters.edit_report(ctx.uow(), FakeTaxonomy(), PHONE, "reporter:test", edited, ReportEdit(title="Ổ gà lớn trước số nhà 120"))
    reached = not_reached(ctx)
    triage.record_call(ctx.uow(), IOC, reached, "reached", now=NOW - timedelta(hours=47))
    accepted = asked_to_edit(ctx)
    handlers.accept_report(ctx.uow(), FakeTaxonomy(), IOC, accepted, "road-damage")
    refused = not_reached(ctx)
    handlers.refuse_report(ctx.uow(), IOC, refused, "unclear_or_test", "Nội dung không rõ ràng.")
    assert timers.expire_due(ctx.uow, NOW + timedelta(days=30)) == 0
    assert cancellations(ctx) == []
    assert [status_of(ctx, r) for r in (edited, reached, accepted, refused)] == ["submitted", "submitted", "accepted", "refused"]


def test_batches_take_every_report_due(ctx):
    due = [asked_to_edit(ctx) for _ in range(7)]
    assert timers.expire_due(ctx.uow, NOW, batch=3) == 7
    assert sorted(r for r, _ in cancellations(ctx)) == sorted(due)


def test_two_passes_at_once_cancel_each_report_exactly_once(ctx):
    due = [asked_to_edit(ctx) if i % 2 else not_reached(ctx) for i in range(24)]
    start = threading.Barrier(4)
    counts: list[int] = []

    def replica() -> None:
        start.wait()
        counts.append(timers.expire_due(ctx.uow, NOW, batch=5))

    threads = [threading.Thread(target=replica) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sum(counts) == len(due) and len(counts) == 4
    cancelled = [r for r, _ in cancellations(ctx)]
    assert sorted(cancelled) == sorted(due)  # each exactly once
    with ctx.engine.connect() as conn:
        lines = conn.execute(select(report_history.c.report_id).where(report_history.c.action == "cancelled")).scalars().all()
    assert sorted(lines) == sorted(due)


def test_an_operator_acting_while_the_timer_fires_either_wins_or_hears_it_was_cancelled(ctx):
    rid = asked_to_edit(ctx)
    start = threading.Barrier(2)
    outcome: dict[str, object] = {}

    def operator() -> None:
        start.wait()
        try:
            outcome["accept"] = handlers.accept_report(ctx.uow(), FakeTaxonomy(), IOC, rid, "road-damage").status
        except Exception as exc:  # the timer won: a 409 in the procedure's words
            outcome["accept"] = exc

    def timer() -> None:
        start.wait()
        outcome["timer"] = timers.expire_due(ctx.uow, NOW)

    threads = [threading.Thread(target=operator), threading.Thread(target=timer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    kinds = [e.type.rsplit(".", 1)[1] for e in outbox_envelopes(ctx) if e.report_id == rid][2:]
    if outcome["accept"] == "accepted":
        assert outcome["timer"] == 0 and kinds == ["ReportAccepted"] and status_of(ctx, rid) == "accepted"
    else:
        assert getattr(outcome["accept"], "key", "") == "error.conflict_state", outcome
        assert outcome["timer"] == 1 and kinds == ["ReportCancelled"] and status_of(ctx, rid) == "cancelled"


def test_the_background_job_fires_the_timers_due(ctx):
    rid = asked_to_edit(ctx)
    with ctx.engine.begin() as conn:  # the job runs on the real clock: this edit was asked for 2 days and a minute ago
        conn.execute(update(reports).where(reports.c.id == rid).values(edit_due=datetime.now(timezone.utc) - timedelta(minutes=1)))

    async def scenario() -> bool:
        job = asyncio.create_task(timer_job.run_timers(ctx, interval_s=0.05))
        try:
            return await eventually(lambda: status_of(ctx, rid) == "cancelled", timeout=30)
        finally:
            job.cancel()

    assert asyncio.run(scenario())
    assert [r for r, _ in cancellations(ctx)] == [rid]
