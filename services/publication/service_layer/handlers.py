"""Publication's use cases: publish or return a result (step 8), and the public and editorial queries."""
from __future__ import annotations

from datetime import datetime, timezone

from paht.publication.v1 import events_pb2 as ev
from paht.runtime.auth import Principal
from paht.runtime.errors import NotFound
from paht.runtime.paging import Page
from paht.runtime.uow import UnitOfWork, actor_of
from services.publication.domain.public_report import (
    PublicReport,
    Step,
    TimelineEntry,
    Visibility,
    clean_tracking_code,
    is_report_id,
)
from services.publication.domain.portal import BBox, ReportFilter
from services.publication.service_layer.read_model import add_step



def visibility_to_proto(value: str) -> int:
    """Map a domain visibility to the proto enum by name (VISIBILITY_<NAME>), so neither side is restated."""
    return ev.Visibility.Value("VISIBILITY_" + Visibility(value).name)


def _not_found(report_id: str) -> NotFound:
    shown = report_id if is_report_id(report_id) else "?"  # never echo what could not be an id
    return NotFound(f"No public report {shown}.", f"Không tìm thấy phản ánh {shown}.")


def _load(uow: UnitOfWork, report_id: str) -> PublicReport:
    report = uow.reports.get(report_id, for_update=True) if is_report_id(report_id) else None
    if report is None:
        raise _not_found(report_id)
    return report


def publish_result(uow: UnitOfWork, user: Principal, report_id: str, edited_text: str | None) -> PublicReport:
    """Step 8: publish the approved answer, as edited by the IOC (to the reporter only when private)."""
    now = datetime.now(timezone.utc)
    with uow:
        report = _load(uow, report_id)
        report.publish(user, edited_text, now)
        event = ev.ResultPublished(answer_text=report.answer_text, visibility=visibility_to_proto(report.visibility),
                                   on_time=report.published_on_time())
        event.published_at.FromDatetime(now)
        if report.publish_due is not None:
            event.publish_due.FromDatetime(report.publish_due)
        uow.emit(event, report_id=report.report_id, version=report.next_version(), actor=actor_of(user))
        add_step(uow, report.report_id, Step.PUBLISHED, now)
        uow.commit()
        return report


def return_result(uow: UnitOfWork, user: Principal, report_id: str, reason: str) -> PublicReport:
    """Step 8: return the answer to the lead unit to complete (the reason goes to the unit, not the public)."""
    now = datetime.now(timezone.utc)
    with uow:
        report = _load(uow, report_id)
        reason = report.return_to_unit(user, reason)
        uow.emit(ev.PublicationReturned(reason=reason), report_id=report.report_id, version=report.next_version(), actor=actor_of(user))
        add_step(uow, report.report_id, Step.RETURNED_BY_IOC, now)
        uow.commit()
        return report


def list_public_reports(uow: UnitOfWork, limit: int = 20, offset: int = 0) -> tuple[list[PublicReport], int]:
    """Return one page of the reports step 1 accepted, newest first, and how many there are in all."""
    with uow:
        return uow.reports.listed(limit, offset)


def search_public_reports(uow: UnitOfWork, f: ReportFilter, limit: int = 20, offset: int = 0) -> tuple[list[PublicReport], int]:
    """Return one page of the listed reports that match a citizen's filters, newest first, and how many match."""
    with uow:
        return uow.reports.search(f, limit, offset)


def reports_on_map(uow: UnitOfWork, f: ReportFilter, box: BBox) -> tuple[list, list, int | None]:
    """Return the listed reports matching the filters inside a box: points, or grid clusters when there are too many."""
    with uow:
        return uow.reports.on_map(f, box)


def list_not_eligible(uow: UnitOfWork, limit: int = 20, offset: int = 0) -> tuple[list[PublicReport], int]:
    """Return one page of the reports refused at step 1 (their reason is public), newest first, and the total."""
    with uow:
        return uow.reports.not_eligible(limit, offset)


def get_public_report(uow: UnitOfWork, report_id: str) -> tuple[PublicReport, list[TimelineEntry]]:
    """Return one public report and its timeline in event-time order (unknown until step 1 decided)."""
    with uow:
        report = uow.reports.get(report_id) if is_report_id(report_id) else None
        if report is None or not report.is_public_record:
            raise _not_found(report_id)
        return (report, uow.timeline.of_report(report_id))


def get_report_of_reporter(uow: UnitOfWork, report_id: str, reporter_refs: list[str]) -> tuple[PublicReport, list[TimelineEntry]]:
    """Return a report and its timeline to its own reporter (`reporter_refs`: whom intake says the visitor is), also
    when the public may not see it (the reporter asked that the result go to them only); state secrets: to nobody."""
    with uow:
        report = uow.reports.get(report_id) if is_report_id(report_id) else None
        if report is None or not report.is_trackable or not report.reporter_ref or report.reporter_ref not in reporter_refs:
            raise _not_found(report_id)
        return (report, uow.timeline.of_report(report_id))


def report_for_visitor(uow: UnitOfWork, report_id: str, reporter_refs: list[str]) -> tuple[PublicReport, list[TimelineEntry]]:
    """A report's page for whoever opens it: the public record, or — when the public may not see it — its own
    reporter's (`reporter_refs`, as intake named the visitor); anyone else: not found."""
    try:
        return get_public_report(uow, report_id)
    except NotFound:
        if not reporter_refs:
            raise
        return get_report_of_reporter(uow, report_id, reporter_refs)


def find_by_tracking_code(uow: UnitOfWork, code: str) -> PublicReport:
    """Find a report by the code its reporter was given (callers show little unless it is a public record)."""
    code = clean_tracking_code(code)
    with uow:
        report = uow.reports.by_tracking_code(code)
        if report is None or not report.is_trackable:
            raise NotFound(f"No report with tracking code {code}.", f"Không tìm thấy phản ánh có mã tra cứu {code}.")
        return report


def decided_report(uow: UnitOfWork, report_id: str) -> PublicReport | None:
    """The report the IOC has just published or returned at step 8 (its queue says which, by title and code); None if unknown."""
    if not is_report_id(report_id):
        return None
    with uow:
        return uow.reports.get(report_id)


def editorial_queue(uow: UnitOfWork, cursor: str | None = None, limit: int | None = None) -> Page[PublicReport]:
    """Return one page of approved answers waiting for the IOC's edit: urgent first, then oldest approval."""
    with uow:
        return uow.reports.editorial_queue(cursor, limit)
