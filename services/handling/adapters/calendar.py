"""Handling's copy of the business calendar, which dispatch owns and publishes (CalendarPublished)."""
from __future__ import annotations

from datetime import datetime, timezone

from google.protobuf.message import Message
from sqlalchemy import select

from paht.runtime.events.envelope import Envelope
from paht.runtime.sla import SlaEngine
from paht.runtime.sla.cache import engine_for
from paht.runtime.uow import UnitOfWork
from services.handling.adapters.orm import calendar_copy

ROW = 1


def on_calendar_published(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Keep the newest calendar (revisions arrive in order; an older one never replaces a newer)."""
    import json

    s = uow.session
    current = s.execute(select(calendar_copy.c.revision).where(calendar_copy.c.id == ROW)).scalar()
    values = {"revision": event.revision, "data": json.loads(event.calendar_json), "copied_at": datetime.now(timezone.utc)}
    if current is None:
        s.execute(calendar_copy.insert().values(id=ROW, **values))
    elif event.revision > current:
        s.execute(calendar_copy.update().where(calendar_copy.c.id == ROW).values(**values))


def engine(uow: UnitOfWork) -> SlaEngine:
    """The engine of the calendar handling last received (the defaults until the first one arrives)."""
    if getattr(uow, "session", None) is None:  # a unit of work without a database (unit tests' fake): the defaults
        return engine_for(None)
    data = uow.session.execute(select(calendar_copy.c.data).where(calendar_copy.c.id == ROW)).scalar()
    return engine_for(data)
