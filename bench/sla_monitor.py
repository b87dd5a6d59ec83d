"""Measure one SLA monitor pass over many open clocks (goal: 1,000,000 open clocks on PostgreSQL, a pass < 1 s).

Run: DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test .venv/bin/python bench/sla_monitor.py [--clocks 1000000] [--due 1000]
Without DATABASE_URL it uses SQLite in a temporary folder. It migrates dispatch into a throw-away schema,
loads --clocks open clocks (most far from their deadline; --due of them past 80 % and --due past 100 %),
then times: a pass that finds nothing to announce, a pass that announces the due ones (each with its
event and notice, in batches of 500), and the overdue lists. Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clocks", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=1_000)
    args = parser.parse_args()

    from sqlalchemy import text

    from paht.runtime.settings import Settings
    from services.dispatch.adapters.orm_clocks import sla_clocks
    from services.dispatch.bootstrap import SPEC
    from services.dispatch.service_layer import monitor
    from tests.support.services import migrated_context

    tag = f"bench{uuid.uuid4().hex[:6]}"
    data = Path(tempfile.mkdtemp(prefix="paht-bench-"))
    settings = Settings(data=data, env="test", db_schema_prefix=f"{tag}_", node_id=tag)
    ctx = migrated_context(SPEC, settings)
    backend = ctx.engine.dialect.name
    now = datetime.now(timezone.utc)
    print(f"backend: {backend}; loading {args.clocks:,} open clocks ({args.due:,} past 80 %, {args.due:,} past 100 %)")
    began = time.perf_counter()
    batch, rows = 20_000, []
    for i in range(args.clocks):
        if i < args.due:  # past 80 %, not yet due
            start, due = now - timedelta(minutes=50), now + timedelta(minutes=10)
        elif i < 2 * args.due:  # past the deadline
            start, due = now - timedelta(hours=2), now - timedelta(hours=1)
        else:  # far from it
            start, due = now - timedelta(minutes=i % 600), now + timedelta(days=5, minutes=i % 997)
        rid = str(uuid.UUID(int=i))
        rows.append({"clock_id": f"{rid}:handling:1", "report_id": rid, "step": "handling", "n": 1, "started_at": start,
                     "due_at": due, "warn_at": start + (due - start) * 0.8, "responsible_org": f"org-{i % 150}",
                     "responsible_subject": "", "state": "open", "stopped_at": None, "met": None, "warned_at": None,
                     "breached_at": None, "announced": 0})
        if len(rows) == batch:
            with ctx.engine.begin() as conn:
                conn.execute(sla_clocks.insert(), rows)
            rows = []
    if rows:
        with ctx.engine.begin() as conn:
            conn.execute(sla_clocks.insert(), rows)
    with ctx.engine.begin() as conn:
        if backend == "postgresql":
            conn.execute(text("ANALYZE sla_clocks"))
    print(f"loaded in {time.perf_counter() - began:.1f} s")

    def timed(what: str, fn):
        t = time.perf_counter()
        result = fn()
        print(f"{what}: {(time.perf_counter() - t) * 1000:.1f} ms  {result if not isinstance(result, dict) else ''}")
        return result

    timed("pass with nothing due (before the clocks come due: now - 2 h)", lambda: monitor.monitor_pass(ctx.uow(), now - timedelta(hours=2)))
    timed(f"pass announcing {args.due:,} warnings and {args.due:,} breaches (+ the breaches' warnings)", lambda: monitor.monitor_pass(ctx.uow(), now))
    timed("next pass (nothing new)", lambda: monitor.monitor_pass(ctx.uow(), now + timedelta(seconds=15)))
    timed("overdue list per organisation", lambda: monitor.overdue(ctx.uow(), "org", None, None, "overdue", 100))
    timed("overdue list per step", lambda: monitor.overdue(ctx.uow(), "step", "handling", None, "warning", 100))
    if os.environ.get("KEEP") != "1" and backend == "postgresql":
        with ctx.engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{tag}_dispatch" CASCADE'))
    ctx.engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
