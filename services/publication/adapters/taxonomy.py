"""Publication's copy of the taxonomy (dispatch owns it): the services of Open311 GeoReport v2.

Dispatch publishes the whole taxonomy as one event (TaxonomyPublished) each time the IOC administrator
changes it; the consumer replaces this copy in the event's transaction, as intake does with its own
(services/intake/adapters/taxonomy.py). Open311's `services` and the `service_name` of each request are
read from here only: a public read never waits on a call to dispatch.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

from google.protobuf.message import Message
from sqlalchemy import select
from sqlalchemy.orm import Session

from paht.runtime.events.envelope import Envelope
from paht.runtime.sla import VN
from paht.runtime.uow import UnitOfWork
from services.publication.adapters.orm import service_topics


@dataclass(frozen=True)
class Service:
    """One topic of the taxonomy, as Open311 lists it."""

    code: str
    name: str
    group_code: str
    group_name: str
    keywords: tuple[str, ...] = ()


def _day(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


def on_taxonomy_published(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Make the copy exactly the published taxonomy (every topic with its validity)."""
    now = datetime.now(timezone.utc)
    s = uow.session
    s.execute(service_topics.delete())
    rows = [{"code": t.code, "name": t.name[:300], "group_code": t.group_code, "group_name": t.group_name[:300],
             "valid_from": _day(t.valid_from), "valid_to": _day(t.valid_to), "revision": event.revision, "copied_at": now,
             "keywords": [k[:60] for k in t.keywords]}
            for t in event.topics]
    if rows:
        s.execute(service_topics.insert(), rows)


def services_in_force(session: Session, on: date | None = None) -> list[Service]:
    """The topics in force today (Vietnam's calendar day), by group then code."""
    on = on or datetime.now(VN).date()
    rows = session.execute(select(service_topics).order_by(service_topics.c.group_code, service_topics.c.code)).all()
    return [Service(r.code, r.name, r.group_code, r.group_name, tuple(r.keywords or ()))
            for r in rows if (r.valid_from is None or r.valid_from <= on) and (r.valid_to is None or on < r.valid_to)]


def names(session: Session) -> dict[str, str]:
    """Every topic's name by code, in force or not (a report keeps the topic it was filed under)."""
    return dict(session.execute(select(service_topics.c.code, service_topics.c.name)).all())


def changed_at(session: Session) -> datetime | None:
    """When the copy last changed (the discovery file's changeset)."""
    return session.execute(select(service_topics.c.copied_at).limit(1)).scalar_one_or_none()
