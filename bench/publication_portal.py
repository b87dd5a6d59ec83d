"""Benchmark the public portal and Open311 with 1,000,000 published reports on PostgreSQL, through the edge of a PAHT
it starts itself.

Run: DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench1m NATS_URL=nats://127.0.0.1:4222 \\
     .venv/bin/python bench/publication_portal.py [--reports 1000000] [--requests 200] [--explain]
PostgreSQL + NATS only (without DATABASE_URL / NATS_URL it says so and stops); a database of its own is best (the
seed is large). Prints figures; asserts nothing. `wrk` must be installed for the throughput round.
Goals: with 1,000,000 published reports, the list's first page p95 < 50 ms; a city viewport's GeoJSON (Đồng Hới,
~0.1° x 0.1°, what a phone shows of the city) p95 < 100 ms; Open311 `GET /open311/v2/requests.json` (the default
page: 90 days, up to 1,000 requests) >= 500 requests/s through the edge (wrk -t2 -c8 -d10s).

How: `paht up` on throw-away schemas (<tag>_<service>) and node id <tag> (dispatch's seed publishes the real taxonomy
and directory, so topics and areas are named); then N reports are written straight into publication's
public_reports, and their public timeline into timeline_entries (COPY), with a realistic spread: received over the
last 3 years (more recently more), placed around the province's towns (Đồng Hới the busiest; ~3 % without a
place; the province's real extents), the 21 topics of the taxonomy weighted, the area code of the town, statuses by
age (most older reports published; ~4 % refused or cancelled; ~3 % private to their reporter, ~0.3 % state
secret: neither ever listed); the map's cell counts are recounted (adapters/map_cells.py rebuild); then VACUUM
ANALYZE. Measured through the edge, one kept-alive client, --requests times each (a tenth for the slow ones; p50/p95
of the wall time, and the CPU the publication process, PostgreSQL and the edge spent per request, read from /proc —
the machine is small and shared). Each URL is new (a `_=<random>` parameter), so that the answer is made, not taken
from publication's kept answers (entrypoints/cached.py); the rows marked "kept" ask the same URL again:
  a. GET /api/publication/v1/reports (the home page's query, first page, 20 items), and with a group, a status and
     an area, a period, ?q=<a common word> and ?q=<a rare word>;
  b. GET …/reports.geojson?bbox=<Đồng Hới, ~0.1° x 0.1°, moved a little each time> (grid clusters), with a group,
     with ?q=; the whole province; a few streets (points);
  c. GET /open311/v2/requests.json: one client, then wrk -t2 -c8 -d10s (requests/s), and the same with
     If-None-Match (a client that revalidates what it has).
--explain prints EXPLAIN (ANALYZE, BUFFERS) of the list's and the map's SQL as publication builds it.
The schemas and streams are dropped at the end (KEEP=1 keeps them and prints the tag; --reuse TAG measures a kept
load again without seeding it: `paht up` migrates it first).
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.intake_submit import machine_pace, pct, wrk  # noqa: E402
from tests.e2e.harness import backend_env, cleanup_backend, start_paht, stop_paht  # noqa: E402

API = "/api/publication/v1/reports"
# Towns of the province (Quảng Trị since 1 July 2025: the former Quảng Bình and Quảng Trị), their centre, spread
# (degrees, one standard deviation), share of the reports and an area code (GSO; Đồng Hới's wards as its own).
TOWNS = [
    ("Đồng Hới", 17.4690, 106.6000, 0.018, 0.30, ["18853", "18856", "18859", "18865", "18868", "18871", "18874", "18877", "18880"]),
    ("Đông Hà", 16.8163, 107.1003, 0.020, 0.14, ["461"]),
    ("Ba Đồn", 17.7550, 106.4230, 0.025, 0.07, ["458"]),
    ("Hoàn Lão (Bố Trạch)", 17.5950, 106.5300, 0.035, 0.07, ["455"]),
    ("Quán Hàu (Quảng Ninh)", 17.4030, 106.6300, 0.030, 0.05, ["456"]),
    ("Kiến Giang (Lệ Thủy)", 17.2230, 106.7900, 0.040, 0.05, ["457"]),
    ("Quảng Trị", 16.7500, 107.1900, 0.020, 0.05, ["462"]),
    ("Hồ Xá (Vĩnh Linh)", 17.0600, 107.0100, 0.030, 0.04, ["464"]),
    ("Khe Sanh (Hướng Hóa)", 16.6230, 106.7300, 0.030, 0.03, ["465"]),
    ("Đồng Lê (Tuyên Hóa)", 17.8800, 106.0200, 0.040, 0.03, ["453"]),
    ("Quy Đạt (Minh Hóa)", 17.7900, 105.9300, 0.040, 0.02, ["452"]),
    ("Quảng Trạch", 17.8300, 106.3700, 0.040, 0.03, ["454"]),
]
RURAL = 0.12                          # the rest: anywhere in the province's box
PROVINCE = (105.62, 16.28, 107.58, 18.06)  # west, south, east, north (services/intake/seed/province.geojson's extents)
CITY = (106.55, 17.42, 106.65, 17.52)      # Đồng Hới, ~0.1° x 0.1°
TOPIC_WEIGHTS = {"utilities-lighting": 12, "waste": 12, "littering": 10, "street-encroachment": 10, "transport-telecom-infra": 9,
                 "traffic-safety": 8, "pollution": 7, "illegal-construction": 6, "public-order": 5, "land-encroachment": 4,
                 "illegal-ads": 3, "food-safety": 2, "tourism-services": 2, "resource-extraction": 2, "disaster-epidemic": 2,
                 "social-evils": 2, "crime": 1, "other-misconduct": 2, "covid-violation": 0.2, "covid-fake-news": 0.2,
                 "covid-urgent-help": 0.1}
TITLES = ["Đèn đường hỏng", "Ổ gà trên đường", "Rác thải ven sông", "Cây xanh gãy đổ", "Nước ngập sau mưa", "Lấn chiếm vỉa hè",
          "Tiếng ồn công trình", "Cống thoát nước tắc", "Biển báo bị che khuất", "Khói bụi nhà máy", "Xây dựng không phép",
          "Nắp cống bị vỡ", "Quảng cáo sai quy định", "Tập kết rác sai nơi quy định", "Nước thải chảy tràn"]
STREETS = ["đường Lý Thường Kiệt", "đường Quang Trung", "đường Trần Hưng Đạo", "đường Hữu Nghị", "đường F325", "đường Lê Lợi",
           "đường Nguyễn Du", "đường Hùng Vương", "đường Phan Đình Phùng", "đường Tố Hữu", "đường Võ Nguyên Giáp"]
DESCRIPTIONS = ["Đề nghị cơ quan chức năng kiểm tra, xử lý sớm.", "Tình trạng kéo dài nhiều ngày, ảnh hưởng người dân đi lại.",
                "Người dân khu vực phản ánh nhiều lần nhưng chưa được khắc phục.", "Gây mất mỹ quan đô thị và nguy hiểm."]
ANSWER = "Đơn vị đã kiểm tra hiện trường và khắc phục xong; sẽ tiếp tục theo dõi, kiểm tra định kỳ."
# the public steps in order, and how long after the previous each comes (hours: low, high)
PATH = [("submitted", 0, 0), ("accepted", 1, 30), ("dispatched", 1, 24), ("assigned", 2, 48), ("in_progress", 2, 72),
        ("drafted", 24, 240), ("approved", 2, 48), ("published", 1, 20)]
YEARS = 3


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f}"


TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _jiffies(pid: int, children: bool = False) -> int:
    """utime + stime of a process (and, with children, the time of its children that have exited and been waited for)."""
    fields = _stat(pid)
    if len(fields) < 15:
        return 0
    return int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if children else 0)


class CpuMeter:
    """CPU time spent during a measurement by publication, PostgreSQL (all its processes: others' too), the edge, this
    client (wrk included when it runs), and the rest of the machine (anyone else's work)."""

    KINDS = ("publication", "postgres", "edge", "client", "rest")

    def __init__(self, info: dict):
        services = info["services"]
        self.publication = services["publication"]["pid"]
        self.edge = services["edge"]["pid"]

    def _sample(self) -> dict:
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:]]
        sample = dict.fromkeys(self.KINDS, 0)
        me = os.getpid()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            try:
                comm = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if pid == self.publication:
                sample["publication"] += _jiffies(pid)
            elif pid == self.edge:
                sample["edge"] += _jiffies(pid)
            elif pid == me:
                sample["client"] += _jiffies(pid, children=True)  # wrk too, once it has ended (a child of this process)
            elif comm == "wrk":
                sample["client"] += _jiffies(pid)
            elif comm == "postgres":
                # the postmaster also holds the time of its backends and parallel workers that have exited
                parent = _stat(pid)[1:2]
                postmaster = bool(parent) and (Path(f"/proc/{parent[0]}/comm").read_text().strip() != "postgres"
                                               if Path(f"/proc/{parent[0]}/comm").exists() else True)
                sample["postgres"] += _jiffies(pid, children=postmaster)
        sample["busy"] = sum(ticks) - ticks[3] - ticks[4]
        sample["all"] = sum(ticks)
        return sample

    def __enter__(self) -> "CpuMeter":
        self.before = self._sample()
        return self

    def __exit__(self, *exc) -> None:
        self.after = self._sample()

    def per_request(self, n: int) -> dict:
        d = {k: self.after[k] - self.before[k] for k in (*self.KINDS, "busy", "all")}
        d["rest"] = max(0, d["busy"] - sum(d[k] for k in self.KINDS if k != "rest"))
        return {k: d[k] * TICK_MS / max(1, n) for k in self.KINDS} | {"busy %": 100 * d["busy"] / max(1, d["all"])}


