"""Dispatch's directory tables: organisation units (one row per version), topic groups and topics, staff accounts,
the numbered revisions of the directory and the taxonomy, area boundaries; sign-in counters and revoked tokens.

Step 2's tables live in orm_step2.py and the SLA clocks in orm_clocks.py; all share schema.metadata.
"""
from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Date, Float, Integer, String, Table, Text
from sqlalchemy.orm import registry

from paht.runtime.db import UtcDateTime
from services.dispatch.adapters.schema import event_tables, metadata  # noqa: F401  (one MetaData for every table module)
from services.dispatch.domain.areas import Boundary
from services.dispatch.domain.directory import Account, OrgUnit, Topic, TopicGroup

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
    Column("areas", JSON, nullable=False),  # GSO codes of the areas the unit serves
    Column("position", Integer, nullable=False),  # order in the imported file
)

topic_groups = Table(
    "topic_groups",
    metadata,
    Column("code", String(60), primary_key=True),
    Column("name", String(300), nullable=False),
    Column("name_en", String(300), nullable=False),
    Column("position", Integer, nullable=False),
    Column("valid_from", Date, nullable=True),
    Column("valid_to", Date, nullable=True),
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
    Column("group_name_en", String(300), nullable=False),
    Column("position", Integer, nullable=False),
    Column("valid_from", Date, nullable=True),
    Column("valid_to", Date, nullable=True),
    Column("keywords", JSON, nullable=False, server_default="[]"),
)


def revisions_table(name: str) -> Table:
    """Every change of the directory (or the taxonomy): who, when, from what input, and the whole state as exported."""
    return Table(
        name,
        metadata,
        Column("revision", Integer, primary_key=True, autoincrement=False),  # 1, 2, 3…: also the event's version
        Column("at", UtcDateTime(), nullable=False),
        Column("by", String(100), nullable=False),  # the administrator's subject, or "seed"
        Column("source", String(200), nullable=False),  # the file name, or "api"
        Column("sha256", String(64), nullable=False),  # of the input as received
        Column("counts", JSON, nullable=False),
        Column("snapshot", Text, nullable=False),  # the export of the state after the change
    )


directory_revisions = revisions_table("directory_revisions")
taxonomy_revisions = revisions_table("taxonomy_revisions")

# Boundaries of areas (GSO codes) for locate(): a bounding box to skip most rows, then the polygon itself.
boundaries = Table(
    "boundaries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", String(40), nullable=False, index=True),
    Column("name", String(300), nullable=False),
    Column("valid_from", Date, nullable=True),
    Column("valid_to", Date, nullable=True),
    Column("approximate", Boolean, nullable=False),
    Column("min_lon", Float, nullable=False),
    Column("min_lat", Float, nullable=False),
    Column("max_lon", Float, nullable=False),
    Column("max_lat", Float, nullable=False),
    Column("area", Float, nullable=False),
    Column("geometry", JSON, nullable=False),
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
_mapper.map_imperatively(TopicGroup, topic_groups)
_mapper.map_imperatively(Boundary, boundaries)
_mapper.map_imperatively(Account, accounts)
