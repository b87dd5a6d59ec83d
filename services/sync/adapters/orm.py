"""Sync's tables."""
from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, LargeBinary, MetaData, String, Table

from paht.runtime.db import UtcDateTime
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

# Federation: the last version given to each per-report sequence a border lets in ("in:<origin>.<service>:<report>") or
# the province sends a hub ("out:<hub>:<service>:<report>"), so that each arrives numbered without gaps.
relayed_versions = Table(
    "relayed_versions",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("version", BigInteger, nullable=False),
)

# Events a hub sent that the province refused (not the report's owner, or an ended epoch): kept whole for operators.
refused_events = Table(
    "refused_events",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("origin_node", String(40), nullable=False, index=True),
    Column("ce_type", String(200), nullable=False),
    Column("report_id", String(36), nullable=False, index=True),
    Column("origin_version", BigInteger, nullable=False),
    Column("epoch", BigInteger, nullable=False),
    Column("owner_node", String(40), nullable=False),
    Column("owner_epoch", BigInteger, nullable=False),
    Column("reason", String(300), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("headers", JSON, nullable=False),
    Column("refused_at", UtcDateTime(), nullable=False, index=True),
)

# The latest revision of each reference data set (directory, taxonomy, calendar; decision 0015) as dispatch published
# it: a hub declared later gets it at once, not only the next revision.
reference_snapshots = Table(
    "reference_snapshots",
    metadata,
    Column("report_id", String(36), primary_key=True),  # the data set's fixed id (paht.runtime.ids)
    Column("ce_type", String(200), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("headers", JSON, nullable=False),
)

# The hubs that keep a read-only copy of a report (its area is theirs, or they handle it): every later event of the
# report that the copy is made of goes to each of them.
report_copies = Table(
    "report_copies",
    metadata,
    Column("report_id", String(36), primary_key=True),
    Column("hub", String(40), primary_key=True),
)

registry().map_imperatively(Ownership, ownerships, version_id_col=ownerships.c.version, version_id_generator=False)
