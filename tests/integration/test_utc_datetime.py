"""Item 23: timestamps read back in UTC whatever the database session's time zone is."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, event, insert, select

from paht.runtime import db

pytestmark = pytest.mark.integration

HANOI = timezone(timedelta(hours=7))


def test_a_stored_time_reads_back_in_utc_when_the_session_is_in_vietnam_time(settings):
    engine = db.make_engine(settings, "intake")
    if engine.dialect.name == "postgresql":
        @event.listens_for(engine, "connect")
        def _vietnam_session(dbapi_conn, _record):
            with dbapi_conn.cursor() as cur:
                cur.execute("SET TIME ZONE 'Asia/Ho_Chi_Minh'")
            dbapi_conn.commit()

    db.ensure_schema(engine, db.schema_for(settings, "intake"))
    table = Table("clock_probe", MetaData(), Column("id", Integer, primary_key=True), Column("at", db.UtcDateTime()))
    table.create(engine)
    stored = datetime(2025, 3, 4, 20, 15, tzinfo=HANOI)  # 13:15 UTC
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                assert conn.exec_driver_sql("SHOW TIME ZONE").scalar() == "Asia/Ho_Chi_Minh"
            conn.execute(insert(table).values(id=1, at=stored))
        with engine.connect() as conn:
            read = conn.execute(select(table.c.at)).scalar_one()
        assert read.utcoffset() == timedelta(0)
        assert read == stored and read.hour == 13
    finally:
        table.drop(engine)
        engine.dispose()
