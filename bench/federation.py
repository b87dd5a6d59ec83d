"""Benchmark federation as PAHT runs it: the province and the Đồng Hới hub, each its own `paht up` with its own
nats-server (JetStream domain = node id) and databases, the hub's leaf link through a TCP proxy the bench cuts.

Run: PYTHONPATH=. .venv/bin/python bench/federation.py [--quick] [--postgresql] [--reports 30] [--events 10000]
                                                       [--hold-s 600] [--rounds 3] [--down-s 10] [--keep]
Embedded by default (SQLite and each node's own nats-server; DATABASE_URL and NATS_URL are unset for the nodes).
--postgresql gives both nodes DATABASE_URL (from the environment, default postgresql+psycopg://postgres@127.0.0.1:5432/test)
with a schema prefix of their own (<tag>_; the hub's becomes <tag>_donghoi_ by itself), each still with its own
nats-server; the schemas are dropped at the end. --quick: 10 reports, 2,000 events held 20 s, one restart round each.
Prints figures in tables; asserts nothing.
Goals (issue): province → hub and hub → province lag p95 < 1 s; catch-up after a 10-minute partition holding 10,000
events < 10 s; catch-up after a hub restart and after a province restart < 15 s each.

How (as tests/e2e/test_federation_flow.py starts the nodes):
  1. lag, real work, one report at a time: a citizen reports, the IOC accepts and dispatches it to Phường Đồng Hới
     (hosted on the hub); province → hub = from the moment the dispatch POST returns until the hub's
     GET /api/handling/v1/cases/{id} (as donghoi) answers 200; on the hub assign-unit, assign-staff, draft, approve by
     its own people; hub → province = from the moment the approve POST returns until the province's
     GET /api/publication/v1/reports/{id} (as ioc) says "approved". Polled every 10 ms.
  2. partition: ownership rows for synthetic reports (1,000 reports x 10 versions for 10,000 events) are written
     into the province's sync database (the border lets a hub's events in only for what the hub owns); the proxy is
     cut; EVENTS events are published straight into the hub's handling stream (paht.handling.v1.WorkLogged, epoch 1,
     as the hub's handling would) and as many into the province's stream for the hub (paht.sync.v1.OwnershipRecalled
     of epoch 99: no case has it, the hub's handling applies it as a no-op); held HOLD seconds from the cut (the
     publishing included), healed; from the heal: the leaf connection back (the province's /leafz), the link up (the
     province's sync status, checked every 2 s by its sync), every event let in (the inbound stream of the receiving
     node holds EVENTS more messages), and applied (the durable consumers of its services that read it have nothing
     pending nor unacknowledged). Refused events (the province's status) and exact counts are checked after.
  3. restarts: with the link up, one node is stopped (SIGTERM to `paht up`), 1,000 events are put on the other side
     into the stream meant for the stopped node, it stays down DOWN seconds and is started again with the same
     arguments (the province on the same edge port; it keeps its leaf port); from the start command: healthy, leaf
     connected, link up, events let in, applied.
The CPU figures of a shared 2-core machine drift: the machine's pace (bench/intake_submit.py machine_pace) is printed.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
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

from bench.intake_submit import machine_pace, pct  # noqa: E402
from paht.runtime.events.envelope import Envelope, stream_for  # noqa: E402
from paht.runtime.supervisor import nats_server_binary  # noqa: E402
from paht.runtime.walkthrough import REPORT, first_topic  # noqa: E402
from tests.e2e.harness import CITIZEN, Client, start_paht, stop_paht  # noqa: E402
from tests.support.tcp_proxy import TcpProxy  # noqa: E402

HUB, WARD, PROVINCE = "donghoi", "ward-donghoi-2025", "province"
ANSWER = "UBND phường Đồng Hới đã cho lấp ổ gà trước số nhà 120 Quang Trung; mặt đường đã thông thoáng."
TO_HUB_STREAM, TO_HUB_SUBJECT = stream_for(PROVINCE, f"for-{HUB}")[0], f"paht.{PROVINCE}.for-{HUB}.OwnershipRecalled"
HUB_STREAM, HUB_SUBJECT = stream_for(HUB, "handling")[0], f"paht.{HUB}.handling.WorkLogged"
PROVINCE_INBOUND, HUB_INBOUND = "PAHT_PROVINCE_INBOUND", "PAHT_DONGHOI_INBOUND"
PROVINCE_READERS, HUB_READERS = ("intake-inbound", "dispatch-inbound", "publication-inbound"), ("handling-inbound",)
VERSIONS = 10  # events per synthetic report (versions 1..10 in order)
POLL_S = 0.01


# --- NATS, from the bench's own loop in a thread ------------------------------------------------------------------

class Loop:
    """An asyncio loop in a thread: the bench is synchronous (httpx, subprocesses), nats-py is not."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="bench-nats", daemon=True).start()

    def run(self, coro, timeout: float = 600):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=timeout)


