"""Intake's tables, mapped onto the domain classes without the domain knowing."""
from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Date, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text
from sqlalchemy.orm import registry

from paht.runtime.db import UtcDateTime
from paht.runtime.events.tables import add_event_tables
from services.intake.domain.report import Report, Reporter

metadata = MetaData()
event_tables = add_event_tables(metadata)

reporters = Table(
    "reporters",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("phone", String(20), nullable=False),
    Column("email", String(254), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    # one person, one row: concurrent first submissions find each other (look-up-or-create);
    # a unique index rather than a constraint, so SQLite adds it without rebuilding the table
    Index("uq_reporters_phone_email", "phone", "email", unique=True),
)

reports = Table(
    "reports",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tracking_code", String(20), nullable=False, unique=True),
    Column("reporter_id", String(36), ForeignKey("reporters.id"), nullable=False, index=True),
    Column("channel", String(20), nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("topic_code", String(60), nullable=False),
    Column("group_code", String(60), nullable=False),
    Column("lat", Float, nullable=True),
    Column("lon", Float, nullable=True),
    Column("address_text", String(300), nullable=False),
    Column("area_code", String(20), nullable=False),
    Column("private_result", Boolean, nullable=False),
    Column("urgent", Boolean, nullable=False),
    Column("status", String(20), nullable=False, index=True),
    Column("received_at", UtcDateTime(), nullable=False, index=True),
    Column("decision_note", Text, nullable=False),
    Column("refusal_reason", String(40), nullable=False),
    Column("version", BigInteger, nullable=False),
)

# Every release of a reporter's contact: who, when, why.
contact_audit = Table(
    "contact_audit",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("report_id", String(36), nullable=False, index=True),
    Column("reporter_id", String(36), nullable=False),
    Column("staff_subject", String(100), nullable=False),
    Column("staff_org_unit", String(100), nullable=False),
    Column("purpose", String(300), nullable=False),
    Column("released_at", UtcDateTime(), nullable=False),
)

# intake's copy of dispatch's taxonomy: topics are checked against it when dispatch does not answer
taxonomy_topics = Table(
    "taxonomy_topics",
    metadata,
    Column("code", String(60), primary_key=True),
    Column("name", String(300), nullable=False),
    Column("group_code", String(60), nullable=False),
    Column("group_name", String(300), nullable=False),
    Column("valid_from", Date, nullable=True),   # Vietnamese calendar days; None: always
    Column("valid_to", Date, nullable=True),     # exclusive; None: open
    Column("revision", Integer, nullable=False),  # the taxonomy revision this copy came from
    Column("copied_at", UtcDateTime(), nullable=False),
)

_mapper = registry()
_mapper.map_imperatively(Reporter, reporters)
_mapper.map_imperatively(Report, reports, version_id_col=reports.c.version, version_id_generator=False)
