"""The statistics' tables: kept in step with the public record in the same transaction, and read for a period.

Writing. `track(session)` makes every flush of a publication session (the read model's consumers, step 8, the
reporter's rating) look at the reports and ratings it writes: each report's facts (domain/stats.py `facts_of`)
are compared with its row in report_stats, and when they changed the row is replaced and the difference noted; at
the commit the transaction's differences are added to the per-day rollup (stats_days, stats_durations) — one
statement per table, rows in key order. What the rollup holds is therefore always the sum of report_stats,
whatever order events arrive in; a rolled-back transaction takes its changes with it. `rebuild` recomputes both rollups from report_stats (a repair; the tests
hold the kept rollup to it).

Reading. `StatsReader` answers on a read-only connection (SQLite: a reader that never holds the writers' lock;
PostgreSQL: one REPEATABLE READ snapshot for all the queries of a request): a period without filters from the
rollup (a few hundred rows per day of the period), a filtered one from the matching rows of report_stats.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone
from itertools import chain

from sqlalchemy import Connection, Engine, and_, case, event, func, literal, literal_column, or_, select, true, union_all
from sqlalchemy.orm import Session

from paht.runtime import db
from paht.runtime.db import READ_ONLY
from services.publication.adapters.orm import public_reports, report_stats, stats_days, stats_durations, taxonomy_topics
from services.publication.domain.feedback import ReportRating, Score
from services.publication.domain.public_report import Clock, Deadline, PublicReport, Step
from services.publication.domain.stats import (
    ALL,
    DIMS,
    MEASURES,
    STEPS,
    TIMED,
    Delta,
    Dim,
    LateReport,
    ReportFacts,
    Statistics,
    StatsQuery,
    Tally,
    facts_of,
    bucket_of,
    p90_from_histogram,
)

FACT_COLUMNS = [c.name for c in report_stats.columns]
OPEN = tuple(s.value for s in Step if s not in (Step.PUBLISHED, Step.REFUSED, Step.CANCELLED))
LOOK_BACK = timedelta(days=400)  # the overdue list at a past moment looks at the reports received in the 400 days before


# --- writing -------------------------------------------------------------------------------------------------------

PENDING = "publication.stats_delta"  # session.info: the rollup's difference, written at the commit


def track(session: Session) -> None:
    """Keep report_stats and the rollups in step with what this session writes (once per session): each flush writes
    the changed facts and notes their difference; the commit adds the transaction's difference to the rollup rows,
    all of them in key order and only then (the rows every writer shares are locked for the least time, and in one
    order: no deadlock between two writers)."""
    if not event.contains(session, "before_flush", _before_flush):
        event.listen(session, "before_flush", _before_flush)
        event.listen(session, "before_commit", _before_commit)
        event.listen(session, "after_rollback", _forget)


def _forget(session: Session) -> None:
    session.info.pop(PENDING, None)


def _before_commit(session: Session) -> None:
    session.flush()  # the last changes' facts first (their difference joins the pending one)
    delta = session.info.pop(PENDING, None)
    if delta is not None:
        add_to_rollup(session.connection(), delta)


def row_of(facts: ReportFacts) -> dict:
    row = {"report_id": facts.report_id, "day": facts.day, "topic_code": facts.topic_code[:60], "area_code": facts.area_code[:20],
           "channel": facts.channel[:20], "agency_id": facts.agency_id[:80], "agency_name": facts.agency_name[:300],
           "status": facts.status, "score": facts.score}
    row.update({f"{s.value}_s": v for s, v in zip(STEPS, facts.seconds)})
    row.update({f"{s.value}_met": v for s, v in zip(TIMED, facts.on_time)})
    row.update({f"{s.value}_b": None if v is None else bucket_of(v) for s, v in zip(STEPS, facts.seconds)})
    return row


def facts_from_row(row) -> ReportFacts:
    m = row._mapping
    return ReportFacts(report_id=m["report_id"], day=m["day"], topic_code=m["topic_code"], area_code=m["area_code"], channel=m["channel"],
                       agency_id=m["agency_id"], agency_name=m["agency_name"], status=m["status"],
                       seconds=tuple(m[f"{s.value}_s"] for s in STEPS),
                       on_time=tuple(None if m[f"{s.value}_met"] is None else bool(m[f"{s.value}_met"]) for s in TIMED),
                       score=m["score"])


def _before_flush(session: Session, _context, _instances) -> None:
    written = list(chain(session.new, session.dirty))
    reports = {o.report_id: o for o in written if isinstance(o, PublicReport)}
    ratings = {o.report_id: o for o in written if isinstance(o, ReportRating)}
    ids = sorted(set(reports) | set(ratings))
    if not ids:
        return
    conn = session.connection()
    stored = {row.report_id: facts_from_row(row) for row in conn.execute(select(report_stats).where(report_stats.c.report_id.in_(ids)))}
    delta = session.info.setdefault(PENDING, Delta())
    replace, remove = [], []
    for report_id in ids:
        report = reports.get(report_id)
        if report is None:  # a rating: its use case holds the report's row (in this session already)
            with session.no_autoflush:
                report = session.get(PublicReport, report_id)
            if report is None:
                continue
        old = stored.get(report_id)
        score = ratings[report_id].score if report_id in ratings else (old.score if old else "")
        new = facts_of(report, score)
        if new == old:
            continue
        delta.change(old, new)
        if new is None:
            remove.append(report_id)
        else:
            replace.append(row_of(new))
    if remove:
        conn.execute(report_stats.delete().where(report_stats.c.report_id.in_(remove)))
    if replace:
        conn.execute(db.upsert(report_stats, tuple(FACT_COLUMNS), ("report_id",), replace=tuple(c for c in FACT_COLUMNS if c != "report_id")),
                     replace)


def add_to_rollup(conn: Connection, delta: Delta) -> None:
    """Add a batch's differences to the rollup rows (created at 0 when new), in key order."""
    days, durations = delta.rows()
    if days:
        conn.execute(db.upsert(stats_days, ("dim", "day", "code", *MEASURES), ("dim", "day", "code"), add=tuple(MEASURES)),
                     [{"dim": dim, "day": day, "code": code[:80], **dict(zip(MEASURES, vector))} for (day, dim, code), vector in days])
    if durations:
        conn.execute(db.upsert(stats_durations, ("step", "day", "bucket", "reports"), ("step", "day", "bucket"), add=("reports",)),
                     [{"step": step, "day": day, "bucket": bucket, "reports": n} for (day, step, bucket), n in durations])


