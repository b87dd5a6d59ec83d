"""Step 2's tables: one dispatch item per accepted report, its rounds (one per lead agency it was sent to),
and its escalations to the Steering Committee."""
from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Float, Integer, String, Table, Text, false
from sqlalchemy.orm import foreign, registry, relationship

from paht.runtime.db import UtcDateTime
from services.dispatch.adapters.schema import metadata
from services.dispatch.domain.dispatching import DispatchItem, DispatchRound
from services.dispatch.domain.steering import Escalation

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
    Column("location_lat", Float, nullable=True),
    Column("location_lon", Float, nullable=True),
    Column("area_code", String(20), nullable=False),
    Column("title", String(300), nullable=False, server_default=""),
    Column("reporter_kind", String(20), nullable=False, server_default="person"),
    Column("private_result", Boolean, nullable=False, server_default=false()),
    Column("state_secret", Boolean, nullable=False, server_default=false()),
    Column("clock_started_at", UtcDateTime(), nullable=False),
    # what the report says, as accepted at step 1, carried on to the lead agency (and shown on the step-2 console)
    Column("tracking_code", String(20), nullable=False, server_default=""),
    Column("description", Text, nullable=False, server_default=""),
    Column("address_text", String(300), nullable=False, server_default=""),
    Column("media", JSON, nullable=False, server_default="[]"),  # [{id, media_type, url, size_bytes, sha256}]
)

dispatch_rounds = Table(
    "dispatch_rounds",
    metadata,
    Column("report_id", String(36), primary_key=True),  # no database foreign key: see below
    Column("round", Integer, primary_key=True, autoincrement=False),
    Column("agency_id", String(80), nullable=False, index=True),
    Column("agency_name", String(300), nullable=False),
    Column("hub_node", String(40), nullable=False),
    Column("dispatched_at", UtcDateTime(), nullable=False),
    Column("dispatched_by", String(100), nullable=False),
    Column("note", Text, nullable=False),
    Column("competence_reason", Text, nullable=False),
    Column("designated_by_committee", Boolean, nullable=False),
    Column("decision", Text, nullable=False),
    Column("on_time", Boolean, nullable=False),
    Column("refused_at", UtcDateTime(), nullable=True),
    Column("refusal_reason", Text, nullable=False),
)

dispatch_escalations = Table(
    "dispatch_escalations",
    metadata,
    Column("report_id", String(36), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("round", Integer, nullable=False),
    Column("escalated_at", UtcDateTime(), nullable=False),
    Column("escalated_by", String(100), nullable=False),
    Column("reason", Text, nullable=False),
    Column("candidates", JSON, nullable=False),
    Column("state", String(20), nullable=False, index=True),
    Column("closed_at", UtcDateTime(), nullable=True),
    Column("closed_by", String(100), nullable=False),
    Column("decision", Text, nullable=False),
    Column("agency_id", String(80), nullable=False),
)

# Rounds and escalations belong to their item through the mapping, not a database foreign key: SQLite alters a
# table by rebuilding it (batch migrations), and dropping the old dispatch_items would cascade to these rows.
_mapper = registry()
_mapper.map_imperatively(DispatchRound, dispatch_rounds)
_mapper.map_imperatively(Escalation, dispatch_escalations)
_mapper.map_imperatively(
    DispatchItem, dispatch_items, version_id_col=dispatch_items.c.version, version_id_generator=False,
    properties={
        # loaded with the item (one more query per page of items), kept in order, written with it
        "rounds": relationship(DispatchRound, primaryjoin=dispatch_items.c.report_id == foreign(dispatch_rounds.c.report_id),
                               order_by=dispatch_rounds.c.round, lazy="selectin", cascade="all, delete-orphan"),
        "escalations": relationship(Escalation, primaryjoin=dispatch_items.c.report_id == foreign(dispatch_escalations.c.report_id),
                                    order_by=dispatch_escalations.c.seq, lazy="selectin", cascade="all, delete-orphan"),
    },
)
