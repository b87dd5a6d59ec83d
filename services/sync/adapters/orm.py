"""Sync's tables."""
from __future__ import annotations

from sqlalchemy import BigInteger, Column, MetaData, String, Table
from sqlalchemy.orm import registry

from paht.runtime.events.tables import add_event_tables
from services.sync.domain.ownership import Ownership

metadata = MetaData()
event_tables = add_event_tables(metadata)

ownerships = Table(
    "ownerships",
    metadata,
    Column("report_id", String(36), primary_key=True),
    Column("node_id", String(40), nullable=False, index=True),
    Column("epoch", BigInteger, nullable=False),
    Column("lead_agency_id", String(80), nullable=False),
    Column("version", BigInteger, nullable=False),
)

registry().map_imperatively(Ownership, ownerships, version_id_col=ownerships.c.version, version_id_generator=False)
