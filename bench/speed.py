"""Benchmark PAHT's throughput and tails through the edge of an instance it starts itself (the speed goals).

Run: PYTHONPATH=. .venv/bin/python bench/speed.py [--external] [--seconds 60] [--read-seconds 10] [--connections 8]
                                               [--quick] [--only create,list,open311,page,open311-post]
Embedded by default (SQLite and the bundled nats-server); --external uses DATABASE_URL and NATS_URL (PostgreSQL and
NATS) with schemas and subjects of its own. Needs `wrk` (Debian: apt-get install wrk). Prints a table; asserts nothing.

What it measures (wrk -t2 -c<connections>, closed loop, through the edge):
- create: POST /api/intake/v1/reports (the citizens' JSON API, an app session), --seconds long; then how long until
  every consumer of every stream has applied every event (JetStream: nothing pending, nothing unacknowledged) —
  the backlog the load left behind;
- open311-post: POST /open311/v2/requests.json (a partner's key) for --read-seconds, and its backlog the same way;
- list: GET /api/publication/v1/reports (first page); open311: GET /open311/v2/requests.json; page: GET /reports/<id>
  (one report's page), each --read-seconds;
- memory: each service's resident memory at idle (before any load) and its highest while the loads ran (sampled
  every 0.5 s).
Goals (issue): creating ≥ 1,500/s sustained 60 s with every event consumed within 2 s of the end; the list and
Open311 GET ≥ 1,500/s, a report's page ≥ 2,000/s; memory < 120 MB per service idle, < 200 MB under load.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.intake_submit import REPORT, machine_pace, pct, pss_mb, rss_mb, wrk  # noqa: E402
from paht.runtime.walkthrough import DEMO_PASSWORD, reporter_sign_in  # noqa: E402
from tests.e2e.harness import backend_env, cleanup_backend, start_paht, stop_paht  # noqa: E402

POST_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "%s"
%s
wrk.body = [[%s]]
"""
OPEN311_FORM = ("service_code={service}&lat=17.4683&long=106.6222&address_string=120%20Quang%20Trung&"
                "description=%C3%94%20g%C3%A0%20l%E1%BB%9Bn%20gi%E1%BB%AFa%20%C4%91%C6%B0%E1%BB%9Dng%20Quang%20Trung&"
                "first_name=Hoa&last_name=Nguyen&email=hoa%40example.vn&phone=0912345678&api_key={key}")


class Instance:
    """A running `paht up`, what its services are, and the people the loads act as."""

    def __init__(self, external: bool):
        self.backend = "external" if external else "embedded"
        self.tag = "s" + uuid.uuid4().hex[:8]
        self.tmp = Path(tempfile.mkdtemp(prefix="paht-speed-"))
        self.running = start_paht(self.tmp / "data", backend_env(self.backend, self.tag), timeout=180)
        self.url = self.running.url
        self.http = httpx.Client(base_url=self.url, timeout=30)
        self.run_info = json.loads((self.tmp / "data" / "run.json").read_text())
        self.node_id = self.tag if external else "province"

    def token(self, username: str) -> str:
        r = self.http.post("/auth/token", data={"username": username, "password": DEMO_PASSWORD})
        r.raise_for_status()
        return f"Bearer {r.json()['access_token']}"

    def pids(self) -> dict[str, int]:
        services = self.run_info.get("services", {})
        return {name: s["pid"] for name, s in services.items() if s.get("pid")}

    def memory(self, measure=rss_mb) -> dict[str, float]:
        out = {}
        for name, pid in self.pids().items():
            try:
                out[name] = measure(pid)
            except OSError:
                pass
        return out

    def stop(self) -> None:
        self.http.close()
        stop_paht(self.running)
        cleanup_backend(self.backend, self.tag)
        shutil.rmtree(self.tmp, ignore_errors=True)


