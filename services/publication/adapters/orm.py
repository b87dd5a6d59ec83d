"""Publication's tables (the public read model), mapped onto the domain classes without the domain knowing."""
from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Date, Float, Integer, MetaData, String, Table, Text
from sqlalchemy.orm import registry

from paht.runtime.db import UtcDateTime
from paht.runtime.events.tables import add_event_tables
from services.publication.domain.public_report import PublicReport, TimelineEntry

metadata = MetaData()
event_tables = add_event_tables(metadata)

public_reports = Table(
    "public_reports",
    metadata,
    Column("report_id", String(36), primary_key=True),
    # Not unique: rows made from another producer's early event have no code until intake's arrives.
    Column("tracking_code", String(20), nullable=False, index=True),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("topic_code", String(60), nullable=False),
    Column("lat", Float, nullable=True),
    Column("lon", Float, nullable=True),
    Column("address_text", String(300), nullable=False),
    Column("area_code", String(20), nullable=False),
    Column("private_result", Boolean, nullable=False),
    Column("urgent", Boolean, nullable=False),
    Column("status", String(20), nullable=False, index=True),
    Column("received_at", UtcDateTime(), nullable=True, index=True),
    Column("lead_agency_name", String(300), nullable=False),
    Column("lead_unit_name", String(300), nullable=False),
    Column("answer_text", Text, nullable=False),
    Column("approved_at", UtcDateTime(), nullable=True),  # set with the approved answer: the step 8 queue's order
    Column("published_at", UtcDateTime(), nullable=True),
    Column("refusal_text", Text, nullable=False),
    Column("visibility", String(20), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("publish_due", UtcDateTime(), nullable=True),
)

timeline_entries = Table(
    "timeline_entries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("report_id", String(36), nullable=False, index=True),
    Column("kind", String(40), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("note", Text, nullable=False),
)

# Publication's copy of dispatch's taxonomy (TaxonomyPublished replaces it whole): Open311's services.
service_topics = Table(
    "service_topics",
    metadata,
    Column("code", String(60), primary_key=True),
    Column("name", String(300), nullable=False),
    Column("group_code", String(60), nullable=False),
    Column("group_name", String(300), nullable=False),
    Column("valid_from", Date, nullable=True),   # Vietnamese calendar days; None: always
    Column("valid_to", Date, nullable=True),     # exclusive; None: open
    Column("keywords", JSON, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("copied_at", UtcDateTime(), nullable=False),
)

_mapper = registry()
_mapper.map_imperatively(PublicReport, public_reports, version_id_col=public_reports.c.version, version_id_generator=False)
_mapper.map_imperatively(TimelineEntry, timeline_entries)
