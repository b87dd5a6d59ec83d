"""Publication's repositories: the queries behind the use cases, one repository per aggregate."""
from __future__ import annotations

import math
from typing import NamedTuple

from sqlalchemy import func, literal, select, union_all
from sqlalchemy.orm import Session

from paht.runtime.db import among
from paht.runtime.paging import Page, SortKey, fetch_page
from services.publication.adapters import map_cells as _cell_counts  # noqa: F401  (keeps the map's cell counts in step)
from services.publication.adapters.orm import map_cells, public_reports, taxonomy_topics
from services.publication.adapters.stats import track
from services.publication.domain.feedback import Clarification, ClarificationStatus, ReportRating
from services.publication.domain.portal import (MAP_GRID, MAP_MAX_FEATURES, BBox, ReportFilter, Total, counting_limit, level_for, page_ends_list,
                                                total_of)
from services.publication.domain.public_report import LISTED, NOT_ELIGIBLE, PUBLIC_VISIBILITY, PublicReport, Step, TimelineEntry

# Step 8 work list: urgent first, then the oldest approval (the nearest publish deadline), then id.
EDITORIAL_ORDER = (
    SortKey(PublicReport.urgent, descending=True, kind="bool"),
    SortKey(PublicReport.approved_at, kind="datetime"),
    SortKey(PublicReport.report_id),
)


class Cluster(NamedTuple):
    """One cell of the map's grid: how many matching reports it holds inside the box, and their mean position."""

    count: int
    lat: float
    lon: float


def _like_escaped(word: str) -> str:
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _narrowed(f: ReportFilter, group_topics: list[str] | None = None) -> tuple:
    """The portal's filters as conditions, to add to the visibility rule (never to replace it). `group_topics`: the
    group's topic codes when already read (a list of values lets the planner see how many reports they hold)."""
    c = public_reports.c
    where = []
    if f.topic:
        where.append(c.topic_code == f.topic)
    if f.group and group_topics is not None:
        where.append(c.topic_code.in_(group_topics))
    elif f.group:
        where.append(c.topic_code.in_(select(taxonomy_topics.c.code).where(taxonomy_topics.c.group_code == f.group)))
    if f.area:
        where.append(c.area_code == f.area)
    if f.status:
        where.append(c.status == f.status)
    if f.received_from is not None:
        where.append(c.received_at >= f.received_from)
    if f.received_before is not None:
        where.append(c.received_at < f.received_before)
    where.extend(c.search_text.like(_like_escaped(w), escape="\\") for w in f.words)
    return tuple(where)


def _shown(*steps: Step) -> tuple:
    """Rows the public may see in a list: PublicReport.is_public (content known, visibility PUBLIC: neither private
    to its reporter nor a state secret) in SQL, and in one of these steps. Every public query goes through here."""
    return (
        PublicReport.received_at.is_not(None),
        PublicReport.visibility == PUBLIC_VISIBILITY.value,
        PublicReport.status.in_(sorted(s.value for s in steps)),
    )