def rebuild(conn: Connection, batch: int = 5_000) -> int:
    """Recompute both rollups from report_stats (all of it, in one transaction of the caller); return the reports read."""
    conn.execute(stats_days.delete())
    conn.execute(stats_durations.delete())
    delta, read, after = Delta(), 0, ""
    while True:
        rows = conn.execute(select(report_stats).where(report_stats.c.report_id > after).order_by(report_stats.c.report_id).limit(batch)).all()
        if not rows:
            break
        for row in rows:
            delta.add(facts_from_row(row), +1)
        read, after = read + len(rows), rows[-1].report_id
    add_to_rollup(conn, delta)
    return read


# --- reading -------------------------------------------------------------------------------------------------------

def _sum(column):
    return func.coalesce(func.sum(column), 0)


def _measures_of_facts():
    """The MEASURES of a group of report_stats rows, as SQL (the same sums the rollup holds)."""
    c = report_stats.c
    out = [func.count().label("reports")]
    for s in STEPS:
        out += [func.count(c[f"{s.value}_s"]).label(f"{s.value}_done"), _sum(c[f"{s.value}_s"]).label(f"{s.value}_seconds")]
    for s in TIMED:
        met = c[f"{s.value}_met"]
        out += [func.count(met).label(f"{s.value}_timed"), _sum(case((met.is_(True), 1), else_=0)).label(f"{s.value}_on_time")]
    out += [_sum(case((c.score == score.value, 1), else_=0)).label(score.value) for score in Score]
    assert [col.name for col in out] == list(MEASURES)
    return out


