"""Step 1's durable 2-day timers: a report whose edit was not done, or whose reporter was not reached, within 2 days
is cancelled with the decision's reason (appendix IV.1.1, step 1: "sau 02 ngày").

The timers are the report's own columns (edit_due, verify_due), so they survive any restart; a pass finds the
ones due, and each fires once: the rows are claimed FOR UPDATE SKIP LOCKED on PostgreSQL (two replicas take
different reports; SQLite has one writer at a time), the report's status changes in the same transaction as its
history line and ReportCancelled, and a cancelled report is never due again. A report edited, accepted or
refused before its time has no timer left, so nothing fires for it.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Callable

from sqlalchemy.orm.exc import StaleDataError

from paht.common.v1 import common_pb2
from paht.runtime.uow import UnitOfWork
from services.intake.adapters import history, report_queries
from services.intake.domain.report import Report
from services.intake.domain.vocabulary import Action
from services.intake.domain import notices as words
from services.intake.service_layer import events, notices
from services.intake.service_layer.triage import now_utc

log = logging.getLogger(__name__)
SYSTEM = common_pb2.Actor(subject="system", role="step1_timer")
MAX_RACES = 5  # passes in a row that lost a race before giving up until the next pass


def expire_one(uow: UnitOfWork, report: Report, now: datetime) -> bool:
    """Cancel one report (in the caller's open unit of work) if one of its timers ran out; return whether it did."""
    cause = report.expire(now)
    if cause is None:
        return False
    history.record(uow.session, report.id, Action.CANCELLED, actor_kind=history.SYSTEM, at=now, text=report.decision_note, to_reporter=True)
    sent = uow.emit(events.cancelled(report), report_id=report.id, version=report.next_version(), actor=SYSTEM)
    notices.tell(uow, report, sent.id, words.cancelled(report.tracking_code, report.decision_note), now)
    return True


def expire_due(uow_factory: Callable[[], UnitOfWork], now: datetime | None = None, batch: int = 100) -> int:
    """Cancel every report whose 2-day timer ran out by `now`, in batches of one transaction each; return how many."""
    now = now or now_utc()
    done, races = 0, 0
    while True:
        uow = uow_factory()
        try:
            with uow:
                due = report_queries.due_for_expiry(uow.session, now, batch)
                cancelled = sum(expire_one(uow, report, now) for report in due)
                uow.commit()
        except StaleDataError:  # an operator's change won the race for one of them: look again
            races += 1
            if races >= MAX_RACES:
                log.warning("step-1 timers: gave up after %d lost races; the next pass tries again", races)
                return done
            continue
        done += cancelled
        if len(due) < batch or cancelled == 0:
            return done
