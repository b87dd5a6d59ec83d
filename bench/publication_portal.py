"""Benchmark the public portal's two reads on PostgreSQL: the first list page and a city viewport's GeoJSON.

Run: DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
     .venv/bin/python bench/publication_portal.py [--reports 1000000] [--requests 200]
PostgreSQL only (without DATABASE_URL it says so and stops). Prints figures; asserts nothing.
Goals: with 1,000,000 published reports, the list's first page p95 < 50 ms, a city viewport's GeoJSON p95 < 100 ms.

How: publication's schema is migrated into a throw-away schema (<tag>_publication); N public reports are written
straight into public_reports with COPY (spread over the province, a quarter of them inside Đồng Hới's box, 12 topics
in 3 groups, 20 areas, five years of received_at, ~1 % not listed), then VACUUM ANALYZE. The requests go in-process
through publication's own FastAPI app (starlette's TestClient: routing, validation, the use case, the SQL and the
JSON, without the edge and its socket). Measured, each --requests times:
  a. GET /api/publication/v1/reports (the home page's query, first page, 20 items);
  b. the same with ?group= (a group's topics, via the taxonomy copy) and with ?q=duong (search without diacritics);
  c. GET …/reports.geojson?bbox=<Đồng Hới, varied a little> (above 2,000 matches: the 48 x 48 grid clusters);
  d. a zoomed-in box (a few streets: points).
The schema is dropped at the end (KEEP=1 keeps it).
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORDS = ["Đèn đường hỏng", "Ổ gà trên đường", "Rác thải ven sông", "Cây xanh gãy đổ", "Nước ngập sau mưa", "Lấn chiếm vỉa hè",
         "Tiếng ồn công trình", "Cống thoát nước tắc", "Biển báo bị che khuất", "Khói bụi nhà máy"]
STATUSES = ["accepted", "dispatched", "assigned", "in_progress", "drafted", "approved", "published", "published", "published"]
CITY = (106.55, 17.40, 106.70, 17.52)  # Đồng Hới
PROVINCE = (105.6, 16.0, 107.4, 18.1)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def rows(n: int):
    from paht.runtime.text import fold

    rnd = random.Random(7)
    t0 = datetime.now(timezone.utc)
    for i in range(n):
        box = CITY if i % 4 == 0 else PROVINCE
        lat, lon = rnd.uniform(box[1], box[3]), rnd.uniform(box[0], box[2])
        title = f"{rnd.choice(WORDS)} số {i}"
        received = t0 - timedelta(seconds=rnd.randint(0, 5 * 365 * 86400))
        status = "submitted" if i % 100 == 0 else rnd.choice(STATUSES)
        code = f"QB-{i:09d}"
        yield "\t".join([str(uuid.UUID(int=rnd.getrandbits(128))), code, title, "Mô tả ngắn", f"t{i % 12}", f"{lat:.6f}", f"{lon:.6f}",
                         "Đồng Hới", f"{18800 + i % 20}", "f", "f", status, received.isoformat(), "", "", "", "", "public", "0",
                         fold(" ".join((title, "Mô tả ngắn", "Đồng Hới", code)))]) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reports", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgresql"):
        print("This bench needs PostgreSQL: set DATABASE_URL=postgresql+psycopg://…")
        return
    from fastapi.testclient import TestClient
    from sqlalchemy import text

    from paht.dispatch.v1 import directory_pb2
    from paht.dispatch.v1 import events_pb2 as dispatch_ev
    from paht.runtime.events.envelope import Envelope
    from paht.runtime.ids import TAXONOMY_ID
    from services.publication import bootstrap
    from tests.conftest import _drop_schemas
    from tests.support.services import deliver, migrated_context, test_settings

    tag = "b" + uuid.uuid4().hex[:8]
    settings = test_settings(Path(tempfile.mkdtemp()), db_schema_prefix=f"{tag}_", node_id=tag)
    ctx = migrated_context(bootstrap.SPEC, settings)
    try:
        topics = [directory_pb2.Topic(code=f"t{i}", name=f"Lĩnh vực {i}", group_code=f"g{i % 3}", group_name=f"Nhóm {i % 3}") for i in range(12)]
        event = dispatch_ev.TaxonomyPublished(revision=1, topics=topics)
        event.meta.report_id, event.meta.report_version = TAXONOMY_ID, 1
        deliver(ctx, Envelope.for_event(event, node_id=tag, service="dispatch", report_id=TAXONOMY_ID, version=1,
                                        time=datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")))
        t = time.perf_counter()
        raw = ctx.engine.raw_connection()
        try:
            cur = raw.cursor()
            schema = f"{tag}_publication"
            cols = ("report_id, tracking_code, title, description, topic_code, lat, lon, address_text, area_code, private_result, urgent, "
                    "status, received_at, lead_agency_name, lead_unit_name, answer_text, refusal_text, visibility, version, search_text")
            written = 0
            with cur.copy(f"COPY {schema}.public_reports ({cols}) FROM STDIN") as copy:
                for line in rows(args.reports):
                    copy.write(line)
                    written += 1
            raw.commit()
        finally:
            raw.close()
        with ctx.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"VACUUM ANALYZE {tag}_publication.public_reports"))
        print(f"seeded {written:,} reports in {time.perf_counter() - t:.1f} s")

        client = TestClient(bootstrap.build_http(ctx))
        rnd = random.Random(1)

        def measure(name: str, goal: str, make_url) -> None:
            client.get(make_url())  # warm
            times = []
            for _ in range(args.requests):
                url = make_url()
                t0 = time.perf_counter()
                r = client.get(url)
                times.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200, r.text[:300]
            print(f"{name:<46} p50 {pct(times, 50):7.1f} ms  p95 {pct(times, 95):7.1f} ms   (goal {goal})")

        api = "/api/publication/v1/reports"

        def city_box() -> str:
            dx, dy = rnd.uniform(-0.01, 0.01), rnd.uniform(-0.01, 0.01)
            return f"{CITY[0] + dx},{CITY[1] + dy},{CITY[2] + dx},{CITY[3] + dy}"

        def street_box() -> str:
            lon, lat = rnd.uniform(CITY[0], CITY[2] - 0.005), rnd.uniform(CITY[1], CITY[3] - 0.004)
            return f"{lon},{lat},{lon + 0.005},{lat + 0.004}"

        measure("list, first page", "p95 < 50 ms", lambda: api)
        measure("list, a group's first page", "-", lambda: f"{api}?group=g{rnd.randint(0, 2)}")
        measure("list, ?q=duong (no diacritics)", "-", lambda: f"{api}?q=duong")
        measure("list, ?q=<a rare word> (scan)", "-", lambda: f"{api}?q=so+{rnd.randint(0, args.reports)}")
        measure("geojson, city viewport (grid clusters)", "p95 < 100 ms", lambda: f"{api}.geojson?bbox={city_box()}")
        measure("geojson, a few streets (points)", "-", lambda: f"{api}.geojson?bbox={street_box()}")
        body = client.get(f"{api}.geojson?bbox={city_box()}").json()
        print(f"city viewport: clustered={body['clustered']}, {len(body['features'])} features")
    finally:
        ctx.engine.dispose()
        if os.environ.get("KEEP") != "1":
            _drop_schemas(f"{tag}_")
        else:
            print(f"kept schema {tag}_publication")


if __name__ == "__main__":
    main()
