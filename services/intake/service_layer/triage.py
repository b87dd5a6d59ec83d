"""Step 1 at the IOC beyond accept and refuse: edit requests, verification calls, duplicates, the state-secret flag,
messages to the reporter, and the report's history (the seed's appendix IV.1.1, step 1).

Each action is one transaction: the report's change, a line in its history (who, when, why; `to_reporter`
when the reporter's own page shows it) and its event. Two operators acting on one report at once: the
report is versioned, so the second write finds the version changed; the action is then decided again on
the report as it now is, and the loser hears in the procedure's words why it is no longer possible (409).

The reporter is told of what concerns them (an edit request, a decision, a message) by a notice written in the
same transaction (service_layer/notices.py): it is sent by the background sender, so a gateway that is down never
undoes the action, and a committed action never goes untold.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Callable, TypeVar

from sqlalchemy.orm.exc import StaleDataError

from paht.runtime import roles
from paht.runtime.auth import Principal
from paht.runtime.errors import ConcurrentChange, Forbidden, NotFound
from paht.runtime.sla import Step, default_engine
from paht.runtime.ids import new_id
from paht.runtime.text import Label, clean_identifier, clean_optional, clean_text
from paht.runtime.uow import UnitOfWork, actor_of
from services.intake.adapters import history
from services.intake.adapters.history import HistoryLine
from services.intake.domain.report import NOTE, Report
from services.intake.domain.vocabulary import DUPLICATE_WORDING, Action, Status
from services.intake.domain import notices as words
from services.intake.service_layer import events, notices

log = logging.getLogger(__name__)
T = TypeVar("T")

REPORT_ID = Label("Report id", "Mã phản ánh")
MESSAGE = Label("Message", "Tin nhắn")
RETRIES = 3
# Lines of one action written a microsecond apart, so that the history reads them in the order they happened.
NEXT_LINE = timedelta(microseconds=1)

def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def load(uow: UnitOfWork, report_id: str) -> Report:
    """The report with this id, or NotFound (the id is checked before it reaches a query)."""
    report = uow.reports.get(clean_identifier(report_id, REPORT_ID, 36))
    if report is None:
        raise NotFound(f"No report {report_id[:40]}.", f"Không tìm thấy phản ánh {report_id[:40]}.")
    return report


def retrying(action: Callable[[], T]) -> T:
    """Run a use case again when someone changed the same report at the same moment: it re-reads the report and
    decides again (the domain then says, in the procedure's words, why the step is no longer possible)."""
    for attempt in range(RETRIES):
        try:
            return action()
        except StaleDataError:
            log.debug("a report changed under a use case at the same moment: deciding again (attempt %d)", attempt + 1)
            if attempt == RETRIES - 1:
                raise ConcurrentChange("Someone else acted on this report at the same moment; reload it to see what they did.",
                                       "Phản ánh vừa được người khác xử lý cùng lúc; vui lòng tải lại để xem thay đổi.") from None
    raise AssertionError("unreachable")


def require_ioc(user: Principal) -> None:
    if not user.has(*roles.IOC):
        raise Forbidden("Only the IOC takes step 1.", "Chỉ Trung tâm IOC thực hiện bước tiếp nhận (bước 1).", key="error.wrong_role",
                        role=" / ".join(roles.IOC))


def _phone_of(uow: UnitOfWork, report: Report) -> str:
    reporter = uow.reporters.get(report.reporter_id)
    return reporter.phone if reporter is not None else ""


# ---- actions ---------------------------------------------------------------------------------------------

def request_edit(uow: UnitOfWork, user: Principal, report_id: str, what: str, now: datetime | None = None) -> Report:
    """Ask the reporter to complete the report: it waits 2 days (the SLA engine's reporter-edit time), then is cancelled.
    The reporter is told what to complete and by when."""
    require_ioc(user)

    def once() -> Report:
        at = now or now_utc()
        with uow:
            report = load(uow, report_id)
            report.request_edit(what, at, default_engine().due(Step.REPORTER_EDIT, at).astimezone(timezone.utc))
            history.record(uow.session, report.id, Action.EDIT_REQUESTED, actor_kind=history.STAFF, actor=user.subject, at=at,
                           text=report.edit_request, to_reporter=True)
            sent = uow.emit(events.edit_requested(report), report_id=report.id, version=report.next_version(), actor=actor_of(user))
            notices.tell(uow, report, sent.id, words.edit_requested(report.tracking_code, report.edit_request, report.edit_due), at)
            uow.commit()
        return report

    return retrying(once)


def record_call(uow: UnitOfWork, user: Principal, report_id: str, outcome: str, note: str = "", now: datetime | None = None) -> Report:
    """Record the IOC's verification call; the 2 days to reach the reporter start at the first unanswered call.

    A call that reaches someone who is not the reporter cancels the report at once (ReportCancelled as well).
    """
    require_ioc(user)
    note = clean_optional(note, NOTE, 2000)

    def once() -> Report:
        at = now or now_utc()
        with uow:
            report = load(uow, report_id)
            done = report.record_call(outcome, at, default_engine().due(Step.VERIFICATION, at).astimezone(timezone.utc))
            history.record(uow.session, report.id, Action.CALL_RECORDED, actor_kind=history.STAFF, actor=user.subject, at=at,
                           text=done.label[1] + (f" — {note}" if note else ""))
            uow.emit(events.call_recorded(report, done), report_id=report.id, version=report.next_version(), actor=actor_of(user))
            if report.status == Status.CANCELLED.value:
                history.record(uow.session, report.id, Action.CANCELLED, actor_kind=history.STAFF, actor=user.subject, at=at + NEXT_LINE,
                               text=report.decision_note, to_reporter=True)
                sent = uow.emit(events.cancelled(report), report_id=report.id, version=report.next_version(), actor=actor_of(user))
                notices.tell(uow, report, sent.id, words.cancelled(report.tracking_code, report.decision_note), at)
            uow.commit()
        return report

    return retrying(once)


def mark_duplicate(uow: UnitOfWork, user: Principal, report_id: str, of: str, note: str = "", now: datetime | None = None) -> Report:
    """Refuse a report as a repeat of the same reporter's earlier one (linked); the same verified phone is the same person.

    The note is shown to the reporter with the decision's wording; the public list shows the wording only.
    """
    require_ioc(user)
    note = clean_optional(note, NOTE, 2000)

    def once() -> Report:
        at = now or now_utc()
        with uow:
            report = load(uow, report_id)
            earlier = load(uow, of)
            same_person = earlier.reporter_id == report.reporter_id or _phone_of(uow, earlier) == _phone_of(uow, report)
            report.mark_duplicate(earlier, same_person=same_person)
            text = f"{DUPLICATE_WORDING[1]} Phản ánh trước đó: {earlier.tracking_code}." + (f" {note}" if note else "")
            history.record(uow.session, report.id, Action.DUPLICATE, actor_kind=history.STAFF, actor=user.subject, at=at, text=text,
                           to_reporter=True)
            sent = uow.emit(events.refused(report), report_id=report.id, version=report.next_version(), actor=actor_of(user))
            notices.tell(uow, report, sent.id, words.refused(report.tracking_code, text), at)
            uow.commit()
        return report

    return retrying(once)


def classify(uow: UnitOfWork, user: Principal, report_id: str, state_secret: bool, note: str = "", now: datetime | None = None) -> Report:
    """Set or clear the state-secret flag (IOC only, at any status): such a report is never published. No change, no event."""
    require_ioc(user)
    note = clean_optional(note, NOTE, 2000)

    def once() -> Report:
        at = now or now_utc()
        with uow:
            report = load(uow, report_id)
            if not report.classify(state_secret):
                return report
            what = "Đánh dấu bí mật nhà nước" if report.state_secret else "Bỏ đánh dấu bí mật nhà nước"
            history.record(uow.session, report.id, Action.CLASSIFIED, actor_kind=history.STAFF, actor=user.subject, at=at,
                           text=what + (f" — {note}" if note else ""))
            uow.emit(events.classified(report), report_id=report.id, version=report.next_version(), actor=actor_of(user))
            uow.commit()
        return report

    return retrying(once)


def message_reporter(uow: UnitOfWork, user: Principal, report_id: str, text: str, now: datetime | None = None) -> Report:
    """Write to the reporter about their report (shown on their page; a notice tells them to look). A history line, no event."""
    require_ioc(user)
    text = clean_text(text, MESSAGE, 2, 2000)
    at = now or now_utc()
    with uow:
        report = load(uow, report_id)
        history.record(uow.session, report.id, Action.MESSAGE, actor_kind=history.STAFF, actor=user.subject, at=at, text=text,
                       to_reporter=True)
        notices.tell(uow, report, f"message:{new_id()}", words.message(report.tracking_code), at)
        uow.commit()
    return report


def history_of(uow: UnitOfWork, user: Principal, report_id: str) -> list[HistoryLine]:
    """The whole history of a report at intake, for the IOC (who did what, when, why)."""
    require_ioc(user)
    with uow:
        report = load(uow, report_id)
        return history.of_report(uow.session, report.id)