class NodeNats:
    """One node's nats-server as its services see it (user paht), reconnected after the node restarts."""

    def __init__(self, loop: Loop, data: Path):
        self.loop, self.data, self.nc = loop, data, None

    def connect(self) -> None:
        import nats

        info = json.loads((self.data / "run.json").read_text())
        password = (self.data / "federation" / "paht.password").read_text().strip()
        self.monitor = info["nats_monitor"]
        self.nc = self.loop.run(nats.connect(info["nats_url"], user="paht", password=password, allow_reconnect=False,
                                             connect_timeout=5), timeout=30)
        self.js = self.nc.jetstream(timeout=5)

    def close(self) -> None:
        if self.nc is not None:
            try:
                self.loop.run(self.nc.close(), timeout=10)
            except Exception:
                pass
            self.nc = None

    def messages(self, stream: str) -> int:
        return int(self.loop.run(self.js.stream_info(stream)).state.messages)

    def waiting(self, stream: str, durables) -> int:
        """Events not yet applied by the durables reading `stream` (pending + delivered and not acknowledged)."""
        async def ask():
            total = 0
            for durable in durables:
                info = await self.js.consumer_info(stream, durable)
                total += int(info.num_pending or 0) + int(info.num_ack_pending or 0)
            return total
        return self.loop.run(ask())

    def leaf_connected(self) -> bool:
        try:
            return bool(httpx.get(f"{self.monitor}/leafz", timeout=1).json().get("leafs"))
        except (httpx.HTTPError, ValueError):
            return False

    def publish(self, subject: str, envelopes: list[Envelope], burst: int = 1000) -> int:
        """Publish in order, `burst` at a time without waiting for each acknowledgement; return how many were stored."""
        async def go():
            stored = 0
            for i in range(0, len(envelopes), burst):
                futures = [await self.js.publish_async(subject, e.data, headers=e.headers()) for e in envelopes[i:i + burst]]
                for ack in await asyncio.gather(*futures, return_exceptions=True):
                    stored += 0 if isinstance(ack, BaseException) else 1
            return stored
        return self.loop.run(go())


def hub_events(reports: list[str]) -> list[Envelope]:
    """What the hub's handling publishes (WorkLogged at epoch 1), version by version across the reports."""
    from paht.handling.v1 import events_pb2 as ev

    out = []
    for version in range(1, VERSIONS + 1):
        for rid in reports:
            event = ev.WorkLogged(staff_subject="canbophuong", text=f"Kiểm tra hiện trường lần {version}")
            event.meta.report_id, event.meta.report_version, event.meta.node_id, event.meta.epoch = rid, version, HUB, 1
            out.append(Envelope.for_event(event, node_id=HUB, service="handling", report_id=rid, version=version))
    return out


