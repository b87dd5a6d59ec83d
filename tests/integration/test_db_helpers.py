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
