"""Benchmark the walking skeleton: cold start, idle memory per process, submit → published latency.

Run: .venv/bin/python bench/skeleton.py [--reports 30] [--external]
Prints figures; asserts nothing (goals: start < 10 s, RSS < 120 MB per service, p95 < 300 ms).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paht.runtime.walkthrough import walk  # noqa: E402
from tests.e2e.harness import backend_env, cleanup_backend, start_paht, stop_paht  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=30)
    parser.add_argument("--external", action="store_true", help="use DATABASE_URL / NATS_URL instead of the embedded default")
    args = parser.parse_args()
    backend = "external" if args.external else "embedded"
    tag = "b" + uuid.uuid4().hex[:8]
    env = backend_env(backend, tag)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        print(f"backend: {backend}; machine: {os.cpu_count()} cores")
        first = start_paht(data, env)
        print(f"cold start, first run (migrate + seed + start, fresh data): {first.started_in:.2f} s")
        stop_paht(first)
        running = start_paht(data, env)
        print(f"cold start, second run (existing data):                  {running.started_in:.2f} s")
        try:
            time.sleep(3)
            info = running.run_info()
            print("idle RSS:")
            for name, s in info["services"].items():
                print(f"  {name:12s} {rss_mb(s['pid']):6.1f} MB")
            if info.get("nats_pid"):
                print(f"  {'nats-server':12s} {rss_mb(info['nats_pid']):6.1f} MB")
            http = httpx.Client(base_url=running.url, timeout=15)
            people: dict = {}
            walk(running.url, people=people, http=http)  # warm-up: sign-ins, connections, caches
            totals, steps = [], {}
            for _ in range(args.reports):
                w = walk(running.url, people=people, http=http)
                totals.append(w.steps[-1][1] * 1000)
                previous = 0.0
                for name, at in w.steps:
                    steps.setdefault(name, []).append((at - previous) * 1000)
                    previous = at
            print(f"submit → published in the public read model, {args.reports} reports, human steps scripted:")
            print(f"  p50 {statistics.median(totals):6.1f} ms   p95 {pct(totals, 95):6.1f} ms   max {max(totals):6.1f} ms")
            print("  per step (p50 / p95 ms, including the wait for the previous step's event):")
            for name, values in steps.items():
                print(f"    {name:15s} {statistics.median(values):6.1f} / {pct(values, 95):6.1f}")
        finally:
            stop_paht(running)
            cleanup_backend(backend, tag)
    return 0


if __name__ == "__main__":
    sys.exit(main())
