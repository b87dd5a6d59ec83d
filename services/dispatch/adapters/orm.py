"""Dispatch's directory tables: organisation units, topics, staff accounts; sign-in counters and revoked tokens.

Step 2's tables live in orm_step2.py and the SLA clocks in orm_clocks.py; all share schema.metadata.
"""
from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Date, Integer, String, Table, Text
from sqlalchemy.orm import registry

from paht.runtime.db import UtcDateTime
from services.dispatch.domain.directory import Account, OrgUnit, Topic

from services.dispatch.adapters.schema import event_tables, metadata  # noqa: F401  (one MetaData for every table module)

org_units = Table(
    "org_units",
    metadata,
    Column("id", String(80), primary_key=True),
    Column("code", String(40), nullable=False, index=True),
    Column("name", String(300), nullable=False),
    Column("name_en", String(300), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("parent_id", String(80), nullable=True, index=True),
    Column("hub_node", String(40), nullable=False),
    Column("can_lead", Boolean, nullable=False),
    Column("fields", JSON, nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date, nullable=True),
    Column("replaces", JSON, nullable=False),
)

topics = Table(
    "topics",
    metadata,
    Column("code", String(60), primary_key=True),
    Column("name", String(300), nullable=False),
    Column("name_en", String(300), nullable=False),
    Column("group_code", String(60), nullable=False),
    Column("group_name", String(300), nullable=False),
    Column("fields", JSON, nullable=False),
    Column("urgent_hint", Boolean, nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    Column("username", String(100), primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("roles", JSON, nullable=False),
    Column("org_unit_id", String(80), nullable=False),
    Column("active", Boolean, nullable=False),
)

# One row per (scope, account, address) watched by the sign-in throttle; "" where a scope ignores one.
sign_in_counters = Table(
    "sign_in_counters",
    metadata,
    Column("scope", String(10), primary_key=True),
    Column("username", String(100), primary_key=True),
    Column("address", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("locked_until", UtcDateTime(), nullable=True),
    Column("last_failure_at", UtcDateTime(), nullable=True, index=True),
    Column("last_success_at", UtcDateTime(), nullable=True),
)

# Every lock the throttle set: who was tried, from where, what was locked and until when.
sign_in_locks = Table(
    "sign_in_locks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False, index=True),
    Column("scope", String(10), nullable=False),
    Column("username", String(100), nullable=False, index=True),
    Column("address", String(64), nullable=False),
    Column("failures", Integer, nullable=False),
    Column("locked_until", UtcDateTime(), nullable=False),
)

# Tokens signed out before they expire; published to every service (NATS key-value) until then.
revoked_tokens = Table(
    "revoked_tokens",
    metadata,
    Column("jti", String(64), primary_key=True),
    Column("subject", String(100), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False, index=True),
    Column("revoked_at", UtcDateTime(), nullable=False),
    Column("published_at", UtcDateTime(), nullable=True, index=True),
)

_mapper = registry()
_mapper.map_imperatively(OrgUnit, org_units)
_mapper.map_imperatively(Topic, topics)
_mapper.map_imperatively(Account, accounts)
