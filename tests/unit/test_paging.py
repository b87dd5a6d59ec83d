"""Keyset work lists: every row once, in order (urgent first, then deadline, then id), whatever the page size."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st
from sqlalchemy import Boolean, Column, MetaData, String, Table, create_engine, insert, select

from paht.runtime.db import UtcDateTime
from paht.runtime.errors import InvalidInput
from paht.runtime.paging import SortKey, decode_cursor, encode_cursor, fetch_page

metadata = MetaData()
items = Table("items", metadata, Column("id", String(10), primary_key=True), Column("urgent", Boolean, nullable=False),
              Column("due", UtcDateTime(), nullable=False))
KEYS = [SortKey(items.c.urgent, descending=True, kind="bool"), SortKey(items.c.due, kind="datetime"), SortKey(items.c.id)]
T0 = datetime(2026, 11, 28, 1, 0, tzinfo=timezone.utc)


class Row:
    def __init__(self, r):
        self.id, self.urgent, self.due = r.id, r.urgent, r.due


class Session:
    """Just enough of a session for fetch_page over a Core table (scalars() gives row objects)."""

    def __init__(self, conn):
        self.conn = conn

    def execute(self, q):
        result = self.conn.execute(q)

        class R:
            def scalar_one(self):
                return result.scalar_one()

            def scalars(self):
                return [Row(r) for r in result]

        return R()


rows = st.lists(st.tuples(st.booleans(), st.integers(0, 5)), min_size=0, max_size=40)


@settings(max_examples=60, deadline=None)
@given(data=rows, limit=st.integers(1, 7))
def test_pages_cover_every_row_once_in_work_list_order(data, limit):
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as conn:
        for n, (urgent, minutes) in enumerate(data):
            conn.execute(insert(items).values(id=f"r{n:03d}", urgent=urgent, due=T0 + timedelta(minutes=minutes)))
        session = Session(conn)
        query = select(items)
        seen, cursor, pages = [], None, 0
        while True:
            page = fetch_page(session, query, KEYS, cursor, limit)
            assert page.total == len(data) and len(page.items) <= limit
            seen += [(not r.urgent, r.due, r.id) for r in page.items]
            pages += 1
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == sorted(seen) and len(seen) == len(set(seen)) == len(data)
        assert pages == max(1, -(-len(data) // limit))


def test_a_forged_cursor_is_a_clear_error():
    with pytest.raises(InvalidInput):
        decode_cursor("not-base64-json", KEYS)
    with pytest.raises(InvalidInput):
        decode_cursor(encode_cursor(["yes", T0, "r1"]), KEYS)  # wrong type for "urgent"
    assert decode_cursor(encode_cursor([True, T0, "r1"]), KEYS) == [True, T0, "r1"]


def test_a_cursor_smuggling_control_characters_is_refused():
    """A NUL inside a cursor would reach PostgreSQL (which cannot store it) as a query value."""
    with pytest.raises(InvalidInput):
        decode_cursor(encode_cursor([True, T0, "r\x001"]), KEYS)
