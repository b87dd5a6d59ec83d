"""Benchmark the SLA engine: deadline computations per second, per step, and add_working over long spans.

Run: .venv/bin/python bench/sla_deadlines.py [--n 100000] [--seed 1]
Prints figures; asserts nothing (goal: >= 50,000 deadline computations per second per step on 2 cores,
one core used). Starts are random instants over 2025-2027, in Vietnam time; "cold" is the first pass of
a new engine (its day tables filling; the national holidays are computed once per process), "warm" the
steady state a running service sees.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paht.runtime.sla import VN, CalendarData, DayRule, Schedule, SlaEngine, Step  # noqa: E402

ADMIN_DATA = CalendarData(
    days=(DayRule(datetime(2026, 3, 10).date(), "off", "Lễ hội", "dong-hoi"),),
    schedules={"ioc-summer": (Schedule(intervals=(("07:00", "11:30"), ("14:00", "17:30")),
                                       valid_from=datetime(2026, 4, 15).date(), valid_to=datetime(2026, 10, 15).date()),)},
    agency_limits={"so-xd": 3},
)


def rate(fn, items) -> float:
    t0 = time.perf_counter()
    for item in items:
        fn(item)
    return len(items) / (time.perf_counter() - t0)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000, help="deadlines per measurement")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    base = datetime(2025, 1, 1, tzinfo=VN)
    span_us = int((datetime(2028, 1, 1, tzinfo=VN) - base) / timedelta(microseconds=1))
    starts = [base + timedelta(microseconds=rng.randrange(span_us)) for _ in range(args.n)]
    print(f"machine: {os.cpu_count()} cores; {args.n} random starts over 2025-2027; Python {sys.version.split()[0]}")

    print("\ndeadlines per second, default calendar (national holidays, default hours):")
    print(f"  {'step':20s} {'cold':>12s} {'warm':>12s}")
    for step in Step:
        flags_list = [{}] if step is not Step.DISPATCH else [{}, {"escalated": True}, {"urgent": True}]
        for flags in flags_list:
            engine = SlaEngine()
            cold = rate(lambda s: engine.due(step, s, **flags), starts)
            warm = rate(lambda s: engine.due(step, s, **flags), starts)
            name = step.value + ("".join(f" +{k}" for k in flags))
            print(f"  {name:20s} {cold:12,.0f} {warm:12,.0f}")

    print("\ndeadlines per second with admin data and an organisation chain (warm):")
    engine = SlaEngine(ADMIN_DATA)
    for step, org in [(Step.HANDLING, ("phuong", "dong-hoi")), (Step.HANDLING, ("phong", "so-xd")), (Step.AGENCY, "ioc-summer")]:
        rate(lambda s: engine.due(step, s, org=org), starts)
        print(f"  {step.value:10s} org={org!s:24s} {rate(lambda s: engine.due(step, s, org=org), starts):12,.0f}")

    print("\nclock() (due and the 80 % warning) per second, warm:")
    engine = SlaEngine()
    for step in (Step.DISPATCH, Step.HANDLING):
        rate(lambda s: engine.clock(step, s), starts)
        print(f"  {step.value:20s} {rate(lambda s: engine.clock(step, s), starts):12,.0f}")

    print("\nadd_working over long spans per second, warm (and working_time_between back):")
    engine = SlaEngine()
    few = starts[: max(1000, args.n // 20)]
    for days in (1, 5, 20, 60, 250, 1000):
        duration = timedelta(hours=8 * days)
        rate(lambda s: engine.add_working(s, duration), few)  # fills the day tables
        add = rate(lambda s: engine.add_working(s, duration), few)
        ends = [engine.add_working(s, duration) for s in few]
        pairs = list(zip(few, ends))
        back = rate(lambda p: engine.working_time_between(p[0], p[1]), pairs)
        print(f"  {days:5d} working days   add_working {add:12,.0f}/s   working_time_between {back:12,.0f}/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
