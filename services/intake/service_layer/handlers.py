"""Intake's step-1 use cases: accept or refuse a report, release a reporter's contact (submitting: service_layer/submission.py).

The unit of work carries the repositories `reports` and `reporters`; topics are checked through the
Taxonomy port, always before the unit of work opens (it may have to wait for dispatch).
"""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from paht.runtime import roles
from paht.runtime.auth import Principal
from paht.runtime.errors import Forbidden, NotFound
from paht.runtime.ids import new_id
from paht.runtime.paging import Page
from paht.runtime.text import Label, clean_identifier
from paht.runtime.uow import UnitOfWork, actor_of
from services.intake.adapters import history
from services.intake.adapters.cases import CaseDesk
from services.intake.domain.report import ContactRelease, Report, Reporter, clean_topic_code
from services.intake.domain.taxonomy import Taxonomy, known_topic
from services.intake.domain.vocabulary import WAITING, Action, Status
from services.intake.domain import notices as words
from services.intake.service_layer import events, media, notices
from services.intake.service_layer.triage import retrying

REPORT_ID = Label("Report id", "Mã phản ánh")


def _load(uow: UnitOfWork, report_id: str) -> Report:
    report = uow.reports.get(clean_identifier(report_id, REPORT_ID, 36))
    if report is None:
        raise NotFound(f"No report {report_id}.", f"Không tìm thấy phản ánh {report_id}.")
    return report


def accept_report(uow: UnitOfWork, taxonomy: Taxonomy, user: Principal, report_id: str, topic_code: str,
                  urgent: bool | None = None, note: str = "") -> Report:
    """Step 1: accept a complete report, filed under a topic of the taxonomy (its group comes with it).

    Two operators at once: the second decides again on the report as it now is (triage.retrying) and hears why not.
    """
    topic = known_topic(taxonomy, clean_topic_code(topic_code, required=True))

    def once() -> Report:
        with uow:
            report = _load(uow, report_id)
            report.accept(topic, urgent, note)
            history.record(uow.session, report.id, Action.ACCEPTED, actor_kind=history.STAFF, actor=user.subject,
                           at=datetime.now(timezone.utc), text=f"Lĩnh vực: {topic.name}", to_reporter=True)
            files = media.media_of(uow.session, report.id)  # the report's version guards them: a change of theirs moves it too
            sent = uow.emit(events.accepted(report, files), report_id=report.id, version=report.next_version(), actor=actor_of(user))
            notices.tell(uow, report, sent.id, words.accepted(report.tracking_code))
            uow.commit()
            return report

    return retrying(once)


def refuse_report(uow: UnitOfWork, user: Principal, report_id: str, reason: str, text: str) -> Report:
    """Step 1: refuse with a reason the IOC may pick at will; the reason becomes public in the 'not eligible' list."""

    def once() -> Report:
        with uow:
            report = _load(uow, report_id)
            report.refuse(reason, text)
            history.record(uow.session, report.id, Action.REFUSED, actor_kind=history.STAFF, actor=user.subject,
                           at=datetime.now(timezone.utc), text=report.decision_note, to_reporter=True)
            sent = uow.emit(events.refused(report), report_id=report.id, version=report.next_version(), actor=actor_of(user))
            notices.tell(uow, report, sent.id, words.refused(report.tracking_code, report.decision_note))
            uow.commit()
            return report

    return retrying(once)


def release_contact(uow: UnitOfWork, user: Principal, report_id: str, purpose: str, handles_case: bool = False) -> tuple[Reporter, str]:
    """Give an authorised person the reporter's contact, and record that it was given: the IOC, or someone the
    handling service said handles the report's case (`handles_case`, see `contact_for`)."""
    if not (user.has(*roles.CONTACT) or handles_case):
        raise Forbidden("Only the IOC and the people handling the report's case may see a reporter's contact.",
                        "Chỉ cán bộ IOC và người đang xử lý phản ánh được xem thông tin liên hệ của người phản ánh.")
    with uow:
        report = _load(uow, report_id)
        release = ContactRelease.new(new_id(), report, user.subject, user.org_unit, purpose, datetime.now(timezone.utc))
        reporter = uow.reporters.get(report.reporter_id)
        uow.reporters.record_release(release)
        history.record(uow.session, report.id, Action.CONTACT_SEEN, actor_kind=history.STAFF, actor=user.subject, at=release.released_at,
                       text=release.purpose)
        uow.commit()
        return reporter, release.id


async def contact_for(uow: UnitOfWork, cases: CaseDesk, user: Principal, token: str, report_id: str, purpose: str) -> tuple[Reporter, str]:
    """`release_contact` for anyone: a person of a lead agency or unit (not the IOC) gets it only when handling, the
    owner of cases, says they handle the report's case (asked with their own token)."""
    handles = False
    if not user.has(*roles.CONTACT) and user.has(*roles.CASE_HANDLERS):
        handles = await cases.handles(token, report_id)
    return await asyncio.to_thread(release_contact, uow, user, report_id, purpose, handles)


def work_list(uow: UnitOfWork, status: Status | None = None, cursor: str | None = None, limit: int | None = None) -> Page[Report]:
    """Step 1's work list (or the reports in one status): urgent first, then oldest, one page at a time."""
    with uow:
        return uow.reports.work_list((status,) if status else WAITING, cursor, limit)


def get_report(uow: UnitOfWork, report_id: str) -> Report:
    with uow:
        return _load(uow, report_id)