def cpu_text(cpu: dict) -> str:
    return "CPU ms/request: " + ", ".join(f"{k} {cpu[k]:.2f}" for k in CpuMeter.KINDS) + f"; machine busy {cpu['busy %']:.0f} %"


# --- the load ------------------------------------------------------------------------------------------------------

def topics_and_weights(codes: list[str]) -> tuple[list[str], list[float]]:
    known = [c for c in codes if c in TOPIC_WEIGHTS] or codes
    return known, [TOPIC_WEIGHTS.get(c, 1.0) for c in known]


def place(rnd: random.Random) -> tuple[float | None, float | None, str, str]:
    """lat, lon, area code, address of one report."""
    r = rnd.random()
    if r < 0.03:
        town = TOWNS[rnd.randrange(len(TOWNS))]
        return None, None, rnd.choice(town[5]), f"{rnd.choice(STREETS)}, {town[0]}"
    if r < 0.03 + RURAL:
        lat, lon = rnd.uniform(PROVINCE[1], PROVINCE[3]), rnd.uniform(PROVINCE[0], PROVINCE[2])
        town = min(TOWNS, key=lambda t: (t[1] - lat) ** 2 + (t[2] - lon) ** 2)
        return lat, lon, town[5][0] if len(town[5]) == 1 else "450", f"thôn {rnd.randint(1, 12)}, gần {town[0]}"
    pick, acc = rnd.random() * sum(t[4] for t in TOWNS), 0.0
    for town in TOWNS:
        acc += town[4]
        if pick <= acc:
            break
    lat = min(PROVINCE[3], max(PROVINCE[1], rnd.gauss(town[1], town[3])))
    lon = min(PROVINCE[2], max(PROVINCE[0], rnd.gauss(town[2], town[3])))
    return lat, lon, rnd.choice(town[5]), f"{rnd.randint(1, 300)} {rnd.choice(STREETS)}, {town[0]}"


