"""Outbox, inbox, per-report positions and dead letters: the same four tables in every service's schema."""
from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Integer, LargeBinary, MetaData, String, Table, Text

from paht.runtime.db import UtcDateTime


def add_event_tables(metadata: MetaData) -> dict[str, Table]:
    """Add the event tables to a service's metadata and return them by name."""
    outbox = Table(
        "outbox",
        metadata,
        Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("subject", String(200), nullable=False),
        Column("ce_type", String(200), nullable=False),
        Column("report_id", String(36), nullable=False, index=True),
        Column("report_version", BigInteger, nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("headers", JSON, nullable=False),
        Column("created_at", UtcDateTime(), nullable=False),
        Column("published_at", UtcDateTime(), nullable=True, index=True),
    )
    inbox = Table(
        "inbox",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("event_id", String(36), primary_key=True),
        Column("ce_type", String(200), nullable=False),
        Column("handled_at", UtcDateTime(), nullable=False),
    )
    positions = Table(
        "event_positions",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("stream_key", String(120), primary_key=True),  # <producer>:<report id>
        Column("version", BigInteger, nullable=False),
    )
    # Events a consumer could not apply and will not retry by itself: an operator sees them,
    # fixes the cause and replays (or discards) them. Later events of the same report wait.
    dead_letters = Table(
        "dead_letters",
        metadata,
        Column("id", String(36), primary_key=True),
        Column("consumer", String(100), nullable=False),
        Column("event_id", String(36), nullable=False),
        Column("ce_type", String(200), nullable=False),
        Column("producer", String(40), nullable=False),
        Column("report_id", String(36), nullable=False, index=True),
        Column("report_version", BigInteger, nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("headers", JSON, nullable=False),
        Column("error", Text, nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("status", String(20), nullable=False, index=True),  # parked | replayed | discarded
        Column("parked_at", UtcDateTime(), nullable=False),
        Column("resolved_at", UtcDateTime(), nullable=True),
        Column("resolved_by", String(100), nullable=False, default=""),
    )
    return {"outbox": outbox, "inbox": inbox, "event_positions": positions, "dead_letters": dead_letters}
