"""Identifiers: time-ordered UUIDs for records and events, short tracking codes for citizens."""
from __future__ import annotations

import os
import secrets
import time
import uuid

# What an id made by new_id may look like (a UUID); anything else names nothing, so callers answer 404/422
# before it reaches a query.
ID_PATTERN = r"^[0-9A-Za-z-]{1,36}$"
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud over the phone


def new_id() -> str:
    """Return a UUIDv7 string (sortable by creation time)."""
    ms = int(time.time() * 1000)
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | ((rand >> 68) & 0xFFF) << 64 | 0b10 << 62 | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


def new_tracking_code() -> str:
    """Return a code like QB-7K3M-9XTP that a citizen can read over the phone."""
    # 32 letters: each random byte's low five bits pick one with equal chances (one system call for all eight)
    body = "".join(_ALPHABET[b & 31] for b in secrets.token_bytes(8))
    return f"QB-{body[:4]}-{body[4:]}"


def looks_like_id(value: str | None) -> bool:
    """Say whether a string could be an id made by new_id (cheap check before any query)."""
    import re

    return re.fullmatch(ID_PATTERN, value or "") is not None


# Aggregates that are not reports but travel on the same per-aggregate, versioned event path:
# the directory, the taxonomy and the business calendar, each one ordered stream of whole snapshots.
DIRECTORY_ID = "00000000-0000-5000-8000-000000000001"
TAXONOMY_ID = "00000000-0000-5000-8000-000000000002"
CALENDAR_ID = "00000000-0000-5000-8000-000000000003"
