"""Intake's copy of the taxonomy (groups and topics), which dispatch owns.

Dispatch publishes the whole taxonomy as one event (TaxonomyPublished) each time the IOC administrator
changes it; intake's consumer replaces its copy in the same transaction as the event's inbox row. A
citizen's submission and the IOC's step 1 read only this copy: they never wait on a call to dispatch.
Every replica keeps the copy in memory for a few seconds. Only when no copy has ever arrived (a new
installation whose dispatch has not published yet) does a lookup fail, with Unavailable (503).
"""
from __future__ import annotations

import threading
import time
from datetime import date, datetime, timezone
from typing import Callable

from google.protobuf.message import Message
from sqlalchemy import Engine, select

from paht.runtime import db
from paht.runtime.errors import Unavailable
from paht.runtime.events.envelope import Envelope
from paht.runtime.sla import VN
from paht.runtime.uow import UnitOfWork
from services.intake.adapters.orm import taxonomy_topics
from services.intake.domain.taxonomy import Topic

MAX_AGE_S = 5.0  # how long a replica uses its in-memory topics before reading its table again


def _day(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


def on_taxonomy_published(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Make the copy exactly the published taxonomy (every topic with its validity)."""
    now = datetime.now(timezone.utc)
    s = uow.session
    s.execute(taxonomy_topics.delete())
    rows = [{"code": t.code, "name": t.name[:300], "group_code": t.group_code, "group_name": t.group_name[:300],
             "valid_from": _day(t.valid_from), "valid_to": _day(t.valid_to), "revision": event.revision, "copied_at": now,
             "keywords": [k[:60] for k in t.keywords]}
            for t in event.topics]
    if rows:
        s.execute(taxonomy_topics.insert(), rows)


class TaxonomyCopy:
    """The Taxonomy port over intake's own table: topics in force today (Vietnam's calendar day)."""

    def __init__(self, engine: Engine, max_age_s: float = MAX_AGE_S, clock: Callable[[], float] = time.monotonic):
        self.engine = engine
        self._max_age_s, self._clock = max_age_s, clock
        self._rows: list | None = None
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def _load(self) -> list:
        with self._lock:
            if self._rows is None or self._clock() - self._read_at >= self._max_age_s:
                with db.reading(self.engine) as conn:
                    self._rows = conn.execute(select(taxonomy_topics)).all()
                self._read_at = self._clock()
            return self._rows

    def topics(self, on: date | None = None) -> dict[str, Topic]:
        on = on or datetime.now(VN).date()
        return {r.code: Topic(code=r.code, name=r.name, group_code=r.group_code, group_name=r.group_name, keywords=tuple(r.keywords or ()))
                for r in self._load() if (r.valid_from is None or r.valid_from <= on) and (r.valid_to is None or on < r.valid_to)}

    def find(self, code: str) -> Topic | None:
        rows = self._load()
        if not rows:
            raise Unavailable(
                "Topics cannot be checked yet: intake has not received the taxonomy from the directory. Try again in a minute.",
                "Chưa thể kiểm tra lĩnh vực: chưa nhận được danh mục lĩnh vực từ dịch vụ danh mục. Vui lòng thử lại sau ít phút.",
            )
        return self.topics().get(code)
