"""One person, one reporter row: under concurrent first submissions, and when migrating a database that has duplicates."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from sqlalchemy import func, select

from paht.runtime import migrations
from paht.runtime.host import build_context
from services.intake.adapters.orm import contact_audit, reporters, reports
from services.intake.bootstrap import SPEC, build_http
from services.intake.service_layer import submission
from tests.support.reporters import reporter_session
from tests.support.live_server import live_server
from tests.support.services import migrated_context
from tests.support.taxonomy import FakeTaxonomy

pytestmark = pytest.mark.integration

THREADS, EACH = 8, 25
REPORT = {
    "reporter": {"name": "Hoàng Văn Nam", "phone": "0905 111 222", "email": "Nam@Example.vn"},
    "title": "Đèn tín hiệu giao thông hỏng ở ngã tư",
    "description": "Đèn tín hiệu ở ngã tư Quang Trung – Lý Thường Kiệt tắt từ sáng, xe cộ đi lại lộn xộn.",
    "address_text": "Ngã tư Quang Trung – Lý Thường Kiệt, Đồng Hới",
    "acknowledged": True,
}


def count(ctx, table) -> int:
    with ctx.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_concurrent_first_submissions_by_one_person_make_one_reporter_and_never_lock_them_out(settings):
    ctx = migrated_context(SPEC, settings)
    start = threading.Barrier(THREADS)
    statuses: list[int] = []
    lock = threading.Lock()

    signed_in = reporter_session(ctx, "0905111222")

    def citizen(url: str) -> None:
        # its own connection per client: real concurrent requests, each its own transaction
        with httpx.Client(base_url=url, timeout=60, headers=signed_in) as http:
            start.wait()
            for _ in range(EACH):
                code = http.post("/api/intake/v1/reports", json=REPORT).status_code
                with lock:
                    statuses.append(code)

    try:
        with live_server(build_http(ctx, FakeTaxonomy())) as url:
            workers = [threading.Thread(target=citizen, args=(url,)) for _ in range(THREADS)]
            for w in workers:
                w.start()
            for w in workers:
                w.join(timeout=300)
        assert statuses == [201] * (THREADS * EACH)
        assert count(ctx, reporters) == 1 and count(ctx, reports) == THREADS * EACH
    finally:
        ctx.engine.dispose()


def test_the_migration_merges_duplicate_reporters_into_the_oldest_and_keeps_every_report(settings):
    before_unique = "e53cac78e48d"  # the revision before reporters became unique by (phone, email)
    migrations.upgrade(SPEC.migrations, settings, SPEC.name, SPEC.metadata, before_unique)
    ctx = build_context(SPEC, settings)
    t0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
    person = {"name": "Hoàng Văn Nam", "phone": "0905111222", "email": "nam@example.vn"}
    rows = [("p-newer", person, t0 + timedelta(minutes=2)), ("p-oldest", person, t0), ("p-middle", person, t0 + timedelta(minutes=1)),
            ("p-other", {**person, "email": "khac@example.vn"}, t0)]
    report = {"channel": "web", "title": "Đèn hỏng", "description": "Đèn tín hiệu tắt.", "topic_code": "", "group_code": "", "lat": None,
              "lon": None, "address_text": "", "area_code": "", "private_result": False, "urgent": False, "status": "submitted",
              "received_at": t0, "decision_note": "", "refusal_reason": "", "version": 1}
    try:
        with ctx.engine.begin() as conn:
            for rid, who, at in rows:
                conn.execute(reporters.insert().values(id=rid, created_at=at, **who))
                conn.execute(reports.insert().values(id=f"r-{rid}", tracking_code=f"QB-{rid[-4:].upper()}", reporter_id=rid, **report))
            conn.execute(contact_audit.insert().values(id="a1", report_id="r-p-newer", reporter_id="p-newer", staff_subject="ioc",
                                                       staff_org_unit="ioc-tinh", purpose="Gọi xác minh", released_at=t0))
        migrations.upgrade(SPEC.migrations, settings, SPEC.name, SPEC.metadata)
        with ctx.engine.connect() as conn:
            assert sorted(conn.execute(select(reporters.c.id)).scalars()) == ["p-oldest", "p-other"]
            owners = dict(conn.execute(select(reports.c.id, reports.c.reporter_id)).all())
            assert owners == {"r-p-newer": "p-oldest", "r-p-oldest": "p-oldest", "r-p-middle": "p-oldest", "r-p-other": "p-other"}
            assert conn.execute(select(contact_audit.c.reporter_id)).scalar_one() == "p-oldest"
        # and that person can submit again: the report joins the merged row
        cmd = submission.SubmitReport(name="Nam", phone="0905 111 222", email="NAM@example.vn", title="Đèn tín hiệu lại hỏng",
                                      description="Đèn tín hiệu ở ngã tư lại tắt từ tối qua.", address_text="Ngã tư Quang Trung, Đồng Hới")
        assert submission.submit_report(ctx.uow(), FakeTaxonomy(), cmd).report.reporter_id == "p-oldest"
    finally:
        ctx.engine.dispose()
