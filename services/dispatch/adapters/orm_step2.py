"""Step 2's tables: one dispatch item per accepted report."""
from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Integer, String, Table, Text
from sqlalchemy.orm import registry

from paht.runtime.db import UtcDateTime
from services.dispatch.adapters.schema import metadata
from services.dispatch.domain.dispatching import DispatchItem

dispatch_items = Table(
    "dispatch_items",
    metadata,
    Column("report_id", String(36), primary_key=True),
    Column("status", String(30), nullable=False, index=True),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("urgent", Boolean, nullable=False),
    Column("topic_code", String(60), nullable=False),
    Column("group_code", String(60), nullable=False),
    Column("dispatch_due", UtcDateTime(), nullable=False),
    Column("lead_agency_id", String(80), nullable=False),
    Column("round", Integer, nullable=False),
    Column("note", Text, nullable=False),
    Column("version", BigInteger, nullable=False),
)

_mapper = registry()
_mapper.map_imperatively(DispatchItem, dispatch_items, version_id_col=dispatch_items.c.version, version_id_generator=False)
