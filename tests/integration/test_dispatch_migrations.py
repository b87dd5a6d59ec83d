"""Dispatch's data migrations: rows written under the old vocabulary read under the new one."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text

from paht.runtime import db, migrations
from services.dispatch.bootstrap import SPEC

pytestmark = pytest.mark.integration
BEFORE_VOCABULARY = "4ea982494249"  # dead letters: the last revision that knew "returned"


def test_returned_items_become_refused_by_agency(settings):
    migrations.upgrade(SPEC.migrations, settings, "dispatch", SPEC.metadata, revision=BEFORE_VOCABULARY)
    engine = db.make_engine(settings, "dispatch")
    now = datetime.now(timezone.utc)
    row = {"received_at": now, "urgent": False, "topic_code": "t", "group_code": "g", "dispatch_due": now, "lead_agency_id": "",
           "round": 1, "note": "", "version": 1}
    try:
        with engine.begin() as conn:
            for rid, status in (("r-refused", "returned"), ("r-waiting", "awaiting_dispatch")):
                conn.execute(text("INSERT INTO dispatch_items (report_id, status, received_at, urgent, topic_code, group_code,"
                                  " dispatch_due, lead_agency_id, round, note, version) VALUES (:rid, :status, :received_at, :urgent,"
                                  " :topic_code, :group_code, :dispatch_due, :lead_agency_id, :round, :note, :version)"),
                             {"rid": rid, "status": status, **row})
        migrations.upgrade(SPEC.migrations, settings, "dispatch", SPEC.metadata)
        with engine.connect() as conn:
            statuses = dict(conn.execute(text("SELECT report_id, status FROM dispatch_items")).all())
        assert statuses == {"r-refused": "refused_by_agency", "r-waiting": "awaiting_dispatch"}
    finally:
        engine.dispose()


BEFORE_STEP2 = "6a0000000001"  # the versioned directory: the last revision without rounds and escalations


def test_step2_keeps_existing_items_and_rebuilds_their_rounds(settings):
    """Items written before rounds were kept: their clock start, and one round per dispatch still known."""
    from paht.dispatch.v1 import events_pb2 as ev

    migrations.upgrade(SPEC.migrations, settings, "dispatch", SPEC.metadata, revision=BEFORE_STEP2)
    engine = db.make_engine(settings, "dispatch")
    arrival = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)        # 09:00 in Vietnam
    refused_at = datetime(2026, 3, 2, 4, 0, tzinfo=timezone.utc)     # 11:00: the refused item's clock restarted then
    sent_at = datetime(2026, 3, 2, 2, 30, tzinfo=timezone.utc)
    rows = [
        ("r-waiting", "awaiting_dispatch", arrival + timedelta(hours=1), "", 0),
        ("r-sent", "dispatched", arrival + timedelta(hours=1), "so-gtvt", 1),          # its event is still in the outbox
        ("r-pruned", "dispatched", arrival + timedelta(hours=1), "so-xd", 2),          # its events were pruned
        ("r-refused", "refused_by_agency", refused_at + timedelta(hours=1), "", 1),    # its event is still in the outbox
    ]
    event = ev.ReportDispatched(round=1, hub_node="", note="Gấp", on_time=True)
    event.lead_agency.id, event.lead_agency.name = "so-gtvt", "Sở Giao thông vận tải"
    event.meta.occurred_at.FromDatetime(sent_at)
    event.meta.actor.subject = "ioc"
    try:
        with engine.begin() as conn:
            for rid, status, due, agency, rnd in rows:
                conn.execute(text("INSERT INTO dispatch_items (report_id, status, received_at, urgent, topic_code, group_code,"
                                  " dispatch_due, lead_agency_id, round, note, version) VALUES (:rid, :status, :received_at, :urgent,"
                                  " 't', 'g', :due, :agency, :rnd, '', :rnd)"),
                             {"rid": rid, "status": status, "received_at": arrival, "urgent": False, "due": due, "agency": agency,
                              "rnd": rnd})
            for rid in ("r-sent", "r-refused"):
                conn.execute(text("INSERT INTO outbox (event_id, subject, ce_type, report_id, report_version, payload, headers, created_at)"
                                  " VALUES (:eid, 's', 'paht.dispatch.v1.ReportDispatched', :rid, 1, :payload, '{}', :at)"),
                             {"eid": f"e-{rid}", "rid": rid, "payload": event.SerializeToString(), "at": sent_at})
        migrations.upgrade(SPEC.migrations, settings, "dispatch", SPEC.metadata)
        from services.dispatch.adapters import orm_step2

        with engine.connect() as conn:
            items = {r.report_id: r for r in conn.execute(orm_step2.dispatch_items.select())}
            rounds = {(r.report_id, r.round): r for r in conn.execute(orm_step2.dispatch_rounds.select())}
        assert {rid: (i.clock_started_at, i.area_code, i.location_lat) for rid, i in items.items()} == {
            "r-waiting": (arrival, "", None), "r-sent": (arrival, "", None), "r-pruned": (arrival, "", None),
            "r-refused": (refused_at, "", None)}
        assert set(rounds) == {("r-sent", 1), ("r-pruned", 2), ("r-refused", 1)}
        sent = rounds[("r-sent", 1)]
        assert (sent.agency_id, sent.agency_name, sent.dispatched_at, sent.dispatched_by, sent.note, sent.refused_at) == (
            "so-gtvt", "Sở Giao thông vận tải", sent_at, "ioc", "Gấp", None)
        pruned = rounds[("r-pruned", 2)]
        assert (pruned.agency_id, pruned.dispatched_at, pruned.dispatched_by) == ("so-xd", arrival, "")
        refused = rounds[("r-refused", 1)]
        assert (refused.agency_id, refused.refused_at, refused.refusal_reason) == ("so-gtvt", refused_at, "")
    finally:
        engine.dispose()


BEFORE_FACTS, FACTS = "5b2d62e05f33", "c89e873a1695"  # keywords of topics; then who reports, private result, state secret


def test_items_accepted_before_the_handling_facts_read_as_a_person_public_and_not_secret(settings):
    """Items from before c89e873a1695 did not know who reports: a person, as intake's default, and nothing private or secret."""
    from alembic import command

    from services.dispatch.adapters import orm_step2

    migrations.upgrade(SPEC.migrations, settings, "dispatch", SPEC.metadata, revision=BEFORE_FACTS)
    engine = db.make_engine(settings, "dispatch")
    now = datetime.now(timezone.utc)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO dispatch_items (report_id, status, received_at, urgent, topic_code, group_code, dispatch_due,"
                              " lead_agency_id, round, note, version, area_code, title, clock_started_at) VALUES ('r-old',"
                              " 'awaiting_dispatch', :now, :urgent, 't', 'g', :now, '', 0, '', 1, '', 'Ổ gà trên đường Lý Thường Kiệt', :now)"),
                         {"now": now, "urgent": False})
        migrations.upgrade(SPEC.migrations, settings, "dispatch", SPEC.metadata, revision=FACTS)
        with engine.connect() as conn:
            t = orm_step2.dispatch_items.c  # only the columns that revision has (later ones add more)
            (item,) = conn.execute(select(t.title, t.reporter_kind, t.private_result, t.state_secret)).all()
        assert (item.title, item.reporter_kind, item.private_result, item.state_secret) == (
            "Ổ gà trên đường Lý Thường Kiệt", "person", False, False)

        cfg = migrations.alembic_config(SPEC.migrations, settings, "dispatch", SPEC.metadata)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, BEFORE_FACTS)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT report_id, title FROM dispatch_items")).all() == [("r-old", "Ổ gà trên đường Lý Thường Kiệt")]
    finally:
        engine.dispose()
