"""Partner apps (e.g. Đồng Hới's SmartCity app): API keys, rate limits, channel names.

(Placeholder: the identity work fills this module. The signatures below are the contract.)
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PartnerApp:
    id: str
    name: str
    channel_name: str
    rate_per_minute: int
    verifies_phone: bool
    active: bool


def partner_for_key(engine, api_key: str) -> PartnerApp | None:
    """Return the active partner app of an API key, or None."""
    return None