def backlog(inst: Instance) -> int:
    """Events waiting for any consumer of the node (JetStream: pending plus delivered and not yet acknowledged)."""
    import nats

    import os

    from paht.runtime.events.envelope import stream_for

    url = inst.run_info.get("nats_url") or os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
    ours = stream_for(inst.node_id, "x")[0].removesuffix("X")  # PAHT_<NODE>_: a shared NATS holds other runs' streams too

    async def ask() -> int:
        nc = await nats.connect(url, connect_timeout=5, allow_reconnect=False)
        try:
            js = nc.jetstream(timeout=5)
            total = 0
            for stream in await js.streams_info():
                if not stream.config.name.startswith(ours):
                    continue
                for consumer in await js.consumers_info(stream.config.name):
                    total += int(consumer.num_pending or 0) + int(consumer.num_ack_pending or 0)
            return total
        finally:
            await nc.close()

    return asyncio.run(ask())


def drained_after(inst: Instance, timeout: float = 300.0) -> tuple[float, int]:
    """Seconds from now until no consumer has anything waiting, and the backlog at the start."""
    t0 = time.monotonic()
    first = backlog(inst)
    waiting = first
    while waiting and time.monotonic() - t0 < timeout:
        time.sleep(0.1)
        waiting = backlog(inst)
    return time.monotonic() - t0, first


class MemoryWatch:
    """The highest resident memory of each service while the loads run."""

    def __init__(self, inst: Instance):
        self.inst, self.peak, self._stop = inst, {}, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            for name, mb in self.inst.memory().items():
                self.peak[name] = max(self.peak.get(name, 0.0), mb)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)


def prepare(inst: Instance, reports: int) -> dict:
    """A reporter's session, a partner key with room for the load, and `reports` reports accepted at step 1 (the lists
    and pages then have rows); return what the loads need."""
    citizen = reporter_sign_in(inst.http, "09" + uuid.uuid4().hex[:8].translate(str.maketrans("abcdef", "123456")))
    admin, ioc = inst.token("admin"), inst.token("ioc")
    partner = inst.http.post("/api/intake/v1/admin/partners", headers={"Authorization": admin},
                             json={"id": "bench-" + inst.tag, "name": "Bench", "channel_name": "bench-" + inst.tag, "rate_per_minute": 100_000})
    partner.raise_for_status()
    services = inst.http.get("/open311/v2/services.json").json()
    ids = []
    for _ in range(reports):
        r = inst.http.post("/api/intake/v1/reports", json=REPORT, headers=citizen)
        r.raise_for_status()
        ids.append(r.json()["id"])
    topic = inst.http.get("/api/dispatch/v1/topics").json()["items"][0]["code"]
    for rid in ids:
        inst.http.post(f"/api/intake/v1/reports/{rid}/accept", json={"topic_code": topic}, headers={"Authorization": ioc}).raise_for_status()
    drained_after(inst)
    return {"citizen": citizen, "key": partner.json()["api_key"], "service_code": services[0]["service_code"], "report": ids[0],
            "reports": ids, "topic": topic}


# The mixed load: requests per second of each kind (50 in all), sent on a schedule (open loop: a late answer does not
# slow the next request, and each latency is counted from when its request was due, so waiting in line counts too).
MIX = {
    "citizen: submit a report": 8,
    "citizen: public list": 8,
    "citizen: a report's page": 10,
    "partner: Open311 GET requests": 4,
    "IOC: step 1 work list": 5,
    "IOC: step 2 queue": 3,
    "unit leader: work list": 4,
    "IOC: accept a report (step 1 → 2)": 8,
}


