"""The business calendar as the IOC administrator keeps it: every revision stored, the newest in force.

What it holds is the SLA engine's CalendarData (extra days off, worked days, local holidays, working
hours per organisation and season, agencies' shorter limits); the Vietnamese public holidays and the
government's day swaps come from the `holidays` package inside the engine. Each saved revision is also
published (CalendarPublished) so that every service computing deadlines keeps the same copy.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from paht.runtime import db
from paht.common.v1 import common_pb2
from paht.dispatch.v1 import events_pb2 as ev
from paht.runtime.auth import Principal
from paht.runtime.errors import ConcurrentChange, NotFound
from paht.runtime.ids import CALENDAR_ID
from paht.runtime.sla import CalendarData, SlaEngine
from paht.runtime.sla.cache import digest, engine_for
from paht.runtime.uow import UnitOfWork, actor_of

SYSTEM = common_pb2.Actor(subject="system", role="system")


def engine(uow: UnitOfWork) -> SlaEngine:
    """Return the engine of the calendar in force (inside an open unit of work)."""
    row = uow.calendar.current()
    return engine_for(row.data, row.sha256) if row is not None else engine_for(None)


def current(uow: UnitOfWork) -> dict:
    with uow:
        row = uow.calendar.current()
        if row is None:
            return {"revision": 0, "at": None, "by": "", "note": "", "calendar": CalendarData().to_dict()}
        return _view(row)


def revision(uow: UnitOfWork, number: int) -> dict:
    with uow:
        row = uow.calendar.revision(number)
        if row is None:
            raise NotFound(f"No calendar revision {number}.", f"Không có phiên bản lịch làm việc {number}.")
        return _view(row)


def revisions(uow: UnitOfWork) -> list[dict]:
    with uow:
        return [{"revision": r.revision, "at": r.at.isoformat(), "by": r.by, "note": r.note, "sha256": r.sha256}
                for r in uow.calendar.revisions()]


def _view(row) -> dict:
    return {"revision": row.revision, "at": row.at.isoformat(), "by": row.by, "note": row.note, "sha256": row.sha256, "calendar": row.data}


def save(uow: UnitOfWork, user: Principal | None, data: dict, note: str = "") -> dict:
    """Validate a whole calendar and store it as the next revision, published in the same transaction.

    Refused whole (InvalidInput naming the entry) when any part is wrong; an unchanged calendar is not
    a new revision. Two administrators saving at once: one gets ConcurrentChange and saves again.
    """
    from sqlalchemy.exc import IntegrityError

    from paht.runtime.text import Label, clean_optional

    note = clean_optional(note, Label("Note", "Ghi chú"), 500)
    normalised = CalendarData.from_dict(data).to_dict()
    sha = digest(normalised)
    now = datetime.now(timezone.utc)
    try:
        with uow:
            row = uow.calendar.current()
            if row is not None and row.sha256 == sha:
                return _view(row)
            number = (row.revision if row is not None else 0) + 1
            uow.calendar.add(number, now, user.subject if user else "system", note, normalised, sha)
            uow.emit(ev.CalendarPublished(revision=number, calendar_json=json.dumps(normalised, ensure_ascii=False, sort_keys=True)),
                     report_id=CALENDAR_ID, version=number, actor=actor_of(user) if user else SYSTEM)
            uow.commit()
    except IntegrityError:
        raise ConcurrentChange("Someone saved the calendar at the same moment: reload it and save again.",
                               "Có người vừa lưu lịch làm việc cùng lúc: vui lòng tải lại và lưu lại.") from None
    return current(uow)


def seed(uow: UnitOfWork) -> int:
    """Store and publish the first calendar (the defaults: public holidays and 07:00-11:30, 13:30-17:00) if none."""
    with uow:
        if uow.calendar.current() is not None:
            return 0
    save(uow, None, CalendarData().to_dict(), "Lịch mặc định / default calendar")
    return 1


def stored(settings) -> tuple[int, dict] | None:
    """Return (revision, calendar) as stored in dispatch's database, or None when there is none to read.

    For `paht sla due`, so that an operator's check uses the calendar the services use. Reads only:
    a missing database or table (not migrated yet) is None, never created here.
    """
    from sqlalchemy import inspect, select

    from paht.runtime.db import make_engine
    from services.dispatch.adapters.orm_clocks import calendar_revisions

    if not settings.database_url and not (settings.data / "db" / "dispatch.sqlite3").exists():
        return None  # no embedded run here (make_engine would create an empty database)
    engine = make_engine(settings, "dispatch")
    try:
        if not inspect(engine).has_table("calendar_revisions"):
            return None
        with db.reading(engine) as conn:
            row = conn.execute(select(calendar_revisions.c.revision, calendar_revisions.c.data)
                               .order_by(calendar_revisions.c.revision.desc()).limit(1)).first()
        return (row.revision, row.data) if row is not None else None
    finally:
        engine.dispose()