def generate(n: int, topics: list[str], weights: list[float], now: datetime, seed: int = 7):
    """Yield (public_reports line, [timeline_entries lines]) for COPY (text format)."""
    from paht.runtime.text import fold

    rnd = random.Random(seed)
    span_s = YEARS * 365 * 86400
    cum = []
    acc = 0.0
    for w in weights:
        acc += w
        cum.append(acc)
    for i in range(n):
        # more reports recently: the age's density falls linearly to half at YEARS back
        while True:
            age = rnd.random() * span_s
            if rnd.random() < 1 - 0.5 * age / span_s:
                break
        received = now - timedelta(seconds=age)
        lat, lon, area, address = place(rnd)
        x = rnd.random() * acc
        topic = topics[next(k for k, c in enumerate(cum) if x <= c)]
        title = f"{rnd.choice(TITLES)} tại {address.split(',')[0]}"
        description = rnd.choice(DESCRIPTIONS)
        code = f"QT-{i:09d}"
        report_id = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
        private = rnd.random() < 0.03
        visibility = "reporter_only" if private else ("state_secret" if rnd.random() < 0.003 else "public")
        days = age / 86400
        # how far along: older reports are further (most published after ~3 weeks)
        r = rnd.random()
        if r < 0.025:
            final = "refused"
        elif r < 0.04:
            final = "cancelled"
        elif days < 2:
            final = PATH[min(len(PATH) - 1, int(rnd.random() * 3))][0]
        elif days < 30:
            final = PATH[min(len(PATH) - 1, 1 + int(rnd.random() * min(7, days / 3)))][0]
        else:
            final = "published" if rnd.random() < 0.93 else PATH[1 + rnd.randrange(6)][0]
        steps: list[tuple[str, datetime]] = []
        at = received
        for step, low, high in PATH:
            at = at + timedelta(hours=rnd.uniform(low, high)) if steps else at
            if at > now:
                break
            steps.append((step, at))
            if step == final:
                break
        if final in ("refused", "cancelled"):
            steps = [steps[0], (final, received + timedelta(hours=rnd.uniform(1, 47)))]
        status = steps[-1][0] if steps[-1][1] <= now else "submitted"
        published_at = steps[-1][1] if status == "published" else None
        lead_agency = "UBND " + address.split(", ")[-1] if len(steps) > 2 and final not in ("refused", "cancelled") else ""
        refusal = "Nội dung không thuộc phạm vi tiếp nhận." if status in ("refused", "cancelled") else ""

        def iso(t: datetime | None) -> str:
            return t.isoformat() if t else "\\N"

        row = "\t".join([
            report_id, code, title, description, topic, "\\N" if lat is None else f"{lat:.6f}", "\\N" if lon is None else f"{lon:.6f}",
            address, area, "t" if private else "f", "f", status, iso(received), lead_agency, "", ANSWER if published_at else "",
            iso(published_at), refusal, visibility, str(len(steps)), fold(" ".join((title, description, address, code))),
        ]) + "\n"
        timeline = [f"{uuid.UUID(int=rnd.getrandbits(128), version=4)}\t{report_id}\t{step}\t{iso(t)}\t\n" for step, t in steps]
        yield row, timeline


