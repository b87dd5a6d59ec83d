"""The shared database helpers for many rows at once, on the backend under test (PostgreSQL in CI, SQLite here):
`among` (one array parameter on PostgreSQL) and `set_many` (one UPDATE … FROM unnest on PostgreSQL)."""
from __future__ import annotations

import pytest
from sqlalchemy import BigInteger, Column, MetaData, String, Table, select

from paht.runtime import db

pytestmark = pytest.mark.integration


@pytest.fixture
def table(settings):
    engine = db.make_engine(settings, "helpers")
    db.ensure_schema(engine, db.schema_for(settings, "helpers"))
    metadata = MetaData()
    t = Table("counters", metadata, Column("owner", String(20), primary_key=True), Column("key", String(50), primary_key=True),
              Column("version", BigInteger, nullable=False))
    metadata.create_all(engine)
    yield engine, t
    metadata.drop_all(engine)
    engine.dispose()


def test_among_and_set_many_touch_exactly_the_rows_named(table):
    engine, t = table
    sessions = db.session_factory(engine)
    with sessions() as s:
        s.execute(t.insert(), [{"owner": o, "key": f"k{i}", "version": i} for o in ("a", "b") for i in range(5)])
        s.commit()
    with sessions() as s:
        db.set_many(s, t, "key", "version", {"k1": 10, "k3": 30, "missing": 99}, owner="a")
        db.set_many(s, t, "key", "version", {})  # nothing to do: no statement
        s.commit()
    with sessions() as s:
        rows = dict(((o, k), v) for o, k, v in s.execute(select(t.c.owner, t.c.key, t.c.version)))
        assert rows[("a", "k1")] == 10 and rows[("a", "k3")] == 30
        assert rows[("b", "k1")] == 1 and rows[("a", "k2")] == 2, "other owners' rows and other keys stay"
        assert ("a", "missing") not in rows
        found = s.execute(select(t.c.key).where(t.c.owner == "a", db.among(s, t.c.key, ["k1", "k4", "nope"]))).scalars().all()
        assert sorted(found) == ["k1", "k4"]
        assert s.execute(select(t.c.key).where(db.among(s, t.c.key, []))).first() is None


def test_upsert_adds_replaces_or_leaves_the_stored_row_and_binds_values_by_the_columns_types(settings):
    from datetime import datetime, timezone

    from sqlalchemy import Float, Integer

    engine = db.make_engine(settings, "helpers")
    db.ensure_schema(engine, db.schema_for(settings, "helpers"))
    metadata = MetaData()
    t = Table("tallies", metadata, Column("key", String(20), primary_key=True), Column("count", Integer, nullable=False),
              Column("total", Float, nullable=False), Column("seen_at", db.UtcDateTime(), nullable=True))
    metadata.create_all(engine)
    try:
        at = datetime(2026, 12, 6, 3, 4, 5, 600000, tzinfo=timezone.utc)
        adding = db.upsert(t, ("key", "count", "total", "seen_at"), ("key",), add=("count", "total"), returning=("count",))
        assert adding is db.upsert(t, ("key", "count", "total", "seen_at"), ("key",), add=("count", "total"), returning=("count",))
        assert adding._generate_cache_key() is not None  # SQLAlchemy keeps its compiled form: not compiled per execution
        with engine.begin() as conn:
            assert conn.execute(adding, {"key": "a", "count": 2, "total": 1.5, "seen_at": at}).scalar_one() == 2
            assert conn.execute(adding, {"key": "a", "count": 3, "total": 1.0, "seen_at": None}).scalar_one() == 5
            conn.execute(db.upsert(t, ("key", "count", "total", "seen_at"), ("key",), add=("count",)),
                         [{"key": "b", "count": 1, "total": 0.0, "seen_at": at}, {"key": "b", "count": 4, "total": 0.0, "seen_at": at}])
            conn.execute(db.upsert(t, ("key", "count", "total", "seen_at"), ("key",), replace=("total",)),
                         {"key": "a", "count": 99, "total": 7.25, "seen_at": at})
            conn.execute(db.upsert(t, ("key", "count", "total", "seen_at"), ("key",)),  # neither: DO NOTHING
                         {"key": "b", "count": 99, "total": 99.0, "seen_at": None})
        with engine.connect() as conn:
            rows = {r.key: (r.count, r.total, r.seen_at) for r in conn.execute(select(t))}
        assert rows == {"a": (5, 7.25, at), "b": (5, 0.0, at)}
    finally:
        metadata.drop_all(engine)
        engine.dispose()


def test_a_reading_unit_of_work_neither_waits_for_a_writer_nor_commits(settings):
    """ctx.reads(): pages and lists read while a writer holds the database (on SQLite a writer holds the writers' gate
    and its lock from BEGIN to COMMIT; a read used to queue behind it), and a reading unit can never write."""
    import threading
    import time

    from services.publication import bootstrap
    from tests.support.services import migrated_context

    ctx = migrated_context(bootstrap.SPEC, settings)
    try:
        writing, release = threading.Event(), threading.Event()

        def writer():
            with ctx.uow() as uow:
                uow.session.execute(select(1))  # the transaction has begun: on SQLite BEGIN IMMEDIATE, the gate held
                writing.set()
                release.wait(10)
                uow.commit()

        thread = threading.Thread(target=writer)
        thread.start()
        assert writing.wait(10)
        started = time.monotonic()
        with ctx.reads() as uow:
            assert uow.reports.get("no-such-report") is None
        waited = time.monotonic() - started
        release.set()
        thread.join(10)
        assert waited < 5, f"the read waited {waited:.1f} s for the writer"
        with pytest.raises(RuntimeError, match="cannot commit"):
            with ctx.reads() as uow:
                uow.commit()
    finally:
        ctx.engine.dispose()
