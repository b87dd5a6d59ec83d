"""Show that a citizen's submission no longer waits on dispatch: latency and calls from intake to dispatch.

Run: .venv/bin/python bench/submission_dispatch_calls.py [--seconds 75] [--rate 5] [--root DIR]
It starts `paht up` (embedded) with traces written as JSON lines, submits reports WITH a topic at
--rate per second for --seconds (longer than a minute, so a cache with a one-minute life expires),
then freezes dispatch (SIGSTOP) and submits for --frozen-seconds more. Prints the submission latency (p50, p95, max) in each
phase and how many gRPC calls intake made to dispatch's DirectoryService while citizens submitted.
--root runs another checkout (e.g. a `git worktree` of the commit before issue 6, with its protos
generated) to measure "before". Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paht.runtime.walkthrough import reporter_sign_in  # noqa: E402
from tests.e2e.harness import start_paht, stop_paht  # noqa: E402

REPORT = {
    "reporter": {"name": "Nguyễn Thị Hoa", "phone": "0912 345 678", "email": "hoa@example.vn"},
    "title": "Ổ gà lớn giữa đường Lý Thường Kiệt",
    "description": "Ổ gà sâu khoảng 20 cm, xe máy đi qua rất nguy hiểm vào ban đêm.",
    "address_text": "Đường Lý Thường Kiệt, Đồng Hới",
    "acknowledged": True,
}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def submit_for(url: str, seconds: float, rate: float, topic: str, headers: dict) -> tuple[list[float], dict]:
    latencies, codes = [], {}
    gap = 1.0 / rate
    with httpx.Client(base_url=url, timeout=30, headers=headers) as http:
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            began = time.monotonic()
            r = http.post("/api/intake/v1/reports", json={**REPORT, "topic_code": topic})
            latencies.append(time.monotonic() - began)
            codes[r.status_code] = codes.get(r.status_code, 0) + 1
            time.sleep(max(0.0, gap - (time.monotonic() - began)))
    return latencies, codes


def directory_calls(trace_file: Path, since_ns: int) -> int:
    """Count intake's client spans to dispatch's DirectoryService that started after `since_ns`."""
    if not trace_file.exists():
        return 0
    count = 0
    for line in trace_file.read_text().splitlines():
        try:
            span = json.loads(line)
        except ValueError:
            continue
        name = span.get("name", "")
        started = span.get("start") or 0
        if "DirectoryService" in name and span.get("kind") == "CLIENT" and started >= since_ns:
            count += 1
    return count


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=75.0)
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--root", type=Path, default=None, help="another checkout to run (measure 'before')")
    parser.add_argument("--topic", default="")
    parser.add_argument("--frozen-seconds", type=float, default=75.0, help="how long dispatch stays frozen (longer than a minute)")
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="paht-bench-")) / "data"
    traces = data.parent / "traces-{service}.jsonl"
    env = {"PAHT_OTEL_EXPORTER": f"jsonl:{traces}", "DATABASE_URL": None, "NATS_URL": None}
    if args.root:
        env["PYTHONPATH"] = str(args.root.resolve())
    cwd = os.getcwd()
    if args.root:
        os.chdir(args.root)
    running = start_paht(data, env)
    os.chdir(cwd)
    try:
        topics = httpx.get(f"{running.url}/api/dispatch/v1/topics", timeout=10).json()["items"]
        topic = args.topic or topics[0]["code"]
        with httpx.Client(base_url=running.url, timeout=10) as http:
            citizen = reporter_sign_in(http, REPORT["reporter"]["phone"])  # the demo reporter proves the phone once
        # let intake receive its copy of the taxonomy (events or its first call), then measure
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            r = httpx.post(f"{running.url}/api/intake/v1/reports", json={**REPORT, "topic_code": topic}, headers=citizen, timeout=10)
            if r.status_code == 201:
                break
            time.sleep(0.5)
        since = time.time_ns()
        lat, codes = submit_for(running.url, args.seconds, args.rate, topic, citizen)
        calls = directory_calls(data.parent / "traces-intake.jsonl", since)
        print(f"code under test: {args.root or ROOT}")
        print(f"dispatch running: {len(lat)} submissions with topic '{topic}' in {args.seconds:.0f} s; status codes {codes}")
        print(f"  latency p50 {pct(lat, 50) * 1000:.1f} ms, p95 {pct(lat, 95) * 1000:.1f} ms, max {max(lat) * 1000:.1f} ms")
        print(f"  gRPC calls from intake to dispatch's DirectoryService meanwhile: {calls}")
        pids = json.loads((data / "run.json").read_text())
        dispatch_pid = pids.get("services", {}).get("dispatch", {}).get("pid")
        if dispatch_pid:
            os.kill(dispatch_pid, signal.SIGSTOP)  # dispatch hangs (worse than gone: calls wait for their deadline)
            since = time.time_ns()
            lat2, codes2 = submit_for(running.url, args.frozen_seconds, args.rate, topic, citizen)
            os.kill(dispatch_pid, signal.SIGCONT)
            print(f"dispatch frozen (SIGSTOP): {len(lat2)} submissions; status codes {codes2}")
            print(f"  latency p50 {pct(lat2, 50) * 1000:.1f} ms, p95 {pct(lat2, 95) * 1000:.1f} ms, max {max(lat2) * 1000:.1f} ms")
            print(f"  gRPC calls from intake to dispatch meanwhile: {directory_calls(data.parent / 'traces-intake.jsonl', since)}")
        else:
            print("(could not find dispatch's pid in run.json: skipped the frozen-dispatch phase)")
    finally:
        stop_paht(running)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
