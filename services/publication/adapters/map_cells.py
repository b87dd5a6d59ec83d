"""The map's cell counts: how many listed reports with a place each cell of MAP_LEVELS holds, with the sums of their
latitudes and longitudes (a cluster's mean position), kept in step with public_reports in the same transaction.

Why: a city's box holds a quarter of a million reports; counting them row by row for every move of the map is what
made the map slow. A box is answered from the cells fully inside it (a few thousand rows of `map_cells`) and from the
reports in the thin strips along its edges (adapters/repositories.py `on_map`), so the clusters count exactly the
listed reports inside the box.

Which reports count is the one visibility rule: PublicReport.is_listed, here applied to the state a report had at
the last flush and to the state it has now (every change of a report goes through the ORM: events, step 8, Open311's
POST). The changes of a transaction are summed per cell and written just before its commit, in one sorted batch of
upserts (two transactions lock the cells they share in the same order), or dropped with a rollback.
`rebuild(connection)` recounts everything from public_reports (the migration that made the table, and tools that write
reports straight into the table) through `_shown`, the rule's SQL twin.
"""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import event, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import NO_VALUE

from paht.runtime import db
from services.publication.adapters.orm import map_cells, public_reports
from services.publication.domain.portal import MAP_LEVELS, cell_of
from services.publication.domain.public_report import LISTED, PublicReport

PENDING = "publication.map_cells"  # session.info key: {(level, cx, cy): [count, lat_sum, lon_sum]} not written yet
_WATCHED = ("status", "visibility", "received_at", "lat", "lon")


def _counted(status, visibility, received_at, lat, lon) -> tuple[float, float] | None:
    """The place under which a report in this state counts on the map, or None (not listed, or no place)."""
    if lat is None or lon is None:
        return None
    listed = PublicReport(report_id="", status=status, visibility=visibility, received_at=received_at).is_listed
    return (lat, lon) if listed else None


def _before(session: Session, report: PublicReport, state) -> tuple[float, float] | None:
    """Where the report counted as of the last flush (nowhere for a new one)."""
    if state.pending or state.transient:
        return None
    old = {}
    for name in _WATCHED:
        # committed_state holds the value a changed attribute had when loaded (NO_VALUE: changed without being loaded)
        old[name] = state.committed_state[name] if name in state.committed_state else getattr(report, name)
    if any(v is NO_VALUE for v in old.values()):  # not known here: ask the row as it is in this transaction
        c = public_reports.c
        row = session.connection().execute(select(*(c[n] for n in _WATCHED)).where(c.report_id == report.report_id)).one_or_none()
        return _counted(*row) if row is not None else None
    return _counted(**old)


def _note(pending: dict, place: tuple[float, float], sign: int) -> None:
    lat, lon = place
    for level in MAP_LEVELS:
        cx, cy = cell_of(lat, lon, level)
        d = pending[(level, cx, cy)]
        d[0] += sign
        d[1] += sign * lat
        d[2] += sign * lon


@event.listens_for(Session, "before_flush")
def _track(session: Session, flush_context, instances) -> None:
    pending = None
    for obj in (*session.new, *session.dirty, *session.deleted):
        if not isinstance(obj, PublicReport):
            continue
        state = inspect(obj)
        if not state.pending and obj not in session.deleted and not any(n in state.committed_state for n in _WATCHED):
            continue
        was = _before(session, obj, state)
        now = None if obj in session.deleted else _counted(*(getattr(obj, n) for n in _WATCHED))
        if was == now:
            continue
        if pending is None:
            pending = session.info.setdefault(PENDING, defaultdict(lambda: [0, 0.0, 0.0]))
        if was is not None:
            _note(pending, was, -1)
        if now is not None:
            _note(pending, now, +1)


@event.listens_for(Session, "before_commit")
def _write(session: Session) -> None:
    if not session.info.get(PENDING) and not any(isinstance(o, PublicReport) for o in (*session.new, *session.dirty, *session.deleted)):
        return  # nothing of publication's reports in this transaction (another service's session in the same process)
    session.flush()  # the last changes' cells too
    pending = session.info.pop(PENDING, None)
    if pending:
        write(session.connection(), pending)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(PENDING, None)


CELL_COLUMNS = ("level", "cx", "cy", "count", "lat_sum", "lon_sum")


def write(conn: Connection, changes: dict) -> None:
    """Add the changes {(level, cx, cy): [count, lat_sum, lon_sum]} to the cells, in key order (no deadlock between
    two writers: each takes the cells' row locks in the same order)."""
    rows = [{"level": k[0], "cx": k[1], "cy": k[2], "count": d[0], "lat_sum": d[1], "lon_sum": d[2]}
            for k, d in sorted(changes.items()) if d[0] or d[1] or d[2]]
    if not rows:
        return
    conn.execute(db.upsert(map_cells, CELL_COLUMNS, ("level", "cx", "cy"), add=("count", "lat_sum", "lon_sum")), rows)


def rebuild(conn: Connection, batch: int = 50_000) -> int:
    """Recount every cell from public_reports (the listed reports with a place: `_shown`, the visibility rule in SQL);
    return how many reports were counted."""
    from services.publication.adapters.repositories import _shown

    conn.execute(map_cells.delete())
    c = public_reports.c
    cells: dict = defaultdict(lambda: [0, 0.0, 0.0])
    counted = 0
    after = ""
    while True:
        rows = conn.execute(select(c.report_id, c.lat, c.lon).where(*_shown(*LISTED), c.lat.is_not(None), c.lon.is_not(None),
                                                                      c.report_id > after)
                            .order_by(c.report_id).limit(batch)).all()
        if not rows:
            break
        for _, lat, lon in rows:
            _note(cells, (lat, lon), +1)
        counted += len(rows)
        after = rows[-1][0]
    keys = sorted(cells)
    for start in range(0, len(keys), 10_000):  # one statement per slice
        write(conn, {k: cells[k] for k in keys[start:start + 10_000]})
    return counted
