"""Publication's repositories: the queries behind the use cases, one repository per aggregate."""
from __future__ import annotations

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from paht.runtime.paging import Page, SortKey, fetch_page
from services.publication.adapters.orm import public_reports, taxonomy_topics
from services.publication.adapters.stats import track
from services.publication.domain.feedback import Clarification, ClarificationStatus, ReportRating
from services.publication.domain.portal import MAP_GRID, MAP_MAX_FEATURES, BBox, ReportFilter
from services.publication.domain.public_report import LISTED, NOT_ELIGIBLE, PUBLIC_VISIBILITY, PublicReport, Step, TimelineEntry

# Step 8 work list: urgent first, then the oldest approval (the nearest publish deadline), then id.
EDITORIAL_ORDER = (
    SortKey(PublicReport.urgent, descending=True, kind="bool"),
    SortKey(PublicReport.approved_at, kind="datetime"),
    SortKey(PublicReport.report_id),
)


def _like_escaped(word: str) -> str:
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _narrowed(f: ReportFilter) -> tuple:
    """The portal's filters as conditions, to add to the visibility rule (never to replace it)."""
    c = public_reports.c
    where = []
    if f.topic:
        where.append(c.topic_code == f.topic)
    if f.group:
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
        found = self.session.execute(select(PublicReport).where(PublicReport.report_id.in_(ids)).with_for_update()).scalars().all()
        self.session.info["publication.absent"] = set(ids) - {r.report_id for r in found}

    def by_tracking_code(self, code: str) -> PublicReport | None:
        q = select(PublicReport).where(PublicReport.tracking_code == code, PublicReport.received_at.is_not(None))
        return self.session.execute(q.order_by(PublicReport.report_id)).scalars().first()

    def _newest_first(self, where: tuple, limit: int, offset: int) -> tuple[list[PublicReport], int]:
        total = self.session.execute(select(func.count()).select_from(PublicReport).where(*where)).scalar_one()
        q = select(PublicReport).where(*where).order_by(PublicReport.received_at.desc(), PublicReport.report_id.desc())
        return list(self.session.execute(q.limit(limit).offset(offset)).scalars()), total

    def listed(self, limit: int, offset: int) -> tuple[list[PublicReport], int]:
        """One page of the reports step 1 accepted, newest first, and how many there are."""
        return self._newest_first(_shown(*LISTED), limit, offset)

    def search(self, f: ReportFilter, limit: int, offset: int) -> tuple[list[PublicReport], int]:
        """One page of the listed reports that match the portal's filters, newest first, and how many match."""
        return self._newest_first(_shown(*LISTED) + _narrowed(f), limit, offset)

    def on_map(self, f: ReportFilter, box: BBox, cap: int = MAP_MAX_FEATURES, grid: int = MAP_GRID) -> tuple[list, list, int | None]:
        """The listed reports matching the filters inside a box: (points, clusters, how many).

        Up to `cap` matches: every one as a point (id, title, status, topic, received_at, lat, lon), clusters
        empty, and the count. Above: no points, one cluster per non-empty cell of a grid x grid cut of the
        box (count, mean lat/lon), and the count is None (only "more than cap": counting a whole city
        precisely is what the grid is there to avoid)."""
        c = public_reports.c
        where = _shown(*LISTED) + _narrowed(f) + (
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
        dx, dy = box.cell_size(grid)
        cx = func.floor((c.lon - box.west) / literal(dx))
        cy = func.floor((c.lat - box.south) / literal(dy))
        cells = self.session.execute(
            select(func.count().label("count"), func.avg(c.lat).label("lat"), func.avg(c.lon).label("lon"))
            .where(*where).group_by(cx, cy)
        ).all()
        return [], cells, None

    def not_eligible(self, limit: int, offset: int) -> tuple[list[PublicReport], int]:
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

    def clarification(self, clarification_id: str) -> Clarification | None:
        return self.session.get(Clarification, clarification_id)

    def open_clarification(self, report_id: str) -> Clarification | None:
        q = select(Clarification).where(Clarification.report_id == report_id, Clarification.status == ClarificationStatus.OPEN.value)
        return self.session.execute(q.limit(1)).scalars().first()

    def clarifications_of(self, report_id: str) -> list[Clarification]:
        q = select(Clarification).where(Clarification.report_id == report_id).order_by(Clarification.asked_at, Clarification.id)
        return list(self.session.execute(q).scalars())
