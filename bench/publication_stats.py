"""Benchmark the statistics (the IOC's and the Steering Committee's page, API and exports) on PostgreSQL.

Run: DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
     .venv/bin/python bench/publication_stats.py [--reports 1000000] [--requests 20] [--years 3]
PostgreSQL only (without DATABASE_URL it says so and stops). Prints figures; asserts nothing.
Goal: with 1,000,000 published reports, one year's statistics page in < 1 s.

How: publication's schema is migrated into a throw-away schema (<tag>_publication). N reports spread over the last
--years years (so one year holds about N / years of them) are written with COPY into public_reports, with their
facts (report_stats), ratings and the per-day rollup (stats_days, stats_durations) computed by the read model's own
functions (domain/stats.py facts_of and Delta: the rows the read model would have written one event at a time);
then VACUUM ANALYZE. Of the reports, 97 % are published, 1 % refused or cancelled and 2 % still open (received in
the last 30 days, some late); 35 % of the published ones are rated. 21 topics in 5 groups, 150 areas, 5 channels and
60 lead agencies, each drawn with a skew (a few are most of the reports), the agency following the topic or the area.
Step times are drawn from log-normal laws around the procedure's deadlines.

The requests go in-process through publication's own FastAPI app (starlette's TestClient: routing, the auth check,
the use case, the SQL, the JSON or the page, without the edge's socket), each --requests times:
  a. GET /api/publication/v1/stats for the last 365 days (from the rollup);
  b. GET /publication/stats, the same year as the page (SVG charts, tables);
  c. the year's CSV and XLSX exports;
  d. the year filtered by channel=web (~40 % of the reports), by one lead agency, by one topic (read from report_stats);
  e. the three years (the longest period allowed) unfiltered;
  f. the monthly report of last month.
The schema is dropped at the end (KEEP=1 keeps it).
"""
from __future__ import annotations

import argparse
import io
import math
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHANNELS = [("web", 40), ("app", 35), ("call_center", 15), ("partner_app", 7), ("open311", 3)]
SCORES = [("satisfied", 60), ("acceptable", 28), ("unsatisfied", 12)]
TOPICS = 21
AREAS = 150
DEPARTMENTS = 12   # agencies that lead by topic
COMMUNES = 48      # local People's Committees that lead by area


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def zipf(n: int, s: float = 1.0) -> list[float]:
    return [1 / (i + 1) ** s for i in range(n)]


def lognormal(rnd: random.Random, median_s: float, spread: float = 0.9) -> timedelta:
    return timedelta(seconds=median_s * math.exp(rnd.gauss(0, spread)))


def esc(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value).replace("\\", "\\\\").replace("\t", " ").replace("\n", " ")