def mixed(inst: Instance, ready: dict, seconds: float) -> dict:
    """Run MIX for `seconds`; return per-kind latencies, and how long a report took to reach the IOC's step 1 and, once
    accepted, the step 2 queue (dispatch learns of it through its events)."""
    import random

    rng = random.Random(11)
    ioc, leader = inst.token("ioc"), inst.token("truongphong")
    topic = ready["topic"]
    reports = list(ready["reports"])
    created: asyncio.Queue = asyncio.Queue()  # reports submitted during the run, waiting for the IOC to accept them
    lat: dict[str, list[float]] = {k: [] for k in MIX}
    errors: dict[str, int] = {k: 0 for k in MIX}
    to_step1: list[float] = []
    to_step2: list[float] = []

    async def run() -> None:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(base_url=inst.url, timeout=30, limits=limits) as http:
            async def follow(path: str, since: float, into: list[float], headers: dict) -> None:
                while time.monotonic() - since < 10:
                    if (await http.get(path, headers=headers)).status_code == 200:
                        into.append((time.monotonic() - since) * 1000)
                        return
                    await asyncio.sleep(0.01)

            async def one(kind: str, due: float) -> None:
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                if kind == "citizen: submit a report":
                    r = await http.post("/api/intake/v1/reports", json=REPORT, headers=ready["citizen"])
                    if r.status_code == 201:
                        rid = r.json()["id"]
                        created.put_nowait(rid)
                        asyncio.ensure_future(follow(f"/api/intake/v1/reports/{rid}", due, to_step1, {"Authorization": ioc}))
                elif kind == "citizen: public list":
                    r = await http.get("/api/publication/v1/reports")
                elif kind == "citizen: a report's page":
                    r = await http.get(f"/reports/{rng.choice(reports)}")
                elif kind == "partner: Open311 GET requests":
                    r = await http.get("/open311/v2/requests.json")
                elif kind == "IOC: step 1 work list":
                    r = await http.get("/api/intake/v1/reports", headers={"Authorization": ioc})
                elif kind == "IOC: step 2 queue":
                    r = await http.get("/api/dispatch/v1/queue", headers={"Authorization": ioc})
                elif kind == "unit leader: work list":
                    r = await http.get("/api/handling/v1/cases", headers={"Authorization": leader})
                else:  # accept the oldest report submitted in the run (one step transition per case)
                    try:
                        rid = created.get_nowait()
                    except asyncio.QueueEmpty:
                        return
                    r = await http.post(f"/api/intake/v1/reports/{rid}/accept", json={"topic_code": topic}, headers={"Authorization": ioc})
                    if r.status_code == 200:
                        asyncio.ensure_future(follow(f"/api/dispatch/v1/reports/{rid}", time.monotonic(), to_step2, {"Authorization": ioc}))
                done = time.monotonic()
                if r.status_code >= 300:
                    errors[kind] += 1
                lat[kind].append((done - due) * 1000)

            start = time.monotonic() + 0.5
            tasks = []
            for kind, rate in MIX.items():
                n = int(rate * seconds)
                offset = rng.random() / rate
                tasks += [asyncio.ensure_future(one(kind, start + offset + i / rate)) for i in range(n)]
            await asyncio.gather(*tasks)
            await asyncio.sleep(1.0)  # the last followers

    before, t0 = cpu_seconds(inst), time.monotonic()
    asyncio.run(run())
    after, wall = cpu_seconds(inst), time.monotonic() - t0
    busy = {name: (after[name] - before.get(name, 0.0)) / wall * 100 for name in after}
    return {"lat": lat, "errors": errors, "to_step1": to_step1, "to_step2": to_step2, "busy": busy}


def cpu_seconds(inst: Instance) -> dict[str, float]:
    """CPU time used so far by each service, by PostgreSQL's and NATS's processes together, and by the whole machine."""
    import os

    tick = os.sysconf("SC_CLK_TCK")

    def of(pid: int) -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick

    out: dict[str, float] = {}
    for name, pid in inst.pids().items():
        try:
            out[name] = of(pid)
        except OSError:
            pass
    for label, needle in (("postgres", b"postgres"), ("nats-server", b"nats-server")):
        total = 0.0
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if needle in (entry / "cmdline").read_bytes():
                        total += of(int(entry.name))
                except OSError:
                    pass
        out[label] = total
    out["machine"] = sum(int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:4]) / tick
    return out