REPORT_COLUMNS = ("report_id, tracking_code, title, description, topic_code, lat, lon, address_text, area_code, private_result, "
                  "urgent, status, received_at, lead_agency_name, lead_unit_name, answer_text, published_at, refusal_text, "
                  "visibility, version, search_text")


def seed(engine, schema: str, n: int) -> float:
    """COPY n reports and their timelines into publication's tables; return the seconds it took (VACUUM ANALYZE too)."""
    from sqlalchemy import text

    with engine.connect() as conn:
        codes = [r[0] for r in conn.execute(text(f"SELECT code FROM {schema}.taxonomy_topics ORDER BY code"))]
    topics, weights = topics_and_weights(codes)
    began = time.perf_counter()
    now = datetime.now(timezone.utc)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        # the secondary indexes are built once after the load, as a restore would (minutes faster than row by row)
        cur.execute(f"SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = '{schema}' "
                    "AND tablename IN ('public_reports', 'timeline_entries') AND indexname NOT LIKE '%pkey'")
        indexes = cur.fetchall()
        for name, _ in indexes:
            cur.execute(f'DROP INDEX {schema}."{name}"')
        batch: list[str] = []
        with cur.copy(f"COPY {schema}.public_reports ({REPORT_COLUMNS}) FROM STDIN") as copy_reports:
            for row, timeline in generate(n, topics, weights, now):
                copy_reports.write(row)
                batch.extend(timeline)
        with cur.copy(f"COPY {schema}.timeline_entries (id, report_id, kind, at, note) FROM STDIN") as copy_timeline:
            for k in range(0, len(batch), 10_000):
                copy_timeline.write("".join(batch[k:k + 10_000]))
        for _, definition in indexes:
            cur.execute(definition)
        raw.commit()
    finally:
        raw.close()
    from services.publication.adapters import map_cells

    with engine.begin() as conn:  # written straight into the table: the map's cell counts are recounted, as the migration does
        conn.execute(text(f"SET LOCAL search_path TO {schema}"))
        map_cells.rebuild(conn)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"VACUUM ANALYZE {schema}.map_cells"))
        conn.execute(text(f"VACUUM ANALYZE {schema}.public_reports"))
        conn.execute(text(f"VACUUM ANALYZE {schema}.timeline_entries"))
    return time.perf_counter() - began