def province_events(reports: list[str]) -> list[Envelope]:
    """What the province's sync sends the hub (an OwnershipRecalled of an epoch no case has: a no-op there)."""
    from paht.sync.v1 import events_pb2 as ev

    out = []
    for version in range(1, VERSIONS + 1):
        for rid in reports:
            event = ev.OwnershipRecalled(node_id=HUB, epoch=99, reason="bench")
            event.meta.report_id, event.meta.report_version, event.meta.node_id = rid, version, PROVINCE
            out.append(Envelope.for_event(event, node_id=PROVINCE, service="sync", report_id=rid, version=version))
    return out


def new_reports(events: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(max(1, events // VERSIONS))]


# --- the two nodes ------------------------------------------------------------------------------------------------

class Nodes:
    """The province and the hub, the proxy on the hub's leaf link (as in tests/e2e/test_federation_flow.py)."""

    def __init__(self, tmp: Path, env: dict, loop: Loop):
        self.tmp, self.env, self.loop = tmp, env, loop
        self.province_env = dict(env, PAHT_HUBS=HUB, PAHT_OTP_RESEND_AFTER_S="1", PAHT_OTP_PER_ADDRESS_HOUR="100000")
        self.province = start_paht(tmp / "province", self.province_env, timeout=150)
        leaf = json.loads((tmp / "province" / "federation" / "leaf.json").read_text())
        self.proxy = TcpProxy(int(leaf["port"])).start()
        self.hub = None
        self.start_hub()
        self.p = Client(self.province.url)
        self.topic = first_topic(self.p.http)
        self.pn, self.hn = NodeNats(loop, tmp / "province"), NodeNats(loop, tmp / "hub")
        self.pn.connect()
        self.hn.connect()

    def start_hub(self) -> None:
        secret = self.tmp / "province" / "federation" / f"{HUB}.secret"
        self.hub = start_paht(self.tmp / "hub", dict(self.env, PAHT_HUBS=None), timeout=150, args=[
            "--node", HUB, "--join", self.province.url, "--join-secret-file", str(secret),
            "--leaf-url", f"nats-leaf://127.0.0.1:{self.proxy.port}"])
        self.h = Client(self.hub.url)

    def start_province(self) -> None:
        port = int(self.province.url.rsplit(":", 1)[1])  # the hub joined at this URL: the province keeps it
        self.province = start_paht(self.tmp / "province", self.province_env, timeout=150, port=port)
        leaf = json.loads((self.tmp / "province" / "federation" / "leaf.json").read_text())
        self.proxy.target = ("127.0.0.1", int(leaf["port"]))  # the same port unless it was taken meanwhile
        self.p = Client(self.province.url)

    def stop(self) -> None:
        for n in (self.pn, self.hn):
            n.close()
        for running in (self.hub, self.province):
            if running is not None:
                try:
                    stop_paht(running)
                except Exception as exc:  # keep tearing down
                    print(f"  (stopping {running.data.name}: {exc})")
        self.proxy.stop()

    def status(self) -> dict:
        return self.p.get("/api/sync/v1/status", "ioc").json()

    def peer_up(self) -> bool:
        try:
            return bool(self.status()["peers"][0]["up"])
        except (httpx.HTTPError, KeyError, IndexError, ValueError):
            return False

    def refused(self) -> int:
        return int(self.status()["refused_events"])

    def grant(self, reports: list[str]) -> None:
        """Write the province's ownership rows that let the hub's events about `reports` in (epoch 1, Phường Đồng Hới)."""
        from sqlalchemy import create_engine, text

        rows = [{"r": rid} for rid in reports]
        if self.env.get("DATABASE_URL"):
            url, table = self.env["DATABASE_URL"], f'"{self.env["PAHT_DB_SCHEMA_PREFIX"]}sync".ownerships'
        else:
            url, table = f"sqlite:///{self.tmp / 'province' / 'db' / 'sync.sqlite3'}", "ownerships"
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text(f"INSERT INTO {table} (report_id, node_id, epoch, lead_agency_id, version) "
                              f"VALUES (:r, '{HUB}', 1, '{WARD}', 1)"), rows)
        engine.dispose()

    # --- real work ---------------------------------------------------------------------------------------------
    def dispatched_to_hub(self) -> tuple[str, float]:
        body = dict(REPORT, topic_code=self.topic, reporter=dict(REPORT["reporter"]))
        created = self.p.post("/api/intake/v1/reports", CITIZEN, json=body)
        created.raise_for_status()
        rid = created.json()["id"]
        self.p.post(f"/api/intake/v1/reports/{rid}/accept", "ioc", json={"topic_code": self.topic}).raise_for_status()
        self.p.wait_for(f"/api/dispatch/v1/reports/{rid}", "ioc")
        self.p.as_("ioc")
        sent = self.p.post(f"/api/dispatch/v1/reports/{rid}/dispatch", "ioc", json={
            "agency_id": WARD, "note": "Đề nghị phường xử lý", "competence_reason": "Địa bàn phường Đồng Hới quản lý"})
        returned = time.monotonic()
        sent.raise_for_status()
        return rid, returned

    def approved_at_hub(self, rid: str) -> float:
        for who, path, body in (("donghoi", "assign-unit", {"unit_id": WARD, "message": "Giao phường trực tiếp xử lý"}),
                                ("phuong", "assign-staff", {"staff_subject": "canbophuong"}),
                                ("canbophuong", "draft", {"answer_text": ANSWER}),
                                ("phuong", "approve", {})):
            self.h.as_(who)
            r = self.h.post(f"/api/handling/v1/cases/{rid}/{path}", who, json=body)
            returned = time.monotonic()
            if r.status_code != 200:
                raise RuntimeError(f"{path}: {r.status_code} {r.text[:300]}")
        return returned


def poll_until(check, timeout: float, every: float = POLL_S) -> float | None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if check():
            return time.monotonic()
        time.sleep(every)
    return None


def measure_lag(nodes: Nodes, reports: int) -> tuple[list[float], list[float]]:
    down, up = [], []
    for i in range(reports):
        rid, t0 = nodes.dispatched_to_hub()
        nodes.h.as_("donghoi")
        seen = poll_until(lambda: nodes.h.get(f"/api/handling/v1/cases/{rid}", "donghoi").status_code == 200, 60)
        if seen is None:
            print(f"  report {rid}: never reached the hub in 60 s")
            continue
        down.append(seen - t0)
        t1 = nodes.approved_at_hub(rid)
        seen = poll_until(lambda: (lambda r: r.status_code == 200 and r.json().get("status") == "approved")(
            nodes.p.get(f"/api/publication/v1/reports/{rid}", "ioc")), 60)
        if seen is None:
            print(f"  report {rid}: its approval never reached the province in 60 s")
            continue
        up.append(seen - t1)
        print(f"  lag {i + 1}/{reports}: province → hub {down[-1] * 1000:.0f} ms, hub → province {up[-1] * 1000:.0f} ms", flush=True)
    return down, up


# --- catching up --------------------------------------------------------------------------------------------------

class Side:
    """One direction of the link: the receiving node's inbound stream, and its services that read it."""

    def __init__(self, name: str, nats: NodeNats, inbound: str, readers, expected: int):
        self.name, self.nats, self.inbound, self.readers = name, nats, inbound, readers
        self.before = nats.messages(inbound) if nats.nc is not None else None
        self.expected = expected

    def let_in(self) -> bool:
        try:
            return self.nats.messages(self.inbound) - self.before >= self.expected
        except Exception:
            return False

    def applied(self) -> bool:
        try:
            return self.let_in() and self.nats.waiting(self.inbound, self.readers) == 0
        except Exception:
            return False

    def got(self) -> int:
        return self.nats.messages(self.inbound) - self.before


def quiet(nodes: Nodes, timeout: float = 120.0) -> None:
    """Wait until nothing is on its way either way (both borders and every inbound reader caught up)."""
    def calm() -> bool:
        try:
            return (nodes.pn.waiting(TO_HUB_STREAM, (f"border-{HUB}",)) == 0 and nodes.hn.waiting(HUB_STREAM, ("border-province",)) == 0
                    and nodes.pn.waiting(PROVINCE_INBOUND, PROVINCE_READERS) == 0 and nodes.hn.waiting(HUB_INBOUND, HUB_READERS) == 0)
        except Exception:
            return False
    if poll_until(calm, timeout, 0.2) is None:
        print("  (not quiet after 120 s; measuring anyway)")
    time.sleep(1.0)


def follow(t0: float, checks: dict, timeout: float, every: float = 0.05) -> dict:
    """Seconds from t0 until each check first holds (None: not within timeout); each checked until it holds."""
    done: dict = {name: None for name in checks}
    while time.monotonic() - t0 < timeout and any(v is None for v in done.values()):
        for name, check in checks.items():
            if done[name] is None and check():
                done[name] = time.monotonic() - t0
        time.sleep(every)
    return done


def partition(nodes: Nodes, events: int, hold_s: float) -> dict:
    up_reports, down_reports = new_reports(events), new_reports(events)
    nodes.grant(up_reports)
    quiet(nodes)
    refused = nodes.refused()
    to_province = Side("hub → province", nodes.pn, PROVINCE_INBOUND, PROVINCE_READERS, len(up_reports) * VERSIONS)
    to_hub = Side("province → hub", nodes.hn, HUB_INBOUND, HUB_READERS, len(down_reports) * VERSIONS)
    nodes.proxy.cut()
    cut = time.monotonic()
    stored_up = nodes.hn.publish(HUB_SUBJECT, hub_events(up_reports))
    stored_down = nodes.pn.publish(TO_HUB_SUBJECT, province_events(down_reports))
    published_in = time.monotonic() - cut
    print(f"  cut; {stored_up:,} events stored on the hub and {stored_down:,} on the province in {published_in:.1f} s; holding", flush=True)
    while time.monotonic() - cut < hold_s:
        time.sleep(1.0)
    crossed_during = (to_province.got(), to_hub.got())
    down_seen = not nodes.peer_up()
    nodes.proxy.heal()
    t0 = time.monotonic()
    took = follow(t0, {
        "leaf": nodes.pn.leaf_connected, "link": nodes.peer_up,
        "up_let_in": to_province.let_in, "up_applied": to_province.applied,
        "down_let_in": to_hub.let_in, "down_applied": to_hub.applied}, timeout=max(300.0, hold_s))
    time.sleep(2.0)
    return dict(took, events_up=stored_up, events_down=stored_down,
                got_up=to_province.got(), got_down=to_hub.got(), refused=nodes.refused() - refused,
                crossed_during=crossed_during, down_seen=down_seen, published_in=published_in)


def restart(nodes: Nodes, which: str, events: int, down_s: float) -> dict:
    reports = new_reports(events)
    if which == "hub":
        quiet(nodes)
        side = Side("province → hub", nodes.hn, HUB_INBOUND, HUB_READERS, len(reports) * VERSIONS)
        nodes.hn.close()
        stop_paht(nodes.hub)
        stopped = time.monotonic()
        stored = nodes.pn.publish(TO_HUB_SUBJECT, province_events(reports))
    else:
        nodes.grant(reports)
        quiet(nodes)
        side = Side("hub → province", nodes.pn, PROVINCE_INBOUND, PROVINCE_READERS, len(reports) * VERSIONS)
        nodes.pn.close()
        stop_paht(nodes.province)
        stopped = time.monotonic()
        stored = nodes.hn.publish(HUB_SUBJECT, hub_events(reports))
    while time.monotonic() - stopped < down_s:
        time.sleep(0.2)
    t0 = time.monotonic()
    if which == "hub":
        nodes.start_hub()
        nodes.hn.connect()
    else:
        nodes.start_province()
        nodes.pn.connect()
    healthy = time.monotonic() - t0
    took = follow(t0, {"leaf": nodes.pn.leaf_connected, "link": nodes.peer_up, "let_in": side.let_in, "applied": side.applied}, timeout=300)
    time.sleep(1.0)
    return dict(took, healthy=healthy, events=stored, got=side.got())


# --- printing -----------------------------------------------------------------------------------------------------

def s(value) -> str:
    return "—" if value is None else f"{value:.2f}"


def machine() -> str:
    try:
        version = subprocess.run([nats_server_binary(), "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception as exc:
        version = f"nats-server ? ({exc})"
    return f"{os.cpu_count()} cores, {version}, Python {sys.version.split()[0]}, machine pace {machine_pace():.0f} ms"


def print_lag(down: list[float], up: list[float]) -> None:
    print("\nLag, real work (one report at a time; goal p95 < 1 s each way)")
    print(f"{'direction':<18}{'what':<58}{'n':>4}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}")
    for name, what, values in (("province → hub", "dispatch POST returned → hub's case answers 200", down),
                               ("hub → province", "hub's approve POST returned → province shows approved", up)):
        ms = [v * 1000 for v in values]
        print(f"{name:<18}{what:<58}{len(ms):>4}{pct(ms, 50):>9.0f}{pct(ms, 95):>9.0f}{max(ms, default=float('nan')):>9.0f}")


def print_partition(r: dict, hold_s: float) -> None:
    print(f"\nPartition catch-up (cut, events put on each side, held {hold_s:.0f} s from the cut, healed; seconds from the heal; goal < 10 s)")
    print(f"{'direction':<18}{'events':>8}{'hold s':>8}{'leaf s':>8}{'link up s':>11}{'let in s':>10}{'applied s':>11}{'arrived':>9}")
    for name, ev, key, got in (("hub → province", r["events_up"], "up", r["got_up"]), ("province → hub", r["events_down"], "down", r["got_down"])):
        print(f"{name:<18}{ev:>8,}{hold_s:>8.0f}{s(r['leaf']):>8}{s(r['link']):>11}{s(r[key + '_let_in']):>10}{s(r[key + '_applied']):>11}{got:>9,}")
    print(f"  published during the cut in {r['published_in']:.1f} s; crossed during the cut: {r['crossed_during'][0]} up, "
          f"{r['crossed_during'][1]} down; the province saw the link down before the heal: {r['down_seen']}; "
          f"refused meanwhile: {r['refused']}; lost: {r['events_up'] - r['got_up']} up, {r['events_down'] - r['got_down']} down "
          f"(negative = more arrived than sent)")


def print_restarts(which: str, rounds: list[dict], down_s: float) -> None:
    direction = "province → hub" if which == "hub" else "hub → province"
    print(f"\n{which.capitalize()} restart ({direction}: 1,000 events put on the other side while it is down {down_s:.0f} s; "
          "seconds from the start command; goal caught up < 15 s)")
    print(f"{'round':<8}{'events':>8}{'healthy s':>11}{'leaf s':>8}{'link up s':>11}{'let in s':>10}{'caught up s':>13}{'arrived':>9}")
    for i, r in enumerate(rounds, 1):
        print(f"{i:<8}{r['events']:>8,}{s(r['healthy']):>11}{s(r['leaf']):>8}{s(r['link']):>11}{s(r['let_in']):>10}{s(r['applied']):>13}{r['got']:>9,}")

    def med(key):
        values = [r[key] for r in rounds if r[key] is not None]
        return statistics.median(values) if values else None
    print(f"{'median':<8}{'':>8}{s(med('healthy')):>11}{s(med('leaf')):>8}{s(med('link')):>11}{s(med('let_in')):>10}{s(med('applied')):>13}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="10 reports, 2,000 events held 20 s, one restart round each")
    ap.add_argument("--postgresql", action="store_true", help="both nodes on PostgreSQL (DATABASE_URL), schemas of their own")
    ap.add_argument("--reports", type=int, default=None, help="reports for the lag (default 30; --quick 10)")
    ap.add_argument("--events", type=int, default=None, help="events each way during the partition (default 10,000; --quick 2,000)")
    ap.add_argument("--hold-s", type=float, default=None, help="how long the partition lasts (default 600; --quick 20)")
    ap.add_argument("--rounds", type=int, default=None, help="restart rounds of each node (default 3; --quick 1)")
    ap.add_argument("--restart-events", type=int, default=1000)
    ap.add_argument("--down-s", type=float, default=10.0)
    ap.add_argument("--keep", action="store_true", help="keep the data folders (and schemas) and print where they are")
    args = ap.parse_args()
    reports = args.reports or (10 if args.quick else 30)
    events = args.events or (2000 if args.quick else 10000)
    hold_s = args.hold_s if args.hold_s is not None else (20.0 if args.quick else 600.0)
    rounds = args.rounds if args.rounds is not None else (1 if args.quick else 3)

    tag = "fb" + uuid.uuid4().hex[:8]
    if args.postgresql:
        url = os.environ.get("DATABASE_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        os.environ["DATABASE_URL"] = url  # tests.conftest._drop_schemas reads it
        env = {"DATABASE_URL": url, "NATS_URL": None, "PAHT_DB_SCHEMA_PREFIX": f"{tag}_"}
        backend = f"PostgreSQL ({url.rsplit('@', 1)[-1]}, schemas {tag}_* and {tag}_{HUB}_*), each node its own nats-server"
    else:
        env = {"DATABASE_URL": None, "NATS_URL": None}
        backend = "embedded (SQLite, each node its own nats-server)"
    tmp = Path(tempfile.mkdtemp(prefix="paht-fedbench-"))
    print(f"Federation benchmark: province + hub '{HUB}', leaf link through a TCP proxy")
    print(f"machine: {machine()}")
    print(f"backend: {backend}")
    print(f"data: {tmp}", flush=True)
    loop = Loop()
    t_start = time.monotonic()
    nodes = Nodes(tmp, env, loop)
    print(f"started: province healthy in {nodes.province.started_in:.1f} s, hub in {nodes.hub.started_in:.1f} s", flush=True)
    results: dict = {}
    try:
        print(f"\n1. lag, {reports} reports", flush=True)
        results["lag"] = measure_lag(nodes, reports)
        print_lag(*results["lag"])
        print(f"\n2. partition, {events:,} events each way, held {hold_s:.0f} s", flush=True)
        results["partition"] = partition(nodes, events, hold_s)
        print_partition(results["partition"], hold_s)
        for which in ("hub", "province") if rounds else ():
            print(f"\n3. {which} restart, {rounds} round(s)", flush=True)
            results[which] = []
            for i in range(rounds):
                results[which].append(restart(nodes, which, args.restart_events, args.down_s))
                r = results[which][-1]
                print(f"  round {i + 1}: healthy {s(r['healthy'])} s, link up {s(r['link'])} s, caught up {s(r['applied'])} s", flush=True)
            print_restarts(which, results[which], args.down_s)
    finally:
        nodes.stop()
        if args.keep:
            print(f"\nkept: {tmp}" + (f", schemas {tag}_* and {tag}_{HUB}_*" if args.postgresql else ""))
        else:
            if args.postgresql:
                from tests.conftest import _drop_schemas

                _drop_schemas(f"{tag}_")
                _drop_schemas(f"{tag}_{HUB}_")
            shutil.rmtree(tmp, ignore_errors=True)

    print("\n" + "=" * 100)
    print(f"Federation benchmark — {backend}")
    print(f"machine: {machine()}")
    if "lag" in results:
        print_lag(*results["lag"])
    if "partition" in results:
        print_partition(results["partition"], hold_s)
    for which in ("hub", "province"):
        if results.get(which):
            print_restarts(which, results[which], args.down_s)
    print(f"\nwhole run {time.monotonic() - t_start:.0f} s. Goals (issue): lag p95 < 1 s each way; partition catch-up < 10 s; "
          "hub and province restart caught up < 15 s. Nothing asserted.")


if __name__ == "__main__":
    main()
