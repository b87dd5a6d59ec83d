"""The taxonomy as Open311 GeoReport v2 reads it: its services, from publication's one copy of dispatch's taxonomy
(`taxonomy_topics`, kept by adapters/names.py from TaxonomyPublished). Open311's `services` and the `service_name`
of each request are read from here only: a public read never waits on a call to dispatch.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from paht.runtime.sla import VN
from services.publication.adapters.orm import taxonomy_topics


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


def services_in_force(session: Session, on: date | None = None) -> list[Service]:
    """The topics in force today (Vietnam's calendar day), by group then code."""
    on = on or datetime.now(VN).date()
    rows = session.execute(select(taxonomy_topics).order_by(taxonomy_topics.c.group_code, taxonomy_topics.c.code)).all()
    return [Service(r.code, r.name, r.group_code, r.group_name, tuple(r.keywords or ()))
            for r in rows if (_day(r.valid_from) is None or _day(r.valid_from) <= on) and (_day(r.valid_to) is None or on < _day(r.valid_to))]


def names(session: Session) -> dict[str, str]:
    """Every topic's name by code, in force or not (a report keeps the topic it was filed under)."""
    return dict(session.execute(select(taxonomy_topics.c.code, taxonomy_topics.c.name)).all())


def changed_at(session: Session) -> datetime | None:
    """When the copy last changed (the discovery file's changeset)."""
    return session.execute(select(taxonomy_topics.c.copied_at).limit(1)).scalar_one_or_none()
