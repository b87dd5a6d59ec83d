"""The SLA clocks' repositories: clocks, the notices the monitor owes, the business calendar's revisions."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from paht.runtime import db
from services.dispatch.adapters.orm_clocks import calendar_revisions, sla_clocks, sla_notices
from services.dispatch.domain.clocks import Clock, ClockState

OPEN = ClockState.OPEN.value


def _claim(session: Session, query):
    """Lock the rows a monitor pass takes; another replica's pass skips them instead of waiting (PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return query


class SqlClocks:
    def __init__(self, session: Session):
        self.session = session

    def get(self, clock_id: str) -> Clock | None:
        return self.session.get(Clock, clock_id)

    def add(self, clock: Clock) -> None:
        self.session.add(clock)

    def of_report(self, report_id: str) -> list[Clock]:
        return list(self.session.scalars(select(Clock).where(Clock.report_id == report_id).order_by(Clock.started_at, Clock.clock_id)))

    def latest(self, report_id: str, step: str) -> Clock | None:
        """Return the newest clock of one step of a report (open or not)."""
        return self.session.scalars(
            select(Clock).where(Clock.report_id == report_id, Clock.step == step).order_by(Clock.n.desc()).limit(1)
        ).first()

    def open_of(self, report_id: str, step: str) -> Clock | None:
        clock = self.latest(report_id, step)
        return clock if clock is not None and clock.is_open else None

    def to_warn(self, now: datetime, limit: int) -> list[Clock]:
        """Open clocks past 80 % of their time and not warned yet, oldest first, locked for this pass."""
        q = select(Clock).where(Clock.state == OPEN, Clock.warned_at.is_(None), Clock.warn_at <= now).order_by(Clock.warn_at).limit(limit)
        return list(self.session.scalars(_claim(self.session, q)))

    def to_breach(self, now: datetime, limit: int) -> list[Clock]:
        """Open clocks past their deadline and not announced as breached yet, oldest first, locked for this pass."""
        q = select(Clock).where(Clock.state == OPEN, Clock.breached_at.is_(None), Clock.due_at < now).order_by(Clock.due_at).limit(limit)
        return list(self.session.scalars(_claim(self.session, q)))

    def open_clocks(self, *, step: str | None = None, org: str | None = None, overdue_at: datetime | None = None,
                    warning_at: datetime | None = None, limit: int = 200) -> list[Clock]:
        """Open clocks by deadline (nearest first), optionally of one step, one organisation, only overdue or due soon."""
        q = select(Clock).where(Clock.state == OPEN)
        if step:
            q = q.where(Clock.step == step)
        if org:
            q = q.where(Clock.responsible_org == org)
        if overdue_at is not None:
            q = q.where(Clock.due_at < overdue_at)
        if warning_at is not None:
            q = q.where(Clock.warn_at <= warning_at)
        return list(self.session.scalars(q.order_by(Clock.due_at, Clock.clock_id).limit(limit)))

    def overdue_counts(self, now: datetime, by: str, every_open: bool = False) -> list[tuple[str, int, int, int]]:
        """Return (key, overdue, due soon, running) per step or per responsible organisation, over open clocks
        (only those past 80 % unless every_open: the partial index then serves the question)."""
        key = sla_clocks.c.step if by == "step" else sla_clocks.c.responsible_org
        overdue = func.sum(func.cast(sla_clocks.c.due_at < now, type_=sla_clocks.c.n.type))
        soon = func.sum(func.cast((sla_clocks.c.due_at >= now) & (sla_clocks.c.warn_at <= now), type_=sla_clocks.c.n.type))
        q = select(key, overdue, soon, func.count()).where(sla_clocks.c.state == OPEN)
        if not every_open:
            q = q.where(sla_clocks.c.warn_at <= now)
        rows = self.session.execute(q.group_by(key)).all()
        return sorted(((r[0], int(r[1] or 0), int(r[2] or 0), int(r[3] or 0)) for r in rows), key=lambda r: (-r[1], -r[2], -r[3], r[0]))


class SqlNotices:
    def __init__(self, session: Session):
        self.session = session

    def owe(self, notices: list[dict], now: datetime) -> None:
        """Record notices to send (one statement for a whole batch); a key already owed is left as it is."""
        if not notices:
            return
        rows = [{"key": n["key"], "notice": n, "created_at": now, "next_try_at": now, "sent_at": None, "attempts": 0, "last_error": ""}
                for n in notices]
        self.session.execute(db.upsert(sla_notices, tuple(rows[0]), ("key",)), rows)

    def due(self, now: datetime, limit: int = 50) -> list:
        q = select(sla_notices).where(sla_notices.c.sent_at.is_(None), sla_notices.c.next_try_at <= now).order_by(sla_notices.c.next_try_at).limit(limit)
        return list(self.session.execute(_claim(self.session, q)).all())

    def sent(self, key: str, now: datetime) -> None:
        self.session.execute(update(sla_notices).where(sla_notices.c.key == key).values(sent_at=now))

    def failed(self, key: str, attempts: int, error: str, now: datetime) -> None:
        wait = timedelta(seconds=min(3600, 5 * 2 ** min(attempts, 10)))
        self.session.execute(update(sla_notices).where(sla_notices.c.key == key).values(
            attempts=attempts, last_error=error[:2000], next_try_at=now + wait))

    def pending_count(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(sla_notices).where(sla_notices.c.sent_at.is_(None))) or 0)


class SqlCalendar:
    def __init__(self, session: Session):
        self.session = session

    def current(self):
        return self.session.execute(select(calendar_revisions).order_by(calendar_revisions.c.revision.desc()).limit(1)).first()

    def revisions(self, limit: int = 100) -> list:
        c = calendar_revisions.c
        return list(self.session.execute(select(c.revision, c.at, c.by, c.note, c.sha256).order_by(c.revision.desc()).limit(limit)).all())

    def revision(self, number: int):
        return self.session.execute(select(calendar_revisions).where(calendar_revisions.c.revision == number)).first()

    def add(self, revision: int, at: datetime, by: str, note: str, data: dict, sha256: str) -> None:
        """Insert a revision; two administrators saving at once collide on the number and one is told to retry."""
        self.session.execute(calendar_revisions.insert().values(revision=revision, at=at, by=by, note=note, data=data, sha256=sha256))


REPOSITORIES = {
    "clocks": SqlClocks,
    "notices": SqlNotices,
    "calendar": SqlCalendar,
}
