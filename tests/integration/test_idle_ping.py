"""A pooled database connection that was cut while idle (PostgreSQL restarted, a firewall's timeout) is checked and
replaced before anyone uses it (paht.runtime.db: only a connection idle for a while is checked)."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from paht.runtime import db

pytestmark = pytest.mark.integration


def test_a_connection_cut_while_idle_is_replaced_before_use(settings, monkeypatch):
    monkeypatch.setattr(db, "IDLE_PING_S", 0.2)
    engine = db.make_engine(settings, "intake")
    if engine.dialect.name == "sqlite":
        db._ping_when_idle(engine)  # the same check; on SQLite the "cut" below is a connection closed behind the pool's back

    def cut(raw) -> None:
        if engine.dialect.name == "postgresql":
            with db.make_engine(settings, "intake").connect() as other:  # another session ends ours, as a restart would
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": raw.info.backend_pid})
                other.commit()
        else:
            raw.close()

    with engine.connect() as conn:
        first = conn.connection.dbapi_connection
        conn.execute(text("SELECT 1"))
        conn.rollback()
    cut(first)  # back in the pool, idle, and cut
    time.sleep(0.3)  # idle longer than IDLE_PING_S
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 41 + 1")).scalar() == 42  # not an error: the cut connection was replaced
        assert conn.connection.dbapi_connection is not first
    engine.dispose()


def test_a_checked_connection_is_handed_out_outside_a_transaction(settings, monkeypatch):
    """The check's SELECT 1 leaves no transaction open: the caller may still choose its isolation level."""
    monkeypatch.setattr(db, "IDLE_PING_S", 0.0)
    engine = db.make_engine(settings, "intake")
    if engine.dialect.name == "sqlite":
        db._ping_when_idle(engine)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        conn.rollback()
    time.sleep(0.05)
    isolation = "REPEATABLE READ" if engine.dialect.name == "postgresql" else "SERIALIZABLE"
    with engine.connect().execution_options(isolation_level=isolation) as conn:
        assert conn.execute(text("SELECT 2")).scalar() == 2
    engine.dispose()
