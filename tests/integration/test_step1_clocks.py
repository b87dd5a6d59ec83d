"""Step 1's 2-day clocks at dispatch, opened and stopped by intake's events: the reporter's edit (EditRequested →
ReportEdited) and the IOC's verification calls (the first unanswered call opens it, reaching the reporter stops it,
a cancellation or an acceptance ends it)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from paht.intake.v1 import events_pb2 as intake_ev
from paht.runtime.events.consumer import Outcome
from paht.runtime.ids import new_id
from services.dispatch.bootstrap import SPEC, seed
from services.dispatch.service_layer import monitor
from tests.integration.test_sla_clocks import ARRIVAL, envelope
from tests.support.services import deliver, migrated_context

pytestmark = pytest.mark.integration
TWO_DAYS = timedelta(hours=48)


@pytest.fixture
def dispatch(settings):
    ctx = migrated_context(SPEC, settings.model_copy(update={"demo_password": "mật-khẩu-thử"}))
    seed(ctx)
    yield ctx
    ctx.engine.dispose()


class Intake:
    """One report's intake events, numbered 1, 2, 3... as intake's outbox numbers them (here without ReportSubmitted)."""

    def __init__(self, ctx, report_id: str):
        self.ctx, self.report_id, self.version = ctx, report_id, 0

    def __call__(self, event, at: datetime) -> Outcome:
        self.version += 1
        return deliver(self.ctx, envelope(self.ctx, "intake", event, self.report_id, self.version, at))


def call(outcome: str, due: datetime | None = None) -> intake_ev.VerificationCallRecorded:
    event = intake_ev.VerificationCallRecorded(outcome=outcome)
    if due is not None:
        event.verify_due.FromDatetime(due)
    return event


def clocks(ctx, report_id: str, step: str) -> list[dict]:
    return [c for c in monitor.clocks_of_report(ctx.uow(), report_id) if c["step"] == step]


def test_the_reporter_s_edit_stops_the_reporter_edit_clock(dispatch):
    rid = new_id()
    intake = Intake(dispatch, rid)
    asked = intake_ev.EditRequested(what="Bổ sung ảnh chụp")
    asked.edit_due.FromDatetime(ARRIVAL + TWO_DAYS)
    assert intake(asked, ARRIVAL) is Outcome.APPLIED
    (clock,) = clocks(dispatch, rid, "reporter-edit")
    assert (clock["state"], clock["due_at"]) == ("open", (ARRIVAL + TWO_DAYS).isoformat())
    assert intake(intake_ev.ReportEdited(title="Ổ gà lớn trước số 120"), ARRIVAL + timedelta(hours=5)) is Outcome.APPLIED
    (clock,) = clocks(dispatch, rid, "reporter-edit")
    assert (clock["state"], clock["met"]) == ("stopped", True)


def test_the_first_unanswered_call_opens_the_verification_clock_and_reaching_the_reporter_stops_it(dispatch):
    rid = new_id()
    intake = Intake(dispatch, rid)
    intake(call("not_reached", ARRIVAL + TWO_DAYS), ARRIVAL)
    intake(call("not_reached", ARRIVAL + TWO_DAYS), ARRIVAL + timedelta(hours=20))  # a later call keeps the first deadline
    (clock,) = clocks(dispatch, rid, "verification")
    assert (clock["state"], clock["due_at"], clock["responsible_org"]) == ("open", (ARRIVAL + TWO_DAYS).isoformat(), "ioc-tinh")
    assert monitor.monitor_pass(dispatch.uow(), ARRIVAL + TWO_DAYS + timedelta(minutes=1)).breached == 1  # announced like any clock
    intake(call("reached"), ARRIVAL + timedelta(hours=50))
    (clock,) = clocks(dispatch, rid, "verification")
    assert (clock["state"], clock["met"]) == ("stopped", False)


def test_a_cancellation_or_an_acceptance_ends_the_step_1_clocks(dispatch):
    cancelled, taken = new_id(), new_id()
    first = Intake(dispatch, cancelled)
    first(call("not_reached", ARRIVAL + TWO_DAYS), ARRIVAL)
    asked = intake_ev.EditRequested(what="Bổ sung ảnh chụp")
    asked.edit_due.FromDatetime(ARRIVAL + timedelta(hours=49))
    first(asked, ARRIVAL + timedelta(hours=1))
    first(intake_ev.ReportCancelled(reason=intake_ev.REFUSAL_REASON_VERIFICATION_FAILED, reason_text="…"), ARRIVAL + TWO_DAYS)
    assert [c["state"] for c in clocks(dispatch, cancelled, "verification") + clocks(dispatch, cancelled, "reporter-edit")] == [
        "cancelled", "cancelled"]

    second = Intake(dispatch, taken)
    second(call("not_reached", ARRIVAL + TWO_DAYS), ARRIVAL)
    accept = intake_ev.ReportAccepted(topic_code="ha-tang-giao-thong", group_code="kinh-te-xa-hoi")
    accept.received_at.FromDatetime(ARRIVAL)
    assert second(accept, ARRIVAL + timedelta(hours=2)) is Outcome.APPLIED
    (clock,) = clocks(dispatch, taken, "verification")
    assert (clock["state"], clock["met"]) == ("stopped", True) and clocks(dispatch, taken, "dispatch")


def test_a_call_that_reaches_someone_else_ends_the_clock(dispatch):
    rid = new_id()
    intake = Intake(dispatch, rid)
    intake(call("not_reached", ARRIVAL + TWO_DAYS), ARRIVAL)
    intake(call("not_the_reporter"), ARRIVAL + timedelta(hours=3))
    (clock,) = clocks(dispatch, rid, "verification")
    assert clock["state"] == "cancelled"


def test_unknown_outcomes_and_missing_deadlines_fall_back_safely(dispatch):
    rid = new_id()
    intake = Intake(dispatch, rid)
    intake(call("not_reached"), ARRIVAL)  # no verify_due on the event: the engine's 48 hours
    (clock,) = clocks(dispatch, rid, "verification")
    assert clock["due_at"] == (ARRIVAL + TWO_DAYS).isoformat()
    assert datetime.fromisoformat(clock["started_at"]).astimezone(timezone.utc) == ARRIVAL


def test_at_the_two_day_deadline_the_breach_is_recorded_but_nobody_is_told_overdue(dispatch):
    """Intake cancels the report at that moment: a warning at 80 % (call once more), no 'overdue' notice at 100 %."""
    from sqlalchemy import select

    from services.dispatch.adapters.orm_clocks import sla_notices

    rid = new_id()
    Intake(dispatch, rid)(call("not_reached", ARRIVAL + TWO_DAYS), ARRIVAL)
    result = monitor.monitor_pass(dispatch.uow(), ARRIVAL + TWO_DAYS + timedelta(minutes=1))
    assert (result.warned, result.breached) == (1, 1)
    (clock,) = clocks(dispatch, rid, "verification")
    assert clock["breached_at"] is not None
    with dispatch.engine.connect() as conn:
        kinds = sorted(r.notice["kind"] for r in conn.execute(select(sla_notices)).all())
    assert kinds == ["sla_warning"]