def shares(engine, schema: str) -> str:
    from sqlalchemy import text

    with engine.connect() as conn:
        total, listed, city = conn.execute(text(
            f"SELECT count(*), count(*) FILTER (WHERE visibility = 'public' AND status NOT IN ('submitted', 'refused', 'cancelled')), "
            f"count(*) FILTER (WHERE visibility = 'public' AND status NOT IN ('submitted', 'refused', 'cancelled') "
            f"AND lon BETWEEN {CITY[0]} AND {CITY[2]} AND lat BETWEEN {CITY[1]} AND {CITY[3]}) FROM {schema}.public_reports")).one()
        recent = conn.execute(text(f"SELECT count(*) FROM {schema}.public_reports WHERE received_at > now() - interval '90 days'")).scalar()
        lines = conn.execute(text(f"SELECT count(*) FROM {schema}.timeline_entries")).scalar()
    return (f"{total:,} reports ({listed:,} listed; {city:,} listed inside Đồng Hới's box; {recent:,} received in the last 90 days), "
            f"{lines:,} timeline entries")


# --- measuring -----------------------------------------------------------------------------------------------------

def closed_loop(http: httpx.Client, meter: CpuMeter, urls: list[str], headers: dict | None = None) -> dict:
    http.get(urls[0], headers=headers)  # warm
    times, sizes, statuses = [], [], set()
    with meter:
        for url in urls:
            began = time.perf_counter()
            r = http.get(url, headers=headers)
            times.append((time.perf_counter() - began) * 1000)
            sizes.append(len(r.content))
            statuses.add(r.status_code)
    return {"p50": pct(times, 50), "p95": pct(times, 95), "cpu": meter.per_request(len(urls)), "bytes": sum(sizes) / len(sizes),
            "statuses": sorted(statuses), "last": r}