class Seeder:
    """Draws the reports and keeps what the read model would have written for them."""

    REPORT_COLUMNS = ("report_id", "tracking_code", "title", "description", "topic_code", "lat", "lon", "address_text", "area_code",
                      "private_result", "urgent", "status", "received_at", "lead_agency_name", "lead_unit_name", "answer_text", "approved_at",
                      "published_at", "refusal_text", "visibility", "version", "publish_due", "dispatched_at", "dispatch_due", "agency_due",
                      "handling_due", "drafted_at", "approval_due", "reporter_ref", "search_text", "channel", "lead_agency_id",
                      "accepted_at", "unit_assigned_at", "handled_at", "leader_approved_at")

    def __init__(self, n: int, years: int, now: datetime):
        from services.publication.domain.stats import Delta

        self.n, self.years, self.now = n, years, now
        self.rnd = random.Random(7)
        self.delta = Delta()
        self.topic_w, self.area_w = zipf(TOPICS), zipf(AREAS, 0.8)
        self.dept_w, self.commune_w = zipf(DEPARTMENTS, 0.7), zipf(COMMUNES, 0.7)

    def agency(self, topic: int, area: int) -> tuple[str, str]:
        if self.rnd.random() < 0.6:
            dept = topic % DEPARTMENTS
            return f"so-{dept:02d}", f"Sở {dept:02d}"
        commune = area % COMMUNES
        return f"ubnd-{commune:02d}", f"UBND xã {commune:02d}"

    def one(self, i: int):
        """(public_reports row, facts row or None, rating row or None) of report i."""
        from services.publication.adapters.stats import row_of
        from services.publication.domain.stats import facts_of

        rnd = self.rnd
        span = self.years * 365 * 86400
        kind = rnd.random()
        if kind < 0.97:
            status = "published"
        elif kind < 0.98:
            status = "refused" if kind < 0.975 else "cancelled"
        else:
            status = None  # still open
        # published ones at least 10 days ago (their steps all done by now), open ones in the last 30 days
        received = self.now - timedelta(seconds=rnd.uniform(0, 30 * 86400) if status is None else rnd.uniform(10 * 86400, span))
        topic = rnd.choices(range(TOPICS), self.topic_w)[0]
        area = rnd.choices(range(AREAS), self.area_w)[0]
        channel = rnd.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0]
        agency_id, agency_name = self.agency(topic, area)
        r = SimpleNamespace(report_id=str(uuid.UUID(int=rnd.getrandbits(128))), status=status or "accepted", received_at=received,
                            topic_code=f"t{topic:02d}", area_code=f"{18800 + area}", channel=channel, lead_agency_id="", lead_agency_name="",
                            accepted_at=None, dispatched_at=None, dispatch_due=None, agency_due=None, handling_due=None, unit_assigned_at=None,
                            handled_at=None, drafted_at=None, approval_due=None, leader_approved_at=None, approved_at=None, publish_due=None,
                            published_at=None)
        stages = 7 if status == "published" else 0 if status in ("refused", "cancelled") else rnd.randint(1, 6)
        t = received
        if stages >= 1:
            r.accepted_at = t = t + lognormal(rnd, 900)
        if stages >= 2:
            r.dispatch_due = received + timedelta(hours=1)
            r.dispatched_at = t = t + lognormal(rnd, 1200)
            r.lead_agency_id, r.lead_agency_name = agency_id, agency_name
            r.agency_due, r.handling_due = t + timedelta(hours=1), t + timedelta(days=5)
            r.status = "dispatched"
        if stages >= 3:
            r.unit_assigned_at = t + lognormal(rnd, 2400)
            r.status = "assigned"
        if stages >= 4:
            r.drafted_at = r.handled_at = r.dispatched_at + lognormal(rnd, 2 * 86400, 0.7)
            r.approval_due = r.drafted_at + timedelta(days=1)
            r.status = "drafted"
        if stages >= 5:
            r.approved_at = r.leader_approved_at = r.drafted_at + lognormal(rnd, 5 * 3600)
            r.publish_due = r.approved_at + timedelta(hours=1)
            r.status = "approved"
        if stages >= 7:
            r.published_at = r.approved_at + lognormal(rnd, 1800)
            r.status = "published"
        times = ("received_at", "accepted_at", "dispatched_at", "dispatch_due", "agency_due", "handling_due", "unit_assigned_at", "handled_at",
                 "drafted_at", "approval_due", "leader_approved_at", "approved_at", "publish_due", "published_at")
        if r.published_at is not None and r.published_at > self.now:  # a long one: it came in earlier
            shift = r.published_at - self.now + timedelta(hours=1)
            for name in times:
                if getattr(r, name) is not None:
                    setattr(r, name, getattr(r, name) - shift)
        for name in times[1:]:
            if getattr(r, name) is not None and getattr(r, name) > self.now and not name.endswith("_due"):  # an open report: not yet
                setattr(r, name, None)
        score = ""
        if status == "published" and rnd.random() < 0.35:
            score = rnd.choices([s for s, _ in SCORES], [w for _, w in SCORES])[0]
        facts = facts_of(r, score)
        self.delta.add(facts, +1)
        title = f"Phản ánh số {i} về lĩnh vực t{topic:02d}"
        row = [r.report_id, f"QB-{i:09d}", title, "Mô tả ngắn gọn sự việc tại hiện trường, kèm vị trí. " * 3, r.topic_code,
               f"{rnd.uniform(16.0, 18.1):.6f}", f"{rnd.uniform(105.6, 107.4):.6f}", "Số 1 đường Quang Trung", r.area_code, False, False,
               r.status, r.received_at, r.lead_agency_name, "Phòng chuyên môn" if r.unit_assigned_at else "",
               "Kính gửi Quý cá nhân: đã xử lý xong. Trân trọng." if r.approved_at else "", r.approved_at, r.published_at,
               "Không đủ điều kiện" if status in ("refused", "cancelled") else "", "public", 1, r.publish_due, r.dispatched_at, r.dispatch_due,
               r.agency_due, r.handling_due, r.drafted_at, r.approval_due, "", title.lower(), r.channel, r.lead_agency_id, r.accepted_at,
               r.unit_assigned_at, r.handled_at, r.leader_approved_at]
        rating = [r.report_id, score, "", r.published_at + timedelta(days=1), None, 0] if score else None
        return row, row_of(facts), rating


