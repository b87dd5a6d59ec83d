"""Stored cases keep their meaning when the three "returned" states get their own names (migration 81a6deb48c0c)."""
from __future__ import annotations

from datetime import datetime, timezone

from alembic import command
from sqlalchemy import text

from paht.runtime import db, migrations
from services.handling import bootstrap

BEFORE, SPLIT = "1180537c8175", "81a6deb48c0c"
T = datetime(2025, 3, 10, 8, 0, tzinfo=timezone.utc)


def _case(conn, rid: str, status: str, return_reason: str, due: datetime | None) -> None:
    conn.execute(text(
        "INSERT INTO cases (report_id, status, lead_agency_id, lead_agency_name, lead_unit_id, lead_unit_name, staff_subject, round, epoch,"
        " handling_due, draft_id, answer_text, edited_by_leader, agency_refusal_reason, unit_refusal_reason, return_reason, updated_at, version)"
        " VALUES (:rid, :status, 'so-gtvt', 'Sở GTVT', 'so-gtvt-kcht', 'Phòng KCHT', 'canbo', 1, 0, :due, 'd-1', 'Đã vá ổ gà xong.', :f,"
        " '', '', :reason, :t, 3)"), {"rid": rid, "status": status, "reason": return_reason, "due": due, "t": T, "f": False})


def _event(conn, rid: str, n: int, kind: str) -> None:
    conn.execute(text(
        "INSERT INTO outbox (event_id, subject, ce_type, report_id, report_version, payload, headers, created_at)"
        " VALUES (:id, 's', :type, :rid, :n, :p, '{}', :t)"), {"id": f"{rid}-{n}", "type": f"paht.handling.v1.{kind}", "rid": rid, "n": n, "p": b"", "t": T})


def test_stored_returns_are_named_apart_and_every_case_gets_a_deadline(settings):
    spec = bootstrap.SPEC
    migrations.upgrade(spec.migrations, settings, "handling", spec.metadata, BEFORE)
    engine = db.make_engine(settings, "handling")
    try:
        with engine.begin() as conn:
            _case(conn, "leader", "in_progress", "Bổ sung hình ảnh", T)
            _event(conn, "leader", 4, "ResultReturned")
            _case(conn, "ioc", "in_progress", "Cần nêu rõ thời gian", T)
            _event(conn, "ioc", 4, "ResultReturned")
            _event(conn, "ioc", 6, "ResultApproved")
            _case(conn, "purged", "in_progress", "Bổ sung", None)  # its outbox rows are gone
            _case(conn, "redrafted", "drafted", "Cần nêu rõ", T)
            _event(conn, "redrafted", 6, "ResultApproved")
            _case(conn, "plain", "in_progress", "", T)
        migrations.upgrade(spec.migrations, settings, "handling", spec.metadata, SPLIT)
        with engine.connect() as conn:
            rows = {r.report_id: r for r in conn.execute(text(
                "SELECT report_id, status, leader_return_reason, ioc_return_reason, handling_due FROM cases")).all()}
        assert (rows["leader"].status, rows["leader"].leader_return_reason, rows["leader"].ioc_return_reason) == ("returned_to_staff", "Bổ sung hình ảnh", "")
        assert (rows["ioc"].status, rows["ioc"].leader_return_reason, rows["ioc"].ioc_return_reason) == ("returned_by_ioc", "", "Cần nêu rõ thời gian")
        assert (rows["purged"].status, rows["purged"].leader_return_reason) == ("returned_to_staff", "Bổ sung")
        assert rows["purged"].handling_due is not None
        assert (rows["redrafted"].status, rows["redrafted"].ioc_return_reason) == ("drafted", "Cần nêu rõ")
        assert (rows["plain"].status, rows["plain"].leader_return_reason, rows["plain"].ioc_return_reason) == ("in_progress", "", "")

        cfg = migrations.alembic_config(spec.migrations, settings, "handling", spec.metadata)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, BEFORE)
        with engine.connect() as conn:
            back = {r.report_id: (r.status, r.return_reason) for r in conn.execute(text("SELECT report_id, status, return_reason FROM cases")).all()}
        assert back["leader"] == ("in_progress", "Bổ sung hình ảnh") and back["ioc"] == ("in_progress", "Cần nêu rõ thời gian")
        assert back["redrafted"] == ("drafted", "Cần nêu rõ") and back["plain"] == ("in_progress", "")
    finally:
        engine.dispose()