def explain(engine, schema: str) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the SQL publication runs for the list's first page and the city's map."""
    from sqlalchemy import text
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.orm import Session

    from services.publication.adapters.repositories import SqlPublicReports
    from services.publication.domain.portal import BBox, ReportFilter

    captured: list[str] = []

    class Recording(Session):
        def execute(self, statement, *a, **k):
            captured.append(str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})))
            return super().execute(statement, *a, **k)

    with Recording(engine) as session:
        session.execute(text(f"SET search_path TO {schema}"))
        captured.clear()
        repo = SqlPublicReports(session)
        for label, call in (("list, first page", lambda: repo.search(ReportFilter(), 20, 0)),
                            ("map, Đồng Hới", lambda: repo.on_map(ReportFilter(), BBox(*CITY))),
                            ("map, Đồng Hới, a group", lambda: repo.on_map(ReportFilter(group="services-environment"), BBox(*CITY)))):
            captured.clear()
            call()
            for sql in list(captured):
                plan = session.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + sql)).scalars().all()
                print(f"\n  -- {label}: {sql[:160]}…\n" + "\n".join("     " + line for line in plan))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reports", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--seconds", type=int, default=10, help="wrk's duration")
    ap.add_argument("--explain", action="store_true")
    ap.add_argument("--reuse", default="", help="the tag of a load kept with KEEP=1: measure it again without seeding")
    ap.add_argument("--only", default="", help="comma-separated names of measurements to run (list, map, open311)")
    args = ap.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgresql") or not os.environ.get("NATS_URL"):
        print("This bench needs PostgreSQL and NATS: set DATABASE_URL=postgresql+psycopg://… and NATS_URL=nats://…", file=sys.stderr)
        return 2
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install -y wrk)", file=sys.stderr)
        return 2
    from sqlalchemy import create_engine, text

    from paht.runtime.db import schema_for, url_for
    from paht.runtime.settings import Settings

    only = set(filter(None, args.only.split(",")))
    tag = args.reuse or "b" + uuid.uuid4().hex[:8]
    tmp = Path(tempfile.mkdtemp(prefix="paht-bench-portal-"))
    data = tmp / "data"
    print(f"machine: {os.cpu_count()} cores, {load()}, pace {machine_pace():.0f} ms; PAHT node/schema prefix {tag}; data {data}")
    t = time.perf_counter()
    running = start_paht(data, backend_env("external", tag) | {"PAHT_REPLICAS": "intake=1"}, timeout=900)  # migrations of a kept load
    print(f"PAHT up in {time.perf_counter() - t:.1f} s at {running.url}")
    engine = None
    try:
        settings = Settings(data=data, db_schema_prefix=f"{tag}_", node_id=tag)
        schema = schema_for(settings, "publication")
        engine = create_engine(url_for(settings, "publication"), connect_args={"application_name": "paht-bench"})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # dispatch's seed publishes the taxonomy: publication's copy names the topics
            with engine.connect() as conn:
                if conn.execute(text(f"SELECT count(*) FROM {schema}.taxonomy_topics")).scalar():
                    break
            time.sleep(0.5)
        if not args.reuse:
            took = seed(engine, schema, args.reports)
            print(f"seeded in {took:.0f} s")
        print(shares(engine, schema))
        if args.explain:
            explain(engine, schema)

        rnd = random.Random(1)
        meter = CpuMeter(running.run_info())
        n = args.requests
        group_of = {}
        with engine.connect() as conn:
            for code, group in conn.execute(text(f"SELECT code, group_code FROM {schema}.taxonomy_topics")):
                group_of[code] = group
        groups = sorted(set(group_of.values()))
        common_group = group_of.get("waste", groups[0])

        def city_box() -> str:
            dx, dy = rnd.uniform(-0.01, 0.01), rnd.uniform(-0.01, 0.01)
            return f"{CITY[0] + dx:.5f},{CITY[1] + dy:.5f},{CITY[2] + dx:.5f},{CITY[3] + dy:.5f}"

        def street_box() -> str:
            lon, lat = rnd.uniform(106.59, 106.63), rnd.uniform(17.45, 17.49)
            return f"{lon:.5f},{lat:.5f},{lon + 0.005:.5f},{lat + 0.004:.5f}"

        today = datetime.now(timezone.utc).date()
        def fresh(url: str) -> str:  # a URL never asked before: the answer is made, not taken from the kept ones
            return url + ("&" if "?" in url else "?") + f"_={rnd.getrandbits(48)}"

        few = max(5, n // 10)
        measurements = [
            ("list", "a. list, first page (goal p95 < 50 ms)", lambda: fresh(API), n),
            ("list", "a. list, first page, the same URL again (kept)", lambda: API, n),
            ("list", "a. list, second page", lambda: fresh(f"{API}?offset=20"), n),
            ("list", "a. list, a group", lambda: fresh(f"{API}?group={rnd.choice(groups)}"), n),
            ("list", "a. list, status + area (Đồng Hới ward)", lambda: fresh(f"{API}?status=in_progress&area={rnd.choice(TOWNS[0][5])}"), n),
            ("list", "a. list, last 30 days", lambda: fresh(f"{API}?from={today - timedelta(days=30)}&to={today}"), n),
            ("list", "a. list, ?q=duong (common word, no diacritics)", lambda: fresh(f"{API}?q=duong"), n),
            ("list", "a. list, ?q=<a tracking code> (rare: a scan)", lambda: fresh(f"{API}?q=QT-{rnd.randrange(args.reports):09d}"), few),
            ("map", "b. map, Đồng Hới ~0.1° (goal p95 < 100 ms)", lambda: fresh(f"{API}.geojson?bbox={city_box()}"), n),
            ("map", "b. map, Đồng Hới, a group", lambda: fresh(f"{API}.geojson?bbox={city_box()}&group={common_group}"), n),
            ("map", "b. map, Đồng Hới, ?q=den (search)", lambda: fresh(f"{API}.geojson?bbox={city_box()}&q=den"), n),
            ("map", "b. map, the whole province",
             lambda: fresh(f"{API}.geojson?bbox={PROVINCE[0]},{PROVINCE[1]},{PROVINCE[2]},{PROVINCE[3]}"), n),
            ("map", "b. map, a few streets (points)", lambda: fresh(f"{API}.geojson?bbox={street_box()}"), n),
            ("open311", "c. Open311 requests.json, default page, 1 client", lambda: fresh("/open311/v2/requests.json"), few),
            ("open311", "c. the same URL again (kept)", lambda: "/open311/v2/requests.json", n),
        ]
        results = {}
        with httpx.Client(base_url=running.url, timeout=60) as http:
            print(f"\none kept-alive client through the edge, {n} requests each ({few} for the slow ones) [{load()}, pace {machine_pace():.0f} ms];"
                  " each URL new (?_=<n>) unless marked kept:")
            for kind, label, make, count in measurements:
                if only and kind not in only:
                    continue
                res = closed_loop(http, meter, [make() for _ in range(count)])
                results[label] = res
                extra = ""
                body = res["last"]
                if body.headers.get("content-type", "").startswith("application/geo+json"):
                    doc = body.json()
                    extra = f"; {len(doc['features'])} features, clustered={doc['clustered']}"
                elif kind == "list":
                    doc = body.json()
                    extra = f"; total {doc.get('total')}" + (f" ({doc.get('total_is')})" if doc.get("total_is") else "")
                print(f"  {label:<52} p50 {res['p50']:6.1f}  p95 {res['p95']:6.1f} ms  {res['bytes'] / 1024:6.1f} KB{extra}  "
                      f"status {res['statuses']}\n      {cpu_text(res['cpu'])}")
            if not only or "open311" in only:
                url = f"{running.url}/open311/v2/requests.json"
                print(f"\nwrk -t2 -c8 -d{args.seconds}s through the edge [{load()}, pace {machine_pace():.0f} ms]:")
                with meter:
                    res = wrk(url, args.seconds)
                cpu = meter.per_request(res["requests"])
                print(f"  c. Open311 requests.json, default page: {res['per_s']:.0f} requests/s, p50 {res['50%']:.1f} ms, p99 {res['99%']:.1f} ms, "
                      f"non-2xx/3xx {res['non_2xx']}\n      {cpu_text(cpu)}")
                etag = http.get("/open311/v2/requests.json").headers.get("etag")
                if etag:
                    with meter:
                        res = wrk(url, args.seconds, headers={"If-None-Match": etag})
                    cpu = meter.per_request(res["requests"])
                    print(f"  c. the same, If-None-Match (304): {res['per_s']:.0f} requests/s, p50 {res['50%']:.1f} ms, p99 {res['99%']:.1f} ms\n"
                          f"      {cpu_text(cpu)}")
                with meter:
                    res = wrk(f"{running.url}{API}", args.seconds)
                cpu = meter.per_request(res["requests"])
                print(f"  a. list, first page (no goal in requests/s): {res['per_s']:.0f} requests/s, p50 {res['50%']:.1f} ms, p99 {res['99%']:.1f} ms\n"
                      f"      {cpu_text(cpu)}")
        print(f"\n[{load()}, pace {machine_pace():.0f} ms]")
    finally:
        if engine is not None:
            engine.dispose()
        stop_paht(running)
        if os.environ.get("KEEP") == "1":
            print(f"kept: --reuse {tag}")
        else:
            cleanup_backend("external", tag)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
