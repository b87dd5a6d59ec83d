"""Years of finished reports, written straight into every service's tables on PostgreSQL (for the benches that must
hold their latencies with a province's history stored: `bench/speed.py --stored 1000000`).

A report received over the last YEARS years, long finished: intake holds it accepted (a few refused or cancelled),
dispatch dispatched to one lead agency, handling approved (published) at one of the directory's units, publication its
public record and timeline (bench/publication_portal.py's generator: places, topics, words). Nothing is waiting on any
of them, so no event refers to them; the lists and queues must find their few open rows among them. Each table's
secondary indexes are dropped, the rows inserted with one INSERT … SELECT over generate_series, the indexes built
again and the table vacuumed and analysed — as a restore would.
"""
from __future__ import annotations

import time

from sqlalchemy import JSON, BigInteger, Boolean, Date, Float, Integer, Table, text
from sqlalchemy.types import DateTime

from paht.runtime.db import UtcDateTime

YEARS = 3


def received(n: int) -> str:
    """g-th report's time: spread evenly over the last YEARS years, the newest a day ago (so the mixed load's own are
    the newest)."""
    return f"(now() - interval '1 day' - (g * {YEARS * 365 * 86400 / n:.6f}) * interval '1 second')"


def _filler(column) -> str | None:
    """A value of the column's type for a NOT NULL column without a default (None: leave it to the database)."""
    if column.nullable or column.server_default is not None:
        return None
    kind = column.type
    if isinstance(kind, Boolean):
        return "false"
    if isinstance(kind, (Integer, BigInteger)):
        return "1"
    if isinstance(kind, Float):
        return "0"
    if isinstance(kind, (DateTime, UtcDateTime)):
        return "now()"
    if isinstance(kind, Date):
        return "current_date"
    if isinstance(kind, JSON):
        return "'[]'"
    return "''"


def insert_history(engine, schema: str, table: Table, n: int, values: dict[str, str]) -> float:
    """INSERT n rows into schema.table: `values` gives SQL expressions of g (1..n) for some columns, every other NOT
    NULL column without a default gets a value of its type. Returns the seconds it took (indexes and VACUUM included)."""
    began = time.perf_counter()
    columns, exprs = [], []
    for column in table.columns:
        expr = values.get(column.name, _filler(column))
        if expr is not None:
            columns.append(f'"{column.name}"')
            exprs.append(expr)
    unknown = set(values) - {c.name for c in table.columns}
    if unknown:
        raise ValueError(f"{table.name} has no column(s) {sorted(unknown)}")
    with engine.begin() as conn:
        indexes = conn.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = :s AND tablename = :t "
                                    "AND indexname NOT IN (SELECT conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
                                    "WHERE n.nspname = :s)"), {"s": schema, "t": table.name}).all()  # not a key's own index
        for name, _ in indexes:
            conn.execute(text(f'DROP INDEX "{schema}"."{name}"'))
        conn.execute(text(f'INSERT INTO "{schema}"."{table.name}" ({", ".join(columns)}) '
                          f"SELECT {', '.join(exprs)} FROM generate_series(1, {n}) AS g"))
        for _, definition in indexes:
            conn.execute(text(definition))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'VACUUM ANALYZE "{schema}"."{table.name}"'))
    return time.perf_counter() - began


def report_id(prefix: str = "g") -> str:
    """A uuid-shaped id made from g (the same report in every service)."""
    return f"md5('paht-history-' || {prefix})::uuid::text"


def store(settings, n: int, say=print) -> dict[str, float]:
    """Write n finished reports into intake, dispatch, handling and publication (PostgreSQL schemas of `settings`);
    return the seconds each took."""
    from sqlalchemy import create_engine

    from bench.publication_portal import seed as seed_portal
    from paht.runtime.db import schema_for, url_for
    from services.dispatch.adapters.orm_step2 import dispatch_items
    from services.handling.adapters.orm import cases, directory_units
    from services.intake.adapters.orm import reports

    took: dict[str, float] = {}
    rid, at = report_id(), received(n)
    for service in ("intake", "dispatch", "handling", "publication"):
        schema = schema_for(settings, service)
        engine = create_engine(url_for(settings, service), connect_args={"application_name": "paht-bench-history"})
        try:
            if service == "intake":
                with engine.begin() as conn:
                    conn.execute(text(f'INSERT INTO "{schema}".reporters (id, name, phone, email, created_at) '
                                      "VALUES ('history', 'Người dân', '0900000000', '', now()) ON CONFLICT DO NOTHING"))
                took[service] = insert_history(engine, schema, reports, n, {
                    "id": rid, "tracking_code": "'H-' || lpad(g::text, 9, '0')", "reporter_id": "'history'", "channel": "'web'",
                    "title": "'Đèn đường hỏng số ' || g", "description": "'Đèn đường không sáng nhiều ngày.'",
                    "topic_code": "'ha-tang-giao-thong'", "group_code": "'giao-thong'", "address_text": "'Đồng Hới'",
                    "area_code": "'44'", "urgent": "false", "received_at": at, "version": "3",
                    "status": "CASE WHEN g % 40 = 0 THEN 'refused' WHEN g % 67 = 0 THEN 'cancelled' ELSE 'accepted' END",
                })
            elif service == "dispatch":
                took[service] = insert_history(engine, schema, dispatch_items, n, {
                    "report_id": rid, "status": "'dispatched'", "received_at": at, "urgent": "false",
                    "topic_code": "'ha-tang-giao-thong'", "group_code": "'giao-thong'", "dispatch_due": at,
                    "lead_agency_id": "'so-gtvt'", "round": "1", "note": "''", "version": "2", "area_code": "'44'",
                    "clock_started_at": at, "title": "'Đèn đường hỏng số ' || g",
                })
            elif service == "handling":
                with engine.connect() as conn:
                    units = [r[0] for r in conn.execute(text(f'SELECT id FROM "{schema}".directory_units WHERE kind = \'unit\' ORDER BY id'))]
                    if not units:
                        units = [r[0] for r in conn.execute(text(f'SELECT id FROM "{schema}".{directory_units.name} ORDER BY id'))]
                array = "ARRAY[" + ", ".join("'" + u.replace("'", "''") + "'" for u in units) + "]"
                unit = f"({array})[1 + g % {len(units)}]"
                took[service] = insert_history(engine, schema, cases, n, {
                    "report_id": rid, "status": "'approved'", "lead_agency_id": "'so-gtvt'", "lead_agency_name": "'Sở GTVT'",
                    "lead_unit_id": unit, "lead_unit_name": unit, "staff_subject": "'canbo'", "round": "1", "epoch": "0",
                    "urgent": "false", "handling_due": at, "answer_text": "'Đã sửa chữa xong.'", "updated_at": at, "version": "6",
                    "title": "'Đèn đường hỏng số ' || g",
                })
                say(f"  handling: {n:,} cases over {len(units)} units (~{n // max(1, len(units)):,} each)")
            else:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:  # the portal's generator picks among the topics publication knows
                    with engine.connect() as conn:
                        if conn.execute(text(f'SELECT count(*) FROM "{schema}".taxonomy_topics')).scalar():
                            break
                    time.sleep(0.5)
                took[service] = seed_portal(engine, schema, n)
            say(f"  {service}: {n:,} finished reports stored in {took[service]:.0f} s")
        finally:
            engine.dispose()
    return took
