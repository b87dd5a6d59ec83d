"""Benchmark submitting reports through the edge of a PAHT it starts itself.

Run: .venv/bin/python bench/intake_submit.py [--external] [--seconds 10] [--rounds 3] [--connections 16,32] [--rate 50]
     [--paced-seconds 20] [--photo-rate 10]
(--external: PostgreSQL + NATS from DATABASE_URL / NATS_URL; default: the embedded SQLite run).
Needs `wrk` (Debian: apt-get install wrk) for the throughput figure. Prints figures; asserts nothing.
Goals (this 2-core machine): text-only ≥ 500 submissions/s; p95 < 50 ms at 50 submissions/s; the same with
one 1 MB photo (upload, then submit).

A reporter proves a phone once by SMS code (the development outbox) and submits with the app session,
as the citizens' app does. Throughput: wrk -t2 with 16, then 32 open connections (closed loop: each sends
its next report when the last is answered), each request a new report; several rounds each, with the
machine's pace before each (a shared VM's speed drifts by up to 2x within a minute). Paced: an open-loop
client sends at a fixed rate whatever the answers' speed, so latencies include queueing.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paht.runtime.walkthrough import reporter_sign_in  # noqa: E402
from tests.e2e.harness import backend_env, cleanup_backend, start_paht, stop_paht  # noqa: E402

PHONE = "0912345678"
REPORT = {
    "reporter": {"name": "Nguyễn Thị Hoa", "email": "hoa@example.vn"},
    "title": "Ổ gà lớn giữa đường Lý Thường Kiệt",
    "description": "Ổ gà sâu khoảng 20 cm giữa làn xe máy, rất nguy hiểm vào ban đêm, cần vá sớm.",
    "location": {"lat": 17.4683, "lon": 106.6222},
    "address_text": "Đường Lý Thường Kiệt, Đồng Hới",
    "acknowledged": True,
}
WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "%s"
wrk.body = [[%s]]
"""


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pss_mb(pid: int) -> float:
    """Proportional memory: the process's own pages plus its share of pages it shares (the same libraries mapped by
    every PAHT process are counted once across them, not once per process as in RSS)."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def photo_of_1mb() -> bytes:
    """A JPEG of about 1 MB: a photo-sized image of noise (noise does not compress)."""
    from PIL import Image

    rng = random.Random(7)
    side = 1000
    image = Image.frombytes("RGB", (side, side), bytes(rng.getrandbits(8) for _ in range(side * side * 3)))
    for quality in (85, 75, 65, 55):
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality)
        if out.tell() <= 1_100_000:
            return out.getvalue()
    return out.getvalue()


def wrk(url: str, seconds: float, connections: int = 8, script: str | None = None, headers: dict | None = None) -> dict:
    """Run `wrk -t2 -c<connections> -d<seconds>s --latency` (a Lua `script` for a request of its own, extra `headers`);
    return requests/s (`per_s`), how many requests (`requests`), the 50/90/99 % latencies and the highest (`max`), in
    ms, and the count of answers other than 2xx/3xx (`non_2xx`). The one wrk runner of the benches."""
    binary = shutil.which("wrk")
    if not binary:
        return {"error": "wrk not installed (apt-get install wrk)"}
    args = [binary, "-t2", f"-c{connections}", f"-d{max(1, int(seconds))}s", "--latency"]
    for k, v in (headers or {}).items():
        args += ["-H", f"{k}: {v}"]
    path = None
    if script is not None:
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
            f.write(script)
            path = f.name
        args += ["-s", path]
    try:
        out = subprocess.run([*args, url], capture_output=True, text=True, check=False, timeout=seconds + 60).stdout
    finally:
        if path:
            os.unlink(path)
    figures: dict = {"non_2xx": 0, "requests": 0, "raw": out}
    for line in out.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec"):
            figures["per_s"] = float(parts[1])
        elif parts[:1] in (["50%"], ["90%"], ["99%"]):
            figures[parts[0]] = to_ms(parts[1])
        elif "Non-2xx" in line:
            figures["non_2xx"] = int(parts[-1])
        elif " requests in " in line:
            figures["requests"] = int(parts[0])
        elif line.strip().startswith("Latency") and len(parts) >= 4:
            figures["max"] = to_ms(parts[3])
    return figures


def to_ms(text: str) -> float:
    """One of wrk's durations ("812.00us", "3.21ms", "1.02s", "1.5m") in milliseconds."""
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0), ("m", 60000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float("nan")


def throughput(url: str, auth: str, seconds: float, connections: int) -> dict:
    """Submissions through the edge with wrk, each request a new report of the reporter whose session `auth` is."""
    return wrk(f"{url}/api/intake/v1/reports", seconds, connections, WRK_SCRIPT % (auth, json.dumps(REPORT, ensure_ascii=False)))


def machine_pace() -> float:
    """Milliseconds this machine takes for a fixed piece of pure-Python work (median of three) just now.

    A shared virtual machine's speed drifts: the same work took 26 ms and 49 ms a few seconds apart on the 2-core
    machine these figures come from. Printed beside each round so that rounds can be compared fairly."""
    def once() -> float:
        began = time.process_time()
        table: dict[int, str] = {}
        for i in range(200_000):
            table[i % 1000] = str(i) + "x"
        text = json.dumps(sorted(table.items())).encode()
        for _ in range(200):
            hashlib.sha256(text).digest()
        return (time.process_time() - began) * 1000

    return sorted(once() for _ in range(3))[1]


def drain(url: str, headers: dict, timeout: float = 120.0) -> float:
    """Submit one more report and wait until the public read model has it (its consumer has caught up); return the wait."""
    began = time.perf_counter()
    with httpx.Client(base_url=url, timeout=30, headers=headers) as http:
        code = http.post("/api/intake/v1/reports", json=REPORT).json()["tracking_code"]
        while time.perf_counter() - began < timeout and http.get(f"/api/publication/v1/track/{code}").status_code != 200:
            time.sleep(0.2)
    return time.perf_counter() - began


def paced(url: str, headers: dict, rate: float, seconds: float, photo: bytes | None) -> dict:
    """Send `rate` submissions per second for `seconds` (open loop); return latencies and status counts.

    Each send is due at its own instant whatever the answers' speed; a pool of clients with kept-alive
    connections sends them, and a latency counts from the instant the send was due (a send that had to
    wait for a free client counts its wait: no coordinated omission)."""
    import queue

    latencies: list[float] = []
    codes: dict[int, int] = {}
    lock = threading.Lock()
    due: queue.Queue = queue.Queue()

    def worker() -> None:
        with httpx.Client(base_url=url, timeout=30, headers=headers) as http:
            while (when := due.get()) is not None:
                body = dict(REPORT)
                status = 0
                try:
                    if photo is not None:
                        up = http.post("/api/intake/v1/uploads", content=photo, headers={"Content-Type": "image/jpeg", "X-Filename": "o-ga.jpg"})
                        if up.status_code != 201:
                            status = up.status_code
                        else:
                            body["media"] = [up.json()["id"]]
                    if not status:
                        status = http.post("/api/intake/v1/reports", json=body).status_code
                except httpx.HTTPError:
                    status = -1
                with lock:
                    latencies.append((time.perf_counter() - when) * 1000)
                    codes[status] = codes.get(status, 0) + 1

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(max(4, int(rate)))]
    for w in workers:
        w.start()
    start = time.perf_counter()
    n = int(rate * seconds)
    for i in range(n):
        when = start + i / rate
        wait = when - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        due.put(when)
    for _ in workers:
        due.put(None)
    for w in workers:
        w.join(timeout=120)
    return {"n": n, "codes": codes, "p50": pct(latencies, 50), "p95": pct(latencies, 95), "p99": pct(latencies, 99), "max": max(latencies)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--external", action="store_true", help="use DATABASE_URL / NATS_URL instead of the embedded default")
    parser.add_argument("--seconds", type=float, default=10.0, help="wrk's run")
    parser.add_argument("--rate", type=float, default=50.0, help="paced submissions per second")
    parser.add_argument("--paced-seconds", type=float, default=20.0)
    parser.add_argument("--photo-rate", type=float, default=None, help="paced rate with a 1 MB photo (default: --rate)")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds (the machine's speed drifts: each round prints its pace)")
    parser.add_argument("--connections", type=lambda v: [int(c) for c in v.split(",")], default=[16, 32],
                        help="wrk's open connections, one series of rounds each (comma-separated)")
    args = parser.parse_args()
    backend = "external" if args.external else "embedded"
    tag = "b" + uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory() as tmp:
        running = start_paht(Path(tmp) / "data", backend_env(backend, tag))
        try:
            with httpx.Client(base_url=running.url, timeout=15) as http:
                headers = reporter_sign_in(http, PHONE)
                warm = http.post("/api/intake/v1/reports", json=REPORT, headers=headers)
                assert warm.status_code == 201, warm.text
            intake_pid = running.run_info()["services"]["intake"]["pid"]
            print(f"backend: {backend}; machine: {os.cpu_count()} cores; intake idle RSS {rss_mb(intake_pid):.0f} MB")
            summary = []
            for connections in args.connections:
                rounds = []
                for n in range(1, args.rounds + 1):
                    pace = machine_pace()
                    t = throughput(running.url, headers["Authorization"], args.seconds, connections)
                    rounds.append(t.get("per_s", float("nan")))
                    print(f"wrk -t2 -c{connections} {args.seconds:.0f} s, round {n} (machine pace {pace:.0f} ms): "
                          f"{rounds[-1]:.0f} submissions/s; latency p50 {t.get('50%', float('nan')):.1f} p90 {t.get('90%', float('nan')):.1f} "
                          f"p99 {t.get('99%', float('nan')):.1f} ms; "
                          f"non-2xx {t.get('non_2xx', 0)}")
                    drained = drain(running.url, headers)  # the next load starts once the burst's events are consumed
                    print(f"  events of the burst consumed by publication {drained:.1f} s after it ended")
                summary.append((connections, sorted(rounds)[len(rounds) // 2], max(rounds), min(rounds)))
            print("text-only throughput (submissions/s):")
            for connections, median, best, worst in summary:
                print(f"  {connections:3d} connections: median {median:.0f}, best {best:.0f}, worst {worst:.0f} over {args.rounds} rounds")
            p = paced(running.url, headers, args.rate, args.paced_seconds, None)
            print(f"text-only at {args.rate:.0f}/s for {args.paced_seconds:.0f} s: p50 {p['p50']:.1f} ms, p95 {p['p95']:.1f} ms, "
                  f"p99 {p['p99']:.1f} ms, max {p['max']:.1f} ms; answers {p['codes']}")
            photo = photo_of_1mb()
            rate = args.photo_rate or args.rate
            time.sleep(2)
            p = paced(running.url, headers, rate, args.paced_seconds, photo)
            print(f"with one {len(photo) / 1e6:.2f} MB photo (upload + submit) at {rate:.0f}/s for {args.paced_seconds:.0f} s: "
                  f"p50 {p['p50']:.1f} ms, p95 {p['p95']:.1f} ms, p99 {p['p99']:.1f} ms, max {p['max']:.1f} ms; answers {p['codes']}")
            print(f"intake RSS after: {rss_mb(intake_pid):.0f} MB")
        finally:
            stop_paht(running)
            cleanup_backend(backend, tag)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
