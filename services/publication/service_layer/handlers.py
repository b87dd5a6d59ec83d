"""Publication's use cases: publish or return a result (step 8), and the public and editorial queries."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import func, select

from paht.publication.v1 import events_pb2 as ev
from paht.runtime.auth import Principal
from paht.runtime.errors import NotFound
from paht.runtime.uow import UnitOfWork, actor_of
from services.publication.domain.public_report import PublicReport, Status, TimelineEntry, Visibility
from services.publication.service_layer.read_model import add_step

_VISIBILITY = {
    Visibility.PUBLIC.value: ev.VISIBILITY_PUBLIC,
    Visibility.REPORTER_ONLY.value: ev.VISIBILITY_REPORTER_ONLY,
    Visibility.STATE_SECRET.value: ev.VISIBILITY_STATE_SECRET,
}


def _not_found(report_id: str) -> NotFound:
    return NotFound(f"No public report {report_id}.", f"Không tìm thấy phản ánh {report_id}.")


def _load(uow: UnitOfWork, report_id: str) -> PublicReport:
    report = uow.session.get(PublicReport, report_id, with_for_update=True)
    if report is None:
        raise _not_found(report_id)
    return report


def publish_result(uow: UnitOfWork, user: Principal, report_id: str, edited_text: str | None) -> PublicReport:
    """Step 8: publish the approved answer, as edited by the IOC (to the reporter only when private)."""
    now = datetime.now(timezone.utc)
    with uow:
        report = _load(uow, report_id)
        report.publish(user, edited_text, now)
        event = ev.ResultPublished(answer_text=report.answer_text, visibility=_VISIBILITY[report.visibility], on_time=True)
        event.published_at.FromDatetime(now)
        uow.emit(event, report_id=report.report_id, version=report.next_version(), actor=actor_of(user))
        add_step(uow, report.report_id, "published", now)
        uow.commit()
        return report


def return_result(uow: UnitOfWork, user: Principal, report_id: str, reason: str) -> PublicReport:
    """Step 8: return the answer to the lead unit to complete (the reason goes to the unit, not the public)."""
    now = datetime.now(timezone.utc)
    with uow:
        report = _load(uow, report_id)
        reason = report.return_to_unit(user, reason)
        uow.emit(ev.PublicationReturned(reason=reason), report_id=report.report_id, version=report.next_version(), actor=actor_of(user))
        add_step(uow, report.report_id, "returned", now)
        uow.commit()
        return report


def _public():
    """Rows the public may see: content known, and not under state secret."""
    return (PublicReport.received_at.is_not(None), PublicReport.visibility != Visibility.STATE_SECRET.value)


def list_public_reports(uow: UnitOfWork, limit: int = 20, offset: int = 0) -> tuple[list[PublicReport], int]:
    """Return one page of public reports, newest first, and how many there are in all."""
    with uow:
        total = uow.session.execute(select(func.count()).select_from(PublicReport).where(*_public())).scalar_one()
        q = (
            select(PublicReport)
            .where(*_public())
            .order_by(PublicReport.received_at.desc(), PublicReport.report_id.desc())
            .limit(limit)
            .offset(offset)
        )
        return (list(uow.session.execute(q).scalars()), total)


def list_not_eligible(uow: UnitOfWork, limit: int = 20, offset: int = 0) -> list[PublicReport]:
    """Return refused reports with their public reason, newest first."""
    with uow:
        q = (
            select(PublicReport)
            .where(*_public(), PublicReport.status == Status.REFUSED.value)
            .order_by(PublicReport.received_at.desc(), PublicReport.report_id.desc())
            .limit(limit)
            .offset(offset)
        )
        return list(uow.session.execute(q).scalars())


def timeline_of(uow: UnitOfWork, report_id: str) -> list[TimelineEntry]:
    q = select(TimelineEntry).where(TimelineEntry.report_id == report_id).order_by(TimelineEntry.at, TimelineEntry.id)
    return list(uow.session.execute(q).scalars())


def get_public_report(uow: UnitOfWork, report_id: str) -> tuple[PublicReport, list[TimelineEntry]]:
    """Return one public report and its timeline in event-time order."""
    with uow:
        report = uow.session.get(PublicReport, report_id)
        if report is None or not report.is_public_record:
            raise _not_found(report_id)
        return (report, timeline_of(uow, report_id))


def find_by_tracking_code(uow: UnitOfWork, code: str) -> PublicReport:
    """Find a public report by the code the citizen was given."""
    code = (code or "").strip().upper()
    with uow:
        report = uow.session.execute(
            select(PublicReport).where(PublicReport.tracking_code == code, *_public())
        ).scalars().first()
        if not code or report is None:
            raise NotFound(f"No report with tracking code {code}.", f"Không tìm thấy phản ánh có mã tra cứu {code}.")
        return report


def editorial_queue(uow: UnitOfWork, limit: int = 100) -> list[PublicReport]:
    """Return approved answers waiting for the IOC's edit, oldest first (their clock runs)."""
    with uow:
        q = (
            select(PublicReport)
            .where(PublicReport.status == Status.APPROVED.value, PublicReport.received_at.is_not(None))
            .order_by(PublicReport.received_at, PublicReport.report_id)
            .limit(limit)
        )
        return list(uow.session.execute(q).scalars())