class SqlPublicReports:
    """The public record of each report (uow.reports). Whatever a session writes of the records and their ratings
    also reaches the statistics' facts and rollup, at each flush (adapters/stats.py `track`)."""

    def __init__(self, session: Session):
        self.session = session
        track(session)

    def get(self, report_id: str, *, for_update: bool = False) -> PublicReport | None:
        return self.session.get(PublicReport, report_id, with_for_update=for_update)

    def get_or_start(self, report_id: str) -> PublicReport:
        """Load the report's row for update, or start a placeholder when this is the first event seen.

        Several events are often applied in one transaction: a report started by an earlier one is taken
        from this session, and loading does not first flush what earlier events changed (it is written
        once, at the commit)."""
        started = self.session.info.setdefault("publication.started", {})
        report = started.get(report_id)
        if report is not None:
            return report
        if report_id in self.session.info.get("publication.absent", ()):
            report = None  # load_many found no row for it
        elif report_id in self.session.info.get("publication.locked", ()):
            report = self.session.get(PublicReport, report_id)  # load_many locked and holds it: no query
        else:
            with self.session.no_autoflush:
                report = self.get(report_id, for_update=True)  # after load_many: from the session, no query
        if report is None:
            report = PublicReport.placeholder(report_id)
            self.session.add(report)
            started[report_id] = report
        return report

    def load_many(self, report_ids: list[str]) -> None:
        """Load the rows of several reports for update with one query, ahead of a batch of their events."""
        ids = sorted(set(report_ids))
        found = self.session.execute(select(PublicReport).where(among(self.session, PublicReport.report_id, ids))
                                     .order_by(PublicReport.report_id).with_for_update()).scalars().all()
        self._held = found  # the session's identity map keeps objects only while someone else does
        self.session.info["publication.locked"] = {r.report_id for r in found}
        self.session.info["publication.absent"] = set(ids) - self.session.info["publication.locked"]

    def by_tracking_code(self, code: str) -> PublicReport | None:
        q = select(PublicReport).where(PublicReport.tracking_code == code, PublicReport.received_at.is_not(None))
        return self.session.execute(q.order_by(PublicReport.report_id)).scalars().first()

    def _newest_first(self, where: tuple, limit: int, offset: int) -> tuple[list[PublicReport], Total]:
        """One page newest first, and the total: exact from the page itself when it ends the list, else a count
        that stops after counting_limit() + 1 rows (domain/portal.py Total: "more than N" beyond)."""
        q = select(PublicReport).where(*where).order_by(PublicReport.received_at.desc(), PublicReport.report_id.desc())
        page = list(self.session.execute(q.limit(limit).offset(offset)).scalars())
        if page_ends_list(len(page), limit, offset):
            return page, total_of(len(page), limit, offset, None)
        first = select(PublicReport.report_id).where(*where).limit(counting_limit(limit, offset) + 1).subquery()
        counted = self.session.execute(select(func.count()).select_from(first)).scalar_one()
        return page, total_of(len(page), limit, offset, counted)

    def listed(self, limit: int, offset: int) -> tuple[list[PublicReport], Total]:
        """One page of the reports step 1 accepted, newest first, and how many there are (Total: capped)."""
        return self._newest_first(_shown(*LISTED), limit, offset)

    def search(self, f: ReportFilter, limit: int, offset: int) -> tuple[list[PublicReport], Total]:
        """One page of the listed reports that match the portal's filters, newest first, and how many match (capped)."""
        return self._newest_first(_shown(*LISTED) + _narrowed(f, self._group_topics(f)), limit, offset)

    def _group_topics(self, f: ReportFilter) -> list[str] | None:
        """The topics of the filter's group, read first: the database then plans for these values (a sub-select made
        it guess one topic's worth of rows, and pick a scan of every topic's reports for a city's map)."""
        if not f.group:
            return None
        return list(self.session.execute(select(taxonomy_topics.c.code).where(taxonomy_topics.c.group_code == f.group)).scalars())

    def on_map(self, f: ReportFilter, box: BBox, cap: int = MAP_MAX_FEATURES, grid: int = MAP_GRID) -> tuple[list, list, int | None]:
        """The listed reports matching the filters inside a box: (points, clusters, how many).

        Up to `cap` matches: every one as a point (id, title, status, topic, received_at, lat, lon), clusters
        empty, and the count. Above: no points, one cluster per non-empty cell of the box's band (BBox.band: cells of
        2**-band degrees fixed on the world, at most `grid` across) with the count and mean position of the matches
        inside the box (a cell cut by the box's edge counts only its part inside), and the count is None (only "more
        than cap": counting a whole city precisely is what the grid is there to avoid)."""
        c = public_reports.c
        where = _shown(*LISTED) + _narrowed(f, self._group_topics(f)) + (
            c.lat.is_not(None), c.lon.is_not(None),
            c.lat.between(box.south, box.north), c.lon.between(box.west, box.east),
        )
        # Stop counting at cap + 1 (no order: the database stops at the first cap + 1 rows it finds).
        found = self.session.execute(select(func.count()).select_from(select(c.report_id).where(*where).limit(cap + 1).subquery())).scalar_one()
        if found <= cap:
            points = self.session.execute(
                select(c.report_id, c.title, c.status, c.topic_code, c.received_at, c.lat, c.lon).where(*where)
                .order_by(c.received_at.desc(), c.report_id.desc())
            ).all()
            return points, [], len(points)
        band = box.band(grid)
        level = level_for(band)
        if f.empty and level is not None:
            cells = self._cells_from_counts(box, band, level)
        else:  # filters (or a box of a few metres): group the matching reports themselves
            cells = self._cells_of_rows(where, band)
        return [], [Cluster(n, lat / n, lon / n) for (n, lat, lon) in cells.values() if n > 0], None

    def _cells_of_rows(self, where: tuple, band: int) -> dict:
        """{(cx, cy) of the band: (count, lat sum, lon sum)} of the reports matching `where` (floor(x * 2^band) in SQL
        is domain/portal.py cell_of's: scaling by a power of two is exact)."""
        c = public_reports.c
        scale = literal(2.0 ** band)
        cx, cy = func.floor(c.lon * scale), func.floor(c.lat * scale)
        rows = self.session.execute(select(cx, cy, func.count(), func.sum(c.lat), func.sum(c.lon)).where(*where).group_by(cx, cy)).all()
        return {(int(x), int(y)): (n, lat, lon) for x, y, n, lat, lon in rows}

    def _cells_from_counts(self, box: BBox, band: int, level: int) -> dict:
        """The band's cells of every listed report in the box: the kept counts of the level's cells wholly inside the
        box (grouped into the band's), plus the reports in the strips along its edges that those cells leave out."""
        m = map_cells.c
        shift = level - band
        scale = 2.0 ** level
        x0, y0 = math.ceil(box.west * scale), math.ceil(box.south * scale)        # first cell wholly inside
        x1, y1 = math.floor(box.east * scale), math.floor(box.north * scale)      # first cell not wholly inside
        cells: dict = {}
        if x0 < x1 and y0 < y1:
            bx, by = m.cx.op(">>")(shift), m.cy.op(">>")(shift)
            inner = self.session.execute(
                select(bx, by, func.sum(m.count), func.sum(m.lat_sum), func.sum(m.lon_sum))
                .where(m.level == level, m.cx >= x0, m.cx < x1, m.cy >= y0, m.cy < y1, m.count > 0).group_by(bx, by)).all()
            cells = {(x, y): (n, lat, lon) for x, y, n, lat, lon in inner}
            west_in, east_in, south_in, north_in = x0 / scale, x1 / scale, y0 / scale, y1 / scale
        else:  # no cell wholly inside: every report of the box is in the "strips"
            west_in = east_in = box.west
            south_in = north_in = box.south
        c = public_reports.c
        placed = _shown(*LISTED) + (c.lat.is_not(None), c.lon.is_not(None))
        # four disjoint strips, each a range of one indexed column: south and north (full width), west and east (between)
        strips = [
            (c.lat >= box.south, c.lat < south_in, c.lon.between(box.west, box.east)),
            (c.lat >= north_in, c.lat <= box.north, c.lon.between(box.west, box.east)),
            (c.lat >= south_in, c.lat < north_in, c.lon >= box.west, c.lon < west_in),
            (c.lat >= south_in, c.lat < north_in, c.lon >= east_in, c.lon <= box.east),
        ]
        scale_b = literal(2.0 ** band)
        parts = [select(func.floor(c.lon * scale_b).label("x"), func.floor(c.lat * scale_b).label("y"), c.lat, c.lon).where(*placed, *strip)
                 for strip in strips]
        edge = union_all(*parts).subquery()
        rows = self.session.execute(
            select(edge.c.x, edge.c.y, func.count(), func.sum(edge.c.lat), func.sum(edge.c.lon)).group_by(edge.c.x, edge.c.y)).all()
        for x, y, n, lat, lon in rows:
            key = (int(x), int(y))
            had = cells.get(key, (0, 0.0, 0.0))
            cells[key] = (had[0] + n, had[1] + lat, had[2] + lon)
        return cells

    def not_eligible(self, limit: int, offset: int) -> tuple[list[PublicReport], Total]:
        """One page of the reports refused at step 1, newest first, and how many there are."""
        return self._newest_first(_shown(*NOT_ELIGIBLE), limit, offset)

    def editorial_queue(self, cursor: str | None, limit: int | None) -> Page[PublicReport]:
        """Approved answers waiting for step 8, in EDITORIAL_ORDER (content known: the privacy flag decides)."""
        q = select(PublicReport).where(
            PublicReport.status == Step.APPROVED.value,
            PublicReport.received_at.is_not(None),
            PublicReport.approved_at.is_not(None),
        )
        return fetch_page(self.session, q, EDITORIAL_ORDER, cursor, limit)


