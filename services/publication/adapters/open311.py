"""The queries behind Open311 GeoReport v2: which public records match its filters, and when each last changed.

Which reports the public may see is the repositories' rule (`_shown`), never restated here.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, load_only

from services.publication.adapters.repositories import _shown
from services.publication.domain.public_report import LISTED, NOT_ELIGIBLE, PublicReport, Step, TimelineEntry

PUBLIC_RECORD = (*LISTED, *NOT_ELIGIBLE)  # what anyone may open: listed, or refused with its public reason

# What a service request shows of a report (domain/open311.py request_view, with PublicReport's public_answer and
# shown_media): a page of a thousand reads these columns only; any other attribute raises rather than loading per row.
REQUEST_COLUMNS = load_only(
    PublicReport.report_id, PublicReport.status, PublicReport.visibility, PublicReport.received_at, PublicReport.answer_text,
    PublicReport.refusal_text, PublicReport.topic_code, PublicReport.description, PublicReport.lead_agency_name,
    PublicReport.address_text, PublicReport.lat, PublicReport.lon, PublicReport.public_media, raiseload=True)


def requests(session: Session, *, steps: list[Step], codes: list[str], start: datetime, end: datetime,
             limit: int, offset: int) -> list[tuple[PublicReport, datetime | None]]:
    """One page of the public records in these Open311 statuses received in [start, end], newest first, each with
    when its public timeline last moved (read in the same query: a page of a thousand asks once, not twice)."""
    shown = [s for s in PUBLIC_RECORD if s in steps]
    if not shown:
        return []
    q = (select(PublicReport, _last_change())
         .where(*_shown(*shown), PublicReport.received_at >= start, PublicReport.received_at <= end))
    if codes:
        q = q.where(PublicReport.topic_code.in_(codes))
    q = q.order_by(PublicReport.received_at.desc(), PublicReport.report_id.desc()).limit(limit).offset(offset)
    return [(report, changed) for report, changed in session.execute(q.options(REQUEST_COLUMNS))]


def by_ids(session: Session, ids: list[str]) -> dict[str, PublicReport]:
    if not ids:
        return {}
    return {r.report_id: r for r in session.execute(select(PublicReport).where(PublicReport.report_id.in_(ids))).scalars()}


def _last_change():
    """When the report's public timeline last moved (Open311's updated_datetime), as a column of a query of reports."""
    return select(func.max(TimelineEntry.at)).where(TimelineEntry.report_id == PublicReport.report_id).scalar_subquery()


def last_changes(session: Session, ids: list[str]) -> dict[str, datetime]:
    """When each report's public timeline last moved (Open311's updated_datetime)."""
    if not ids:
        return {}
    q = select(TimelineEntry.report_id, func.max(TimelineEntry.at)).where(TimelineEntry.report_id.in_(ids)).group_by(TimelineEntry.report_id)
    return dict(session.execute(q).all())


def updates(session: Session, *, start: datetime, end: datetime, limit: int, offset: int) -> list[tuple[TimelineEntry, PublicReport]]:
    """The public timeline entries of public records in [start, end], oldest first (mySociety's servicerequestupdates)."""
    q = (select(TimelineEntry, PublicReport).join(PublicReport, PublicReport.report_id == TimelineEntry.report_id)
         .where(*_shown(*PUBLIC_RECORD), TimelineEntry.at >= start, TimelineEntry.at <= end)
         .order_by(TimelineEntry.at, TimelineEntry.id).limit(limit).offset(offset))
    return [(e, r) for e, r in session.execute(q).all()]