def mixed_table(f: dict) -> str:
    lines = [f"{'request':<38} {'per s':>6} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>7}"]
    everything = [x for v in f["lat"].values() for x in v]
    for kind, values in [*f["lat"].items(), ("every interactive request", everything)]:
        if not values:
            continue
        rate = MIX.get(kind, sum(MIX.values()))
        err = f["errors"].get(kind, sum(f["errors"].values()))
        lines.append(f"{kind:<38} {rate:>6} {len(values):>6} {pct(values, 50):>8.1f} {pct(values, 95):>8.1f} {pct(values, 99):>8.1f} "
                     f"{max(values):>8.1f} {err:>7}")
    for what, values in (("submitted → in the IOC's step 1 (from due)", f["to_step1"]),
                         ("accepted → in dispatch's step 2 queue", f["to_step2"])):
        if values:
            lines.append(f"{what:<45} n {len(values):>5}  p50 {pct(values, 50):.1f}  p95 {pct(values, 95):.1f}  max {max(values):.1f} ms")
    lines.append("CPU while it ran (% of one core): " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(f.get("busy", {}).items(), key=lambda kv: -kv[1])))
    lines.append("goals: every interactive request p95 < 100 ms, p99 < 250 ms; submit → IOC queue p95 < 300 ms")
    return "\n".join(lines)


