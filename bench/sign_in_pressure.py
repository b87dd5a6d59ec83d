"""Measure how dispatch answers its other requests while parallel wrong sign-ins keep password hashing busy.

Run: .venv/bin/python bench/sign_in_pressure.py [--guessers 32] [--seconds 5] [--url http://127.0.0.1:8080]
Without --url it serves dispatch in this process (SQLite or DATABASE_URL, a throw-away schema). Prints
topics latency (p50/p95/max) alone and under pressure, and what the sign-ins got; asserts nothing.
Issue 5 saw 7–25 ms alone and 4–6 s under 32 parallel wrong sign-ins before the hashing pool.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def sample_topics(url: str, seconds: float) -> list[float]:
    latencies = []
    with httpx.Client(base_url=url, timeout=30) as http:
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            began = time.monotonic()
            http.get("/api/dispatch/v1/topics").raise_for_status()
            latencies.append(time.monotonic() - began)
            time.sleep(0.05)
    return latencies


def pressure(url: str, guessers: int, seconds: float, respect_retry_after: bool) -> tuple[list[float], Counter]:
    stop, outcomes = threading.Event(), Counter()

    def guesser(n: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            i = 0
            while not stop.is_set():
                i += 1
                headers = {"X-Forwarded-For": f"10.{n}.{i // 250}.{i % 250}"}
                r = http.post("/auth/token", data={"username": f"nobody-{n}-{i}", "password": "wrong"}, headers=headers)
                outcomes[r.status_code] += 1
                if r.status_code == 503 and respect_retry_after:
                    time.sleep(0.2)

    with ThreadPoolExecutor(guessers) as pool:
        for n in range(guessers):
            pool.submit(guesser, n)
        time.sleep(0.5)
        latencies = sample_topics(url, seconds)
        stop.set()
    return latencies, outcomes


def report(label: str, latencies: list[float]) -> None:
    ms = [v * 1000 for v in latencies]
    print(f"  {label:42s} n={len(ms):4d}  p50 {pct(ms, 50):7.1f} ms  p95 {pct(ms, 95):7.1f} ms  max {max(ms):7.1f} ms")


@contextlib.contextmanager
def local_dispatch():
    """Serve dispatch in this process on a fresh database; yield its URL."""
    from paht.runtime.settings import SERVICES
    from services.dispatch.bootstrap import SPEC, build_http, seed
    from tests.support.live_server import live_server
    from tests.support.services import migrated_context, test_settings

    tag = "b" + uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory() as tmp:
        settings = test_settings(Path(tmp), db_schema_prefix=f"{tag}_", node_id=tag, demo_password="paht-demo")
        ctx = migrated_context(SPEC, settings)
        seed(ctx)
        try:
            with live_server(build_http(ctx)) as url:
                yield url
        finally:
            ctx.engine.dispose()
            if settings.database_url:
                from sqlalchemy import text

                with ctx.engine.begin() as conn:
                    for service in SERVICES:
                        conn.execute(text(f'DROP SCHEMA IF EXISTS "{tag}_{service}" CASCADE'))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", help="a running PAHT (edge) to measure instead of an in-process dispatch")
    parser.add_argument("--guessers", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; guessers: {args.guessers}")
    with (contextlib.nullcontext(args.url) if args.url else local_dispatch()) as url:
        report("topics, alone", sample_topics(url, args.seconds))
        for polite in (True, False):
            latencies, outcomes = pressure(url, args.guessers, args.seconds, polite)
            report(f"topics, {args.guessers} guessers {'(wait 0.2 s on 503)' if polite else '(never wait)'}", latencies)
            print(f"  {'':42s} sign-ins answered: {dict(sorted(outcomes.items()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
