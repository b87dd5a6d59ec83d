"""The statistics' use cases: a period's figures with the overdue list, and the monthly report.

Read-only (StatsReader: no unit of work, never the writers' lock). Who may ask is checked by the entrypoints
(roles.IOC and roles.STEERING); every figure here is a count or a time, and the overdue list names reports by
tracking code, with a title only when the report is public.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import Engine

from services.publication.adapters.names import PortalNames
from services.publication.adapters.stats import StatsReader
from services.publication.domain.stats import (
    OVERDUE_SHOWN,
    Dim,
    Every,
    Statistics,
    StatsQuery,
    local_day,
    month_end,
    previous_month,
    start_of,
    unknown_filter,
)


@dataclass
class Overdue:
    """The reports late at `at`, most late first (PublicReport, its late Deadline), and how many there were."""

    at: datetime
    items: list
    total: int


@dataclass
class Figures:
    stats: Statistics
    overdue: Overdue
    agency_names: dict[str, str]  # names as dispatched, for agencies the directory copy does not name


@dataclass
class Monthly:
    month: date
    this: Figures
    previous: Statistics


def _topics_of_group(names: PortalNames, query: StatsQuery) -> list[str] | None:
    return names.topics_of_any(query.group) if query.group else None


def check_known(reader: StatsReader, names: PortalNames, query: StatsQuery) -> None:
    """A filter naming a code no copy of dispatch's names and no counted report knows is a 400, not an empty page."""
    if query.group and not names.topics_of_any(query.group):
        raise unknown_filter("group", query.group)
    if query.topic and query.topic not in (names.all_topics or {}) and query.topic not in names.topics and not reader.counted(Dim.TOPIC, query.topic):
        raise unknown_filter("topic", query.topic)
    if query.area and query.area not in names.areas and not reader.counted(Dim.AREA, query.area):
        raise unknown_filter("area", query.area)
    if query.agency and names.agency(query.agency) is None and not reader.counted(Dim.AGENCY, query.agency):
        raise unknown_filter("agency", query.agency)


def _figures(reader: StatsReader, names: PortalNames, query: StatsQuery, overdue_at: datetime, live: bool, limit: int) -> Figures:
    topics = _topics_of_group(names, query)
    stats = reader.statistics(query, topics)
    late, total = reader.overdue(query, overdue_at, topics, live, limit)
    agencies = {code for code in stats.by[Dim.AGENCY] if code} | {r.lead_agency_id for r, _d in late if r.lead_agency_id}
    unnamed = sorted(a for a in agencies if names.agency(a) is None)
    return Figures(stats, Overdue(overdue_at, late, total), reader.agency_names(unnamed) if unnamed else {})


def figures(engine: Engine, names: PortalNames, query: StatsQuery, now: datetime | None = None, limit: int = OVERDUE_SHOWN) -> Figures:
    """A period's figures (from its rollup, or its matching reports when filtered) and the reports overdue now."""
    now = now or datetime.now(timezone.utc)
    with StatsReader(engine) as reader:
        check_known(reader, names, query)
        return _figures(reader, names, query, now, True, limit)


def monthly(engine: Engine, names: PortalNames, month: date, now: datetime | None = None, limit: int = OVERDUE_SHOWN) -> Monthly:
    """The monthly report: the month's figures, the month before's for comparison, the overdue list at month end
    (at this moment for the month under way)."""
    now = now or datetime.now(timezone.utc)
    last = month_end(month)
    this = StatsQuery(month, last, Every.DAY)
    before = previous_month(month)
    end = start_of(last + timedelta(days=1))
    with StatsReader(engine) as reader:
        live = end >= now
        current = _figures(reader, names, this, now if live else end, live, limit)
        previous = reader.statistics(StatsQuery(before, month_end(before), Every.DAY))
    return Monthly(month, current, previous)


def today(now: datetime | None = None) -> date:
    """Today in Vietnam."""
    return local_day(now or datetime.now(timezone.utc))
