"""Step 1's look-ups over reports: the 2-day timers due, a reporter's own reports, the candidates for duplicates.

Queries only (in the caller's session); the rules live in the domain and the use cases.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from paht.runtime.paging import Page, SortKey, fetch_page
from services.intake.adapters.orm import reporters, reports
from services.intake.domain.report import Report
from services.intake.domain.vocabulary import OPEN, WAITING

# A reporter's own list: newest first.
NEWEST_FIRST = (SortKey(reports.c.received_at, descending=True, kind="datetime"), SortKey(reports.c.id, descending=True))


def _values(statuses) -> list[str]:
    return [s.value for s in statuses]


def due_for_expiry(session: Session, now: datetime, batch: int) -> list[Report]:
    """Reports waiting at step 1 whose edit or verification time ran out, oldest deadline first, locked for this pass.

    On PostgreSQL the rows are locked FOR UPDATE SKIP LOCKED: a second pass (another replica) takes other
    reports instead of waiting, and a report an operator is changing right now is left for the next pass.
    SQLite has one writer at a time (BEGIN IMMEDIATE), which serialises passes by itself.
    """
    r = reports.c
    query = (select(Report).where(r.status.in_(_values(WAITING)), or_(r.edit_due <= now, r.verify_due <= now))
             .order_by(r.received_at, r.id).limit(batch))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def reporter_ids_of_phone(session: Session, phone: str) -> list[str]:
    """Every reporter row with this phone (one person may have given several e-mail addresses)."""
    return list(session.scalars(select(reporters.c.id).where(reporters.c.phone == phone)))


def reports_of_phone(session: Session, phone: str, cursor: str | None, limit: int | None) -> Page[Report]:
    """One page of the reports of everyone with this phone, newest first, with the total."""
    query = select(Report).join(reporters, reporters.c.id == reports.c.reporter_id).where(reporters.c.phone == phone)
    return fetch_page(session, query, NEWEST_FIRST, cursor, limit)


def of_reporters_since(session: Session, reporter_ids: list[str], since: datetime, exclude: str, limit: int) -> list[Report]:
    """The reports of these reporter rows received since `since` (any status), newest first, without `exclude`."""
    if not reporter_ids:
        return []
    r = reports.c
    query = (select(Report).where(r.reporter_id.in_(reporter_ids), r.received_at >= since, r.id != exclude)
             .order_by(r.received_at.desc(), r.id.desc()).limit(limit))
    return list(session.scalars(query))


def open_in_box(session: Session, topic_code: str, lat: tuple[float, float], lon: tuple[float, float], since: datetime, exclude: str,
                limit: int) -> list[Report]:
    """Open reports (not refused, not cancelled) of one topic whose pin is inside a latitude/longitude box.

    The box is the cheap first filter the index ix_reports_topic_place (topic_code, lat, lon) serves; the
    caller measures the true distance.
    """
    r = reports.c
    query = (select(Report).where(r.topic_code == topic_code, r.lat.between(*lat), r.lon.between(*lon), r.status.in_(_values(OPEN)),
                                  r.received_at >= since, r.id != exclude)
             .order_by(r.received_at.desc(), r.id.desc()).limit(limit))
    return list(session.scalars(query))
