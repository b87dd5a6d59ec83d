"""The SLA clocks of every step of every report, the notices the monitor owes people, and the business calendar's revisions."""
from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Index, Integer, String, Table, Text, text
from sqlalchemy.orm import registry

from paht.runtime.db import UtcDateTime
from services.dispatch.adapters.schema import metadata
from services.dispatch.domain.clocks import Clock

sla_clocks = Table(
    "sla_clocks",
    metadata,
    Column("clock_id", String(80), primary_key=True),
    Column("report_id", String(36), nullable=False, index=True),
    Column("step", String(20), nullable=False),
    Column("n", Integer, nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("due_at", UtcDateTime(), nullable=False),
    Column("warn_at", UtcDateTime(), nullable=False),
    Column("responsible_org", String(80), nullable=False),
    Column("responsible_subject", String(100), nullable=False),
    Column("state", String(12), nullable=False),
    Column("stopped_at", UtcDateTime(), nullable=True),
    Column("met", Boolean, nullable=True),
    Column("warned_at", UtcDateTime(), nullable=True),
    Column("breached_at", UtcDateTime(), nullable=True),
    Column("announced", Integer, nullable=False),
)
# The monitor's two questions, each served by a partial index whatever the number of clocks:
# open clocks past 80 % not yet warned, and open clocks past their deadline not yet announced as breached.
Index("ix_sla_clocks_to_warn", sla_clocks.c.warn_at,
      postgresql_where=text("state = 'open' AND warned_at IS NULL"), sqlite_where=text("state = 'open' AND warned_at IS NULL"))
Index("ix_sla_clocks_to_breach", sla_clocks.c.due_at,
      postgresql_where=text("state = 'open' AND breached_at IS NULL"), sqlite_where=text("state = 'open' AND breached_at IS NULL"))
# Overdue lists: open clocks by step and deadline, and by responsible organisation.
Index("ix_sla_clocks_open_step_due", sla_clocks.c.step, sla_clocks.c.due_at,
      postgresql_where=text("state = 'open'"), sqlite_where=text("state = 'open'"))
Index("ix_sla_clocks_open_org_due", sla_clocks.c.responsible_org, sla_clocks.c.due_at,
      postgresql_where=text("state = 'open'"), sqlite_where=text("state = 'open'"))

# Notices owed to people (the person responsible and their leaders), written in the same transaction as
# the warning or breach that causes them and sent afterwards: a notice is never lost and never sent twice.
sla_notices = Table(
    "sla_notices",
    metadata,
    Column("key", String(120), primary_key=True),
    Column("notice", JSON, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("next_try_at", UtcDateTime(), nullable=False),
    Column("sent_at", UtcDateTime(), nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=False),
)
Index("ix_sla_notices_pending", sla_notices.c.next_try_at,
      postgresql_where=text("sent_at IS NULL"), sqlite_where=text("sent_at IS NULL"))

# The business calendar as the IOC administrator set it: every revision kept, the newest in force.
calendar_revisions = Table(
    "calendar_revisions",
    metadata,
    Column("revision", Integer, primary_key=True, autoincrement=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("by", String(100), nullable=False),
    Column("note", Text, nullable=False),
    Column("data", JSON, nullable=False),
    Column("sha256", String(64), nullable=False),
)

_mapper = registry()
_mapper.map_imperatively(Clock, sla_clocks)
