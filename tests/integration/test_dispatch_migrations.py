"""Dispatch's data migrations: rows written under the old vocabulary read under the new one."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import text

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
                conn.execute(text("INSERT INTO dispatch_items (report_id, status, received_at, urgent, topic_code, group_code, dispatch_due,"
                                  " lead_agency_id, round, note, version) VALUES (:rid, :status, :received_at, :urgent, :topic_code,"
                                  " :group_code, :dispatch_due, :lead_agency_id, :round, :note, :version)"),
                             {"rid": rid, "status": status, **row})
        migrations.upgrade(SPEC.migrations, settings, "dispatch", SPEC.metadata)
        with engine.connect() as conn:
            statuses = dict(conn.execute(text("SELECT report_id, status FROM dispatch_items")).all())
        assert statuses == {"r-refused": "refused_by_agency", "r-waiting": "awaiting_dispatch"}
    finally:
        engine.dispose()
