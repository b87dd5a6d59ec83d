"""The reporter's own side of step 1: their reports with status and deadlines, one report with what the IOC told
them, the edit the IOC asked for, and a reply to the IOC.

A reporter is whoever holds a session for a verified phone: every reporter row with that phone is theirs
(one person may have given several e-mail addresses). Someone else's report is answered exactly like a
report that does not exist (404), so report ids cannot be probed.
"""
from __future__ import annotations

import dataclasses
import re
from datetime import datetime

from paht.runtime.errors import InvalidInput, NotFound, StateConflict
from paht.runtime.paging import Page
from paht.runtime.sla import Step, default_engine
from paht.runtime.text import Label, clean_text
from paht.runtime.uow import UnitOfWork, actor_of
from services.intake.adapters import history, report_queries
from services.intake.adapters.history import HistoryLine
from services.intake.adapters.notices import NoticeRow
from paht.runtime.ids import new_id
from paht.runtime.webpush import PushSubscription
from paht.runtime.media import MediaLimits
from services.intake.domain.report import ADDRESS, DESCRIPTION, TITLE, TOPIC, Report, ReportEdit, clean_topic_code
from services.intake.domain.taxonomy import Taxonomy, known_topic
from services.intake.domain.vocabulary import Action
from services.intake.service_layer import events, media, timers
from services.intake.service_layer.triage import load, now_utc, retrying

REPLY = Label("Reply", "Nội dung trả lời")
# How the reporter's own history names what they changed.
CHANGED: dict[str, Label] = {
    "title": TITLE, "description": DESCRIPTION, "topic_code": TOPIC, "address_text": ADDRESS,
    "lat": Label("Place on the map", "Vị trí trên bản đồ"), "lon": Label("Place on the map", "Vị trí trên bản đồ"),
    "occurred_at": Label("Time of the event", "Thời điểm xảy ra"), "files": Label("Files", "Tệp đính kèm"),
}


def step_deadline(report: Report) -> datetime:
    """The deadline of steps 1 and 2 together (the IOC's 24/7 clock from arrival), as the SLA engine gives it."""
    return default_engine().due(Step.DISPATCH, report.received_at, urgent=report.urgent)


TRACKING_CODE = re.compile(r"^QB-[A-Z0-9]{4}-[A-Z0-9]{4}$")


def _own(uow: UnitOfWork, phone: str, report_id: str) -> Report:
    """The report, if it belongs to this phone; otherwise NotFound, exactly as for a report that does not exist. The
    report may be named by its id or by its tracking code (the notices' links carry the code: shorter, for one SMS)."""
    try:
        report = uow.reports.by_tracking_code(report_id) if TRACKING_CODE.match(report_id or "") else load(uow, report_id)
    except NotFound:
        report = None
    reporter = uow.reporters.get(report.reporter_id) if report is not None else None
    if reporter is None or not phone or reporter.phone != phone:
        raise NotFound(f"You have no report {report_id[:40]}.", f"Không tìm thấy phản ánh {report_id[:40]} của bạn.")
    return report


def my_reports(uow: UnitOfWork, phone: str, cursor: str | None = None, limit: int | None = None) -> Page[Report]:
    """The reports of everyone with this verified phone, newest first, one page at a time with the total."""
    with uow:
        return report_queries.reports_of_phone(uow.session, phone, cursor, limit)


def my_report(uow: UnitOfWork, phone: str, report_id: str) -> tuple[Report, list[HistoryLine], list, list[NoticeRow]]:
    """One of the reporter's reports, with the history lines meant for them, its files, and the notices they were sent."""
    with uow:
        report = _own(uow, phone, report_id)
        return (report, history.of_report(uow.session, report.id, to_reporter_only=True), media.media_of(uow.session, report.id),
                uow.notices.of_report(report.id))


def subscribe_browser(uow: UnitOfWork, phone: str, subscription: PushSubscription) -> None:
    """Keep a browser's Web Push subscription for the reporter signed in (their verified phone): later notices of all
    their reports go to it too."""
    with uow:
        uow.notices.subscribe(new_id(), phone, subscription, now_utc())
        uow.commit()


def unsubscribe_browser(uow: UnitOfWork, phone: str, endpoint: str) -> bool:
    with uow:
        gone = uow.notices.unsubscribe(phone, endpoint)
        uow.commit()
        return gone


def _expired_meanwhile(uow: UnitOfWork, report: Report, now: datetime) -> bool:
    """Cancel a report whose 2 days ran out before the timer job came by (the job would do the same a moment later)."""
    if not timers.expire_one(uow, report, now):
        return False
    uow.commit()
    return True


def edit_report(uow: UnitOfWork, taxonomy: Taxonomy, phone: str, owner: str, report_id: str, change: ReportEdit,
                media_ids: list[str] = (), limits: MediaLimits | None = None) -> Report:
    """The reporter completes the report the IOC asked about: the change, the new files, a history line and ReportEdited
    in one transaction; the report then waits for step 1 again. Only the owner, only while an edit is asked for.

    `owner` is who uploaded the files (callers.py's owner string): only their own uploads can be attached; the
    report's files already there count towards `limits` (the settings'; None: the defaults).
    """
    media_ids = list(media_ids or [])
    if len(set(media_ids)) != len(media_ids):
        raise InvalidInput("The same file is attached twice.", "Một tệp được đính kèm hai lần.", field="add_media")
    if change.topic_code:  # the reporter's choice is a suggestion, but never an unknown topic
        known_topic(taxonomy, clean_topic_code(change.topic_code, required=False))
    change = dataclasses.replace(change, files_added=len(media_ids))

    def once() -> Report:
        now = now_utc()
        with uow:
            report = _own(uow, phone, report_id)
            if _expired_meanwhile(uow, report, now):
                raise StateConflict("The 2 days to complete the report are over: it has been cancelled.",
                                    "Đã quá 02 ngày để bổ sung, chỉnh sửa: phản ánh đã bị hủy.", current=report.status, action="edit")
            changed = report.edit(change, now)
            uow.session.flush()
            media.attach(uow.session, owner, media_ids, report.id, limits=limits)
            files = media.media_of(uow.session, report.id)
            names = list(dict.fromkeys(CHANGED[c].vi for c in changed if c in CHANGED))
            history.record(uow.session, report.id, Action.EDITED, actor_kind=history.REPORTER, at=now, to_reporter=True,
                           text=", ".join(names) + (f" (+{len(media_ids)})" if media_ids else ""))
            uow.emit(events.edited(report, files), report_id=report.id, version=report.next_version(), actor=actor_of(None))
            uow.commit()
            return report

    return retrying(once)


def reply(uow: UnitOfWork, phone: str, report_id: str, text: str) -> Report:
    """The reporter writes to the IOC about their report: the text stays in intake's history; ReporterReplied says only that."""
    text = clean_text(text, REPLY, 2, 2000)

    def once() -> Report:
        now = now_utc()
        with uow:
            report = _own(uow, phone, report_id)
            history.record(uow.session, report.id, Action.REPLY, actor_kind=history.REPORTER, at=now, text=text, to_reporter=True)
            uow.emit(events.reporter_replied(), report_id=report.id, version=report.next_version(), actor=actor_of(None))
            uow.commit()
            return report

    return retrying(once)