class StatsReader:
    """The statistics' queries, on one read-only connection (use as a context manager)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.conn: Connection | None = None

    def __enter__(self) -> "StatsReader":
        options = {READ_ONLY: True}
        if self.engine.dialect.name == "postgresql":
            options["isolation_level"] = "REPEATABLE READ"
        self.conn = self.engine.connect().execution_options(**options)
        if self.engine.dialect.name == "postgresql":
            self.conn.exec_driver_sql("SET LOCAL work_mem = '32MB'")  # a filtered period's sorts stay in memory
        return self

    def __exit__(self, *exc) -> None:
        assert self.conn is not None
        self.conn.rollback()
        self.conn.close()
        self.conn = None

    # whether a code is known: the rollup has counted it under its dimension (the names copies are checked by the caller)
    def counted(self, dim: Dim, code: str) -> bool:
        q = select(literal(1)).select_from(stats_days).where(stats_days.c.dim == dim.value, stats_days.c.code == code).limit(1)
        return self.conn.execute(q).first() is not None

    def statistics(self, query: StatsQuery, topics_of_group: list[str] | None = None) -> Statistics:
        """The figures of a request: from the rollup without filters, from the matching facts with them."""
        if query.filtered:
            return self._from_facts(query, topics_of_group)
        return self._from_rollup(query)

    def _from_rollup(self, query: StatsQuery) -> Statistics:
        d = stats_days.c
        period = (d.day >= query.day_from, d.day <= query.day_to)
        total, per_day = Tally(), {}
        for row in self.conn.execute(select(d.day, *(d[m] for m in MEASURES)).where(d.dim == ALL, *period)):
            total.add(row[1:])
            per_day[row.day] = row.reports
        by: dict[Dim, dict[str, Tally]] = {dim: {} for dim in DIMS}
        volumes = [Dim.TOPIC.value, Dim.AREA.value, Dim.CHANNEL.value, Dim.STATUS.value]
        q = select(d.dim, d.code, func.sum(d.reports)).where(d.dim.in_(volumes), *period).group_by(d.dim, d.code)
        for dim, code, reports in self.conn.execute(q):
            if reports:
                tally = Tally()
                tally.values[0] = int(reports)
                by[Dim(dim)][code] = tally
        q = select(d.code, *(func.sum(d[m]) for m in MEASURES)).where(d.dim == Dim.AGENCY.value, *period).group_by(d.code)
        for row in self.conn.execute(q):
            if row[1]:
                by[Dim.AGENCY][row.code] = Tally().add(row[1:])
        h = stats_durations.c
        histograms: dict[str, dict[int, int]] = defaultdict(dict)
        q = (select(h.step, h.bucket, func.sum(h.reports)).where(h.day >= query.day_from, h.day <= query.day_to)
             .group_by(h.step, h.bucket))
        for step, bucket, n in self.conn.execute(q):
            histograms[step][bucket] = int(n)
        p90 = {s: p90_from_histogram(histograms.get(s.value, {})) for s in STEPS}
        return Statistics(query, total, per_day, by, p90)

    def _where(self, query: StatsQuery, topics_of_group: list[str] | None) -> tuple:
        c = report_stats.c
        where = [c.day >= query.day_from, c.day <= query.day_to]
        if query.topic:
            where.append(c.topic_code == query.topic)
        if query.group:
            where.append(c.topic_code.in_(topics_of_group if topics_of_group is not None else
                                          select(taxonomy_topics.c.code).where(taxonomy_topics.c.group_code == query.group)))
        if query.area:
            where.append(c.area_code == query.area)
        if query.agency:
            where.append(c.agency_id == query.agency)
        if query.channel:
            where.append(c.channel == query.channel)
        return tuple(where)

    def _from_facts(self, query: StatsQuery, topics_of_group: list[str] | None) -> Statistics:
        """The same figures from the matching reports' facts: every measure per lead agency (their sum is the total),
        the volumes per code, the reports per day, and each step's histogram of the buckets the facts keep."""
        c = report_stats.c
        where = self._where(query, topics_of_group)
        total, by = Tally(), {dim: {} for dim in DIMS}
        for row in self.conn.execute(select(c.agency_id, *_measures_of_facts()).where(*where).group_by(c.agency_id)):
            tally = Tally().add(row[1:])
            total.add(tally.values)
            by[Dim.AGENCY][row.agency_id] = tally
        volumes = {Dim.TOPIC: c.topic_code, Dim.AREA: c.area_code, Dim.CHANNEL: c.channel, Dim.STATUS: c.status}
        for row in self.conn.execute(select(*volumes.values(), func.count()).where(*where).group_by(*volumes.values())):
            for i, dim in enumerate(volumes):
                tally = by[dim].setdefault(row[i], Tally())
                tally.values[0] += row[-1]
        per_day = {day: n for day, n in self.conn.execute(select(c.day, func.count()).where(*where).group_by(c.day))}
        histograms: dict[str, dict[int, int]] = defaultdict(dict)
        for step, bucket, n in self.conn.execute(self._histograms(where)):
            histograms[step][bucket] = int(n)
        return Statistics(query, total, per_day, by, {s: p90_from_histogram(histograms.get(s.value, {})) for s in STEPS})

    def _histograms(self, where: tuple):
        """(step, bucket, how many) of the matching facts: on PostgreSQL in one pass (a LATERAL row per step), elsewhere
        a branch per step."""
        c = report_stats.c
        rows = [select(literal_column(f"'{s.value}'").label("step"), c[f"{s.value}_b"].label("bucket")).correlate(report_stats) for s in STEPS]
        if self.conn.dialect.name == "postgresql":
            h = union_all(*rows).lateral("h")
            return (select(h.c.step, h.c.bucket, func.count()).select_from(report_stats.join(h, true()))
                    .where(*where, h.c.bucket.is_not(None)).group_by(h.c.step, h.c.bucket))
        return union_all(*(select(literal_column(f"'{s.value}'"), c[f"{s.value}_b"], func.count())
                           .where(*where, c[f"{s.value}_b"].is_not(None)).group_by(c[f"{s.value}_b"]) for s in STEPS))

    def agency_names(self, ids: list[str]) -> dict[str, str]:
        """The names lead agencies had when dispatched, for agencies the directory copy does not name."""
        c = report_stats.c
        names = {}
        for agency_id in ids[:500]:
            name = self.conn.execute(select(c.agency_name).where(c.agency_id == agency_id, c.agency_name != "").limit(1)).scalar()
            if name:
                names[agency_id] = name
        return names

    def overdue(self, query: StatsQuery, at: datetime, topics_of_group: list[str] | None, live: bool,
                limit: int) -> tuple[list[tuple[LateReport, Deadline]], int]:
        """The reports late at `at` — each with the step it was stuck at — most late first (at most `limit`), and how
        many there were, under the request's filters (not its period: a late report is late whenever it came in).
        `live`: `at` is now, and only reports still open are looked at; otherwise those received in the LOOK_BACK
        before `at`. The rule is PublicReport.overdue_at, restated in SQL by `late_at` (a test holds them together)."""
        r = public_reports.c
        clock, due, where = late_at(at)
        where = [where, r.received_at.is_not(None), r.received_at <= at]
        if live:
            where.append(r.status.in_(OPEN))
        else:
            where.append(r.received_at >= at - LOOK_BACK)
        if query.topic:
            where.append(r.topic_code == query.topic)
        if query.group:
            where.append(r.topic_code.in_(topics_of_group if topics_of_group is not None else
                                          select(taxonomy_topics.c.code).where(taxonomy_topics.c.group_code == query.group)))
        if query.area:
            where.append(r.area_code == query.area)
        if query.agency:
            where.append(r.lead_agency_id == query.agency)
        if query.channel:
            where.append(r.channel == query.channel)
        shown = ("report_id", "tracking_code", "title", "visibility", "status", "received_at", "lead_agency_id", "lead_agency_name")
        q = (select(*(r[n] for n in shown), clock.label("late_clock"), due.label("late_due"), func.count().over().label("late_total"))
             .where(*where).order_by(due, r.report_id).limit(limit))
        found, total = [], 0
        for row in self.conn.execute(q):
            report = LateReport(**{n: getattr(row, n) for n in shown})
            late_clock = Clock(row.late_clock)
            found.append((report, Deadline(late_clock, _aware(row.late_due), report.received_at)))
            total = row.late_total
        if not found and limit == 0:
            total = self.conn.execute(select(func.count()).select_from(public_reports).where(*where)).scalar_one()
        return found, total


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def late_at(at: datetime):
    """PublicReport.overdue_at in SQL: (the late step's clock, its deadline, the condition) for the rows of public_reports.
    A step is late at `at` when its clock had started, its deadline had passed and it was not done by then; the first
    such step in the procedure's order is the one the report is stuck at; a report published by then, refused or
    cancelled is never late, and an answer the IOC returned has no step 8 clock."""
    r = public_reports.c

    def late(since, due, done):
        return and_(since <= at, due < at, or_(done.is_(None), done > at))

    clocks = [
        (Clock.AGENCY, r.agency_due, late(r.dispatched_at, r.agency_due, r.unit_assigned_at)),
        (Clock.HANDLING, r.handling_due, late(r.dispatched_at, r.handling_due, r.handled_at)),
        (Clock.APPROVAL, r.approval_due, late(r.drafted_at, r.approval_due, r.leader_approved_at)),
        (Clock.PUBLISH, r.publish_due, and_(late(r.approved_at, r.publish_due, r.published_at), r.status != Step.RETURNED_BY_IOC.value)),
    ]
    open_then = and_(r.status.not_in((Step.REFUSED.value, Step.CANCELLED.value)), or_(r.published_at.is_(None), r.published_at > at))
    clock = case(*((condition, literal(c.value)) for c, _due, condition in clocks))
    due = case(*((condition, column) for _c, column, condition in clocks))
    return clock, due, and_(open_then, or_(*(condition for _c, _due, condition in clocks)))
