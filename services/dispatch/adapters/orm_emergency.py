"""Emergency forwarding's table (113/114/115): one row per report and service, mapped onto EmergencyForward.

The row's version is an optimistic lock: the sender's delivery claim, the watcher's re-alert claim and
an acknowledgement are each a conditional write (UPDATE … WHERE id AND version), so two replicas never
both deliver a forward or both announce the same re-alert.
"""
from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text, UniqueConstraint, text
from sqlalchemy.orm import registry

from paht.runtime.db import UtcDateTime
from services.dispatch.adapters.schema import metadata
from services.dispatch.domain.emergency import EmergencyForward

emergency_forwards = Table(
    "emergency_forwards",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("report_id", String(36), nullable=False, index=True),
    Column("service", String(3), nullable=False),
    Column("note", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("forwarded_at", UtcDateTime(), nullable=False),
    Column("forwarded_by", String(100), nullable=False),
    Column("ioc_unit", String(80), nullable=False),
    Column("due_at", UtcDateTime(), nullable=False),
    Column("ack_timeout_s", Integer, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime(), nullable=True),
    Column("last_error", Text, nullable=False),
    Column("delivered_at", UtcDateTime(), nullable=True),
    Column("desk_reference", String(200), nullable=False),
    Column("acknowledged_at", UtcDateTime(), nullable=True),
    Column("acknowledged_by", String(100), nullable=False),
    Column("ack_channel", String(10), nullable=False),
    Column("ack_note", Text, nullable=False),
    Column("alerts", Integer, nullable=False),
    Column("alerts_sent", Integer, nullable=False),
    Column("alert_due_at", UtcDateTime(), nullable=True),
    Column("alert_claimed_at", UtcDateTime(), nullable=True),
    Column("version", BigInteger, nullable=False),
    # Forwarding twice to the same service is refused by the rule; this catches two clicks at the same moment.
    UniqueConstraint("report_id", "service", name="uq_emergency_forwards_report_service"),
)
# The sender's question (pending forwards whose next attempt is due), the watcher's two (re-alerts owed; claimed
# re-alerts whose notice never went out) and the consoles' (forwards awaiting acknowledgement), each on a small index.
Index("ix_emergency_forwards_to_send", emergency_forwards.c.next_attempt_at,
      postgresql_where=text("state = 'pending'"), sqlite_where=text("state = 'pending'"))
Index("ix_emergency_forwards_to_alert", emergency_forwards.c.alert_due_at,
      postgresql_where=text("alert_due_at IS NOT NULL"), sqlite_where=text("alert_due_at IS NOT NULL"))
Index("ix_emergency_forwards_unsent_alerts", emergency_forwards.c.alert_claimed_at,
      postgresql_where=text("alerts_sent < alerts"), sqlite_where=text("alerts_sent < alerts"))
Index("ix_emergency_forwards_awaiting", emergency_forwards.c.service, emergency_forwards.c.forwarded_at,
      postgresql_where=text("state <> 'acknowledged'"), sqlite_where=text("state <> 'acknowledged'"))

_mapper = registry()
_mapper.map_imperatively(EmergencyForward, emergency_forwards, version_id_col=emergency_forwards.c.version)