def row(what: str, f: dict, goal: str) -> str:
    if "error" in f:
        return f"{what:<34} {f['error']}"
    return (f"{what:<34} {f.get('per_s', float('nan')):>9,.0f} {f.get('50%', float('nan')):>8.1f} {f.get('90%', float('nan')):>8.1f} "
            f"{f.get('99%', float('nan')):>8.1f} {f.get('max', float('nan')):>8.1f} {f.get('non_2xx', 0):>8}   {goal}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--external", action="store_true", help="PostgreSQL and NATS from DATABASE_URL / NATS_URL")
    ap.add_argument("--seconds", type=float, default=60.0, help="how long the create load runs (default 60)")
    ap.add_argument("--read-seconds", type=float, default=10.0, help="how long each other load runs (default 10)")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--reports", type=int, default=200, help="reports accepted before the reads (default 200)")
    ap.add_argument("--quick", action="store_true", help="10 s create, 5 s reads, 50 reports")
    ap.add_argument("--only", default="create,open311-post,list,open311,page,mixed", help="which loads, comma-separated")
    ap.add_argument("--mixed-seconds", type=float, default=30.0, help="how long the mixed load at 50 requests/s runs")
    ap.add_argument("--stored", type=int, default=0, help="with --external: first store this many finished reports (years of a "
                                                        "province's history) in every service's tables (bench/history.py)")
    ap.add_argument("--hold", metavar="FILE", help="prepare, write the instance's address, pids and load inputs to FILE as "
                                                   "JSON, and keep it running until FILE is deleted (to profile it by hand)")
    args = ap.parse_args()
    if args.quick:
        args.seconds, args.read_seconds, args.reports, args.mixed_seconds = 10.0, 5.0, 50, 10.0
    if args.stored and not args.external:
        ap.error("--stored needs --external (PostgreSQL)")
    loads = [x.strip() for x in args.only.split(",") if x.strip()]
    print(f"Speed benchmark ({'PostgreSQL + NATS' if args.external else 'embedded: SQLite + bundled nats-server'}), "
          f"wrk -t2 -c{args.connections}", flush=True)
    inst = Instance(args.external)
    results: dict[str, dict] = {}
    try:
        print(f"started in {inst.running.started_in:.1f} s", flush=True)
        if args.stored:
            from bench import history
            from paht.runtime.settings import Settings

            print(f"storing {args.stored:,} finished reports", flush=True)
            history.store(Settings(data=inst.tmp / "data", db_schema_prefix=f"{inst.tag}_", node_id=inst.tag), args.stored)
        print(f"preparing {args.reports} reports", flush=True)
        ready = prepare(inst, args.reports)
        if args.hold:
            hold = Path(args.hold)
            hold.write_text(json.dumps({"url": inst.url, "pids": inst.pids(), **ready}, ensure_ascii=False))
            print(f"holding {inst.url} until {hold} is deleted", flush=True)
            while hold.exists():
                time.sleep(1)
            return 0
        idle, idle_pss = inst.memory(), inst.memory(pss_mb)
        pace = machine_pace()
        with MemoryWatch(inst) as watch:
            for load in loads:
                print(f"  {load} …", flush=True)
                if load == "create":
                    script = POST_SCRIPT % ("application/json", f'wrk.headers["Authorization"] = "{ready["citizen"]["Authorization"]}"',
                                            json.dumps(REPORT, ensure_ascii=False))
                    f = wrk(f"{inst.url}/api/intake/v1/reports", args.seconds, args.connections, script)
                    f["drained_s"], f["backlog"] = drained_after(inst)
                elif load == "open311-post":
                    body = OPEN311_FORM.format(service=ready["service_code"], key=ready["key"])
                    f = wrk(f"{inst.url}/open311/v2/requests.json", args.read_seconds, args.connections,
                            POST_SCRIPT % ("application/x-www-form-urlencoded", "", body))
                    f["drained_s"], f["backlog"] = drained_after(inst)
                elif load == "list":
                    f = wrk(f"{inst.url}/api/publication/v1/reports", args.read_seconds, args.connections)
                elif load == "open311":
                    f = wrk(f"{inst.url}/open311/v2/requests.json", args.read_seconds, args.connections)
                elif load == "page":
                    f = wrk(f"{inst.url}/reports/{ready['report']}", args.read_seconds, args.connections)
                elif load == "mixed":
                    drained_after(inst)
                    f = mixed(inst, ready, args.mixed_seconds)
                else:
                    continue
                results[load] = f
    finally:
        inst.stop()

    goals = {"create": "≥ 1,500/s; drained ≤ 2 s", "open311-post": "≥ 1,500/s", "list": "≥ 1,500/s", "open311": "≥ 1,500/s",
             "page": "≥ 2,000/s"}
    print("\n" + "=" * 110)
    stored = f"; {args.stored:,} finished reports stored" if args.stored else ""
    print(f"Speed — {'PostgreSQL + NATS' if args.external else 'embedded'}{stored}; machine pace {pace:.0f} ms; wrk -t2 -c{args.connections}")
    print(f"{'load':<34} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} {'non-2xx':>8}   goal")
    names = {"create": f"create report (JSON), {args.seconds:.0f} s", "open311-post": f"create (Open311 POST), {args.read_seconds:.0f} s",
             "list": "public list, first page", "open311": "Open311 GET requests.json", "page": "one report's page"}
    for load, f in results.items():
        if load == "mixed":
            continue
        print(row(names[load], f, goals[load]))
        if "drained_s" in f:
            print(f"{'':<34} backlog at the end {f['backlog']:,} events, all consumed {f['drained_s']:.1f} s after the load")
    print("\nmemory (MB, resident)   " + "  ".join(f"{n}" for n in sorted(idle)))
    print("idle                    " + "  ".join(f"{idle[n]:.0f}" for n in sorted(idle)))
    print("idle, proportional (PSS) " + " ".join(f"{idle_pss.get(n, float('nan')):.0f}" for n in sorted(idle)) +
          "   (shared libraries counted once across the processes)")
    print("highest under load      " + "  ".join(f"{watch.peak.get(n, float('nan')):.0f}" for n in sorted(idle)))
    print("goals: < 120 MB per service idle, < 200 MB under load")
    if "mixed" in results:
        print(f"\nmixed load, {sum(MIX.values())} requests/s for {args.mixed_seconds:.0f} s (open loop; latency from when each was due)")
        print(mixed_table(results["mixed"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