def copy(cur, table: str, columns, rows) -> int:
    n = 0
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as out:
        buffer = io.StringIO()
        for row in rows:
            buffer.write("\t".join(esc(v) for v in row) + "\n")
            n += 1
            if n % 5000 == 0:
                out.write(buffer.getvalue())
                buffer = io.StringIO()
        out.write(buffer.getvalue())
    return n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reports", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--years", type=int, default=3)
    args = ap.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgresql"):
        print("This bench needs PostgreSQL: set DATABASE_URL=postgresql+psycopg://…")
        return
    from fastapi.testclient import TestClient
    from sqlalchemy import text

    from paht.dispatch.v1 import directory_pb2
    from paht.dispatch.v1 import events_pb2 as dispatch_ev
    from paht.runtime.events.envelope import Envelope
    from paht.runtime.ids import DIRECTORY_ID, TAXONOMY_ID
    from paht.runtime.sla import VN
    from services.publication import bootstrap
    from services.publication.adapters.orm import report_stats
    from services.publication.domain.stats import MEASURES
    from tests.conftest import _drop_schemas
    from tests.support.services import deliver, migrated_context, test_settings, token_for

    tag = "b" + uuid.uuid4().hex[:8]
    settings = test_settings(Path(tempfile.mkdtemp()), db_schema_prefix=f"{tag}_", node_id=tag)
    ctx = migrated_context(bootstrap.SPEC, settings)
    schema = f"{tag}_publication"
    now = datetime.now(timezone.utc)
    try:
        def snapshot(event, aggregate):
            event.meta.report_id, event.meta.report_version = aggregate, 1
            return Envelope.for_event(event, node_id=tag, service="dispatch", report_id=aggregate, version=1,
                                      time=now.isoformat().replace("+00:00", "Z"))

        topics = [directory_pb2.Topic(code=f"t{i:02d}", name=f"Lĩnh vực {i:02d}", group_code=f"g{i % 5}", group_name=f"Nhóm {i % 5}")
                  for i in range(TOPICS)]
        deliver(ctx, snapshot(dispatch_ev.TaxonomyPublished(revision=1, topics=topics), TAXONOMY_ID))
        units = [directory_pb2.OrgUnit(id=f"so-{d:02d}", code=f"S{d:02d}", kind="department", name=f"Sở {d:02d}", can_lead=True)
                 for d in range(DEPARTMENTS)]
        units += [directory_pb2.OrgUnit(id=f"ubnd-{c:02d}", code=f"{18800 + c}", kind="commune", name=f"UBND xã {c:02d}", can_lead=True)
                  for c in range(COMMUNES)]
        units += [directory_pb2.OrgUnit(id=f"area-{a}", code=f"{18800 + a}", kind="commune", name=f"Xã {a:03d}") for a in range(AREAS)]
        deliver(ctx, snapshot(dispatch_ev.DirectoryPublished(revision=1, units=units), DIRECTORY_ID))

        t = time.perf_counter()
        seeder = Seeder(args.reports, args.years, now)
        raw = ctx.engine.raw_connection()
        try:
            cur = raw.cursor()
            ratings = []
            columns = [c.name for c in report_stats.columns]
            facts_file = tempfile.TemporaryFile("w+", encoding="utf-8")

            def reports():
                for i in range(args.reports):
                    row, facts, rating = seeder.one(i)
                    facts_file.write("\t".join(esc(facts[c]) for c in columns) + "\n")
                    if rating:
                        ratings.append(rating)
                    yield row

            written = copy(cur, f"{schema}.public_reports", Seeder.REPORT_COLUMNS, reports())
            facts_file.seek(0)
            with cur.copy(f"COPY {schema}.report_stats ({', '.join(columns)}) FROM STDIN") as out:
                while chunk := facts_file.read(1 << 20):
                    out.write(chunk)
            facts_file.close()
            copy(cur, f"{schema}.report_ratings", ("report_id", "score", "comment", "rated_at", "changed_at", "changes"), ratings)
            days, durations = seeder.delta.rows()
            copy(cur, f"{schema}.stats_days", ("dim", "day", "code", *MEASURES), ([dim, day, code, *v] for (day, dim, code), v in days))
            copy(cur, f"{schema}.stats_durations", ("step", "day", "bucket", "reports"), ([s, day, b, n] for (day, s, b), n in durations))
            raw.commit()
        finally:
            raw.close()
        seeded = time.perf_counter() - t
        with ctx.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in ("public_reports", "report_stats", "report_ratings", "stats_days", "stats_durations"):
                conn.execute(text(f"VACUUM ANALYZE {schema}.{table}"))
            sizes = {table: conn.execute(text(f"SELECT count(*), pg_total_relation_size('{schema}.{table}') FROM {schema}.{table}")).one()
                     for table in ("public_reports", "report_stats", "stats_days", "stats_durations")}
        print(f"seeded {written:,} reports over {args.years} years in {seeded:.0f} s (with VACUUM ANALYZE {time.perf_counter() - t:.0f} s)")
        for table, (rows, size) in sizes.items():
            print(f"  {table:<16} {rows:>10,} rows  {size / 2**20:8.1f} MiB")

        client = TestClient(bootstrap.build_http(ctx))
        headers = {"Authorization": f"Bearer {token_for(settings, 'ioc1', ['ioc_operator'], 'ioc-tinh')}"}
        cookies = {"paht_token": token_for(settings, "bcd", ["steering_member"], "ban-chi-dao")}
        today = now.astimezone(VN).date()
        year = {"from": (today - timedelta(days=364)).isoformat(), "to": today.isoformat()}
        longest = {"from": (today - timedelta(days=3 * 365)).isoformat(), "to": today.isoformat()}
        last_month = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
        big_agency = "so-00"

        def measure(name: str, path: str, params: dict, page: bool = False) -> None:
            kw = {"cookies": cookies} if page else {"headers": headers}
            r = client.get(path, params=params, **kw)  # warm
            assert r.status_code == 200, r.text[:300]
            times = []
            for _ in range(args.requests):
                t0 = time.perf_counter()
                r = client.get(path, params=params, **kw)
                times.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200, r.text[:300]
            extra = f"  {len(r.content) / 1024:6.0f} KiB"
            print(f"{name:<48} p50 {pct(times, 50):7.1f} ms  p95 {pct(times, 95):7.1f} ms{extra}")

        api = "/api/publication/v1/stats"
        print(f"requests: {args.requests} each (after one to warm up); in-process, this machine ({os.cpu_count()} cores)")
        measure("a. API, one year (rollup)", api, year)
        measure("b. page /publication/stats, one year", "/publication/stats", year, page=True)
        measure("c. CSV export, one year", api + ".csv", year)
        measure("c. XLSX export, one year", api + ".xlsx", year)
        measure("d. API, one year, channel=web (facts)", api, {**year, "channel": "web"})
        measure(f"d. API, one year, agency={big_agency} (facts)", api, {**year, "agency": big_agency})
        measure("d. API, one year, topic=t05 (facts)", api, {**year, "topic": "t05"})
        measure("e. API, three years (rollup)", api, longest)
        measure(f"f. monthly report {last_month}", "/publication/stats/monthly", {"month": last_month}, page=True)
        v = client.get(api, params=year, headers=headers).json()
        print(f"one year: {v['totals']['received']:,} reports received, {v['overdue']['total']:,} overdue now, "
              f"{len(v['by_area'])} areas, {len(v['agencies'])} agencies")
    finally:
        ctx.engine.dispose()
        if os.environ.get("KEEP") != "1":
            _drop_schemas(f"{tag}_")
        else:
            print(f"kept schema {schema}")


if __name__ == "__main__":
    main()
