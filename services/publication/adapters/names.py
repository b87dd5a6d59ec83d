"""Publication's copies of what dispatch owns and the portal names: the taxonomy (groups, topics) and the areas.

Dispatch publishes the whole taxonomy (TaxonomyPublished) and the whole directory (DirectoryPublished) each
time they change; publication's consumer replaces its copy in the same transaction as the event's inbox row,
as intake does for its taxonomy and handling for its directory. The portal reads only these copies. An area
is named after the administrative unit (province, district, ward, commune) whose GSO code it is, in the
version valid today; a code no unit names (or before any directory has arrived) is shown as the code itself.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Callable

from google.protobuf.message import Message
from sqlalchemy import Engine, select

from paht.runtime import db
from paht.dispatch.v1 import events_pb2 as dispatch_ev
from paht.runtime.events.envelope import Envelope
from paht.runtime.sla import VN
from paht.runtime.uow import UnitOfWork
from services.publication.adapters.orm import agency_names, area_names, taxonomy_topics

MAX_AGE_S = 5.0  # how long a replica uses the names in memory before reading its tables again
ADMINISTRATIVE = ("province", "district", "ward", "commune")


def on_taxonomy_published(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Make the copy exactly the published taxonomy (every topic with its validity)."""
    now = datetime.now(timezone.utc)
    s = uow.session
    s.execute(taxonomy_topics.delete())
    rows = [{"code": t.code[:60], "name": t.name[:300], "name_en": (t.name_en or t.name)[:300], "group_code": t.group_code[:60],
             "group_name": t.group_name[:300], "group_name_en": (t.group_name_en or t.group_name)[:300],
             "valid_from": t.valid_from[:10], "valid_to": t.valid_to[:10], "revision": event.revision,
             "keywords": [k[:60] for k in t.keywords], "copied_at": now} for t in event.topics]
    if rows:
        s.execute(taxonomy_topics.insert(), rows)


def on_directory_published(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Keep the names of the administrative units (the only ones an area code names), every version."""
    s = uow.session
    s.execute(area_names.delete())
    rows = [{"unit_id": u.id[:80], "code": u.code[:20], "kind": u.kind[:40], "name": u.name[:300], "name_en": (u.name_en or u.name)[:300],
             "valid_from": u.valid_from[:10], "valid_to": u.valid_to[:10], "revision": event.revision}
            for u in event.units if u.kind in ADMINISTRATIVE and u.code]
    if rows:
        s.execute(area_names.insert(), rows)
    # ...and of the units that may lead a report, by id: the statistics name the lead agencies
    s.execute(agency_names.delete())
    leaders = [{"unit_id": u.id[:80], "name": u.name[:300], "name_en": (u.name_en or u.name)[:300], "revision": event.revision}
               for u in event.units if u.can_lead and u.id]
    if leaders:
        s.execute(agency_names.insert(), leaders)


COPIES = {dispatch_ev.TaxonomyPublished: on_taxonomy_published, dispatch_ev.DirectoryPublished: on_directory_published}


@dataclass(frozen=True)
class Named:
    code: str
    vi: str
    en: str

    def name(self, lang: str) -> str:
        return self.vi if lang == "vi" else self.en


@dataclass(frozen=True)
class PortalNames:
    """The names in force today: topics (with their group), groups, areas."""

    topics: dict[str, tuple[Named, Named]]  # topic code -> (topic, its group)
    groups: dict[str, Named]
    areas: dict[str, Named]
    agencies: dict[str, Named] = None  # unit id -> the unit that may lead (staff statistics)
    all_topics: dict[str, tuple[Named, Named]] = None  # every topic ever published, in force or not (old reports keep theirs)

    def topic(self, code: str) -> Named:
        found = self.topics.get(code)
        return found[0] if found else Named(code, code, code)

    def group_of(self, topic_code: str) -> Named | None:
        found = self.topics.get(topic_code)
        return found[1] if found else None

    def area(self, code: str) -> Named:
        return self.areas.get(code) or Named(code, code, code)

    def topics_of(self, group_code: str) -> list[str]:
        return sorted(code for code, (_t, g) in self.topics.items() if g.code == group_code)

    def any_topic(self, code: str) -> tuple[Named, Named | None]:
        """A topic and its group by code, in force or not (a code never published: the code itself, no group)."""
        found = (self.all_topics or {}).get(code) or self.topics.get(code)
        return found if found else (Named(code, code, code), None)

    def topics_of_any(self, group_code: str) -> list[str]:
        """Every topic that was ever in the group (statistics of the past count old topics too)."""
        return sorted(code for code, (_t, g) in (self.all_topics or self.topics).items() if g.code == group_code)

    def agency(self, unit_id: str) -> Named | None:
        return (self.agencies or {}).get(unit_id)


def _valid(valid_from: str, valid_to: str, on: date) -> bool:
    day = on.isoformat()
    return (not valid_from or valid_from <= day) and (not valid_to or day < valid_to)


class NamesCopy:
    """Reads the two copies (a few hundred rows) and keeps them for MAX_AGE_S per process."""

    def __init__(self, engine: Engine, max_age_s: float = MAX_AGE_S, clock: Callable[[], float] = time.monotonic):
        self.engine = engine
        self._max_age_s, self._clock = max_age_s, clock
        self._names: PortalNames | None = None
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def current(self) -> PortalNames:
        with self._lock:
            if self._names is None or self._clock() - self._read_at >= self._max_age_s:
                self._names = self._read(datetime.now(VN).date())
                self._read_at = self._clock()
            return self._names

    def _read(self, on: date) -> PortalNames:
        with db.reading(self.engine) as conn:
            topics = conn.execute(select(taxonomy_topics).order_by(taxonomy_topics.c.group_name, taxonomy_topics.c.name)).all()
            areas = conn.execute(select(area_names).order_by(area_names.c.valid_from)).all()
            leaders = conn.execute(select(agency_names)).all()
        by_topic, groups, every_topic = {}, {}, {}
        for t in topics:
            named_topic = Named(t.code, t.name, t.name_en)
            every_topic[t.code] = (named_topic, Named(t.group_code, t.group_name, t.group_name_en))
            if _valid(t.valid_from, t.valid_to, on):
                group = groups.setdefault(t.group_code, Named(t.group_code, t.group_name, t.group_name_en))
                by_topic[t.code] = (named_topic, group)
        named = {}
        for a in areas:  # ordered by valid_from: the latest version valid today wins, else the latest known
            if _valid(a.valid_from, a.valid_to, on) or a.code not in named:
                named[a.code] = Named(a.code, a.name, a.name_en)
        agencies = {a.unit_id: Named(a.unit_id, a.name, a.name_en) for a in leaders}
        return PortalNames(by_topic, groups, dict(sorted(named.items(), key=lambda kv: kv[1].vi)), agencies, every_topic)