class SqlTimeline:
    """The public steps of every report (uow.timeline)."""

    def __init__(self, session: Session):
        self.session = session

    def add(self, entry: TimelineEntry) -> None:
        self.session.add(entry)

    def of_report(self, report_id: str) -> list[TimelineEntry]:
        """The report's entries in time order, those added in this transaction included, without writing anything
        first (the read model asks mid-batch; its rows are written once, at the commit)."""
        q = select(TimelineEntry).where(TimelineEntry.report_id == report_id).order_by(TimelineEntry.at, TimelineEntry.id)
        with self.session.no_autoflush:
            stored = list(self.session.execute(q).scalars())
        pending = [e for e in self.session.new if isinstance(e, TimelineEntry) and e.report_id == report_id and e not in stored]
        return sorted(stored + pending, key=lambda e: (e.at, e.id))


class SqlFeedback:
    """The reporter's rating and requests to clarify (uow.feedback). Callers hold the report's row lock first, so
    two taps at once take turns; the rating's primary key is the last guard of "once"."""

    def __init__(self, session: Session):
        self.session = session

    def rating_of(self, report_id: str) -> ReportRating | None:
        return self.session.get(ReportRating, report_id)

    def add_rating(self, rating: ReportRating) -> None:
        self.session.add(rating)

    def add_clarification(self, clarification: Clarification) -> None:
        self.session.add(clarification)

    def clarification(self, clarification_id: str, fresh: bool = False) -> Clarification | None:
        """`fresh`: read the row again (after taking its report's lock, another editor's decision is seen)."""
        return self.session.get(Clarification, clarification_id, populate_existing=fresh)

    def open_clarification(self, report_id: str) -> Clarification | None:
        q = select(Clarification).where(Clarification.report_id == report_id, Clarification.status != ClarificationStatus.GIVEN.value)
        return self.session.execute(q.limit(1)).scalars().first()

    def awaiting_ioc(self, limit: int) -> tuple[list[tuple[Clarification, PublicReport]], int]:
        """The approved clarifications waiting for the IOC, oldest approval first, each with its report; and how many."""
        waiting = Clarification.status == ClarificationStatus.AWAITING_IOC.value
        q = (select(Clarification, PublicReport).join(PublicReport, PublicReport.report_id == Clarification.report_id)
             .where(waiting).order_by(Clarification.approved_at, Clarification.id).limit(limit))
        total = self.session.execute(select(func.count()).select_from(Clarification).where(waiting)).scalar_one()
        return [(c, r) for c, r in self.session.execute(q)], total

    def clarifications_of(self, report_id: str) -> list[Clarification]:
        q = select(Clarification).where(Clarification.report_id == report_id).order_by(Clarification.asked_at, Clarification.id)
        return list(self.session.execute(q).scalars())
