"""Reporters who prove their phone: SMS one-time codes, reporter sessions, rate limits.

(Placeholder: the identity work fills this module. The signatures below are the contract other
modules code against.)
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

REPORTER_TOKEN_PREFIX = "rpt_"  # reporter session tokens start so; staff tokens are JWTs


@dataclass(frozen=True)
class ReporterSession:
    """A verified phone: what a reporter's token or cookie stands for."""

    phone: str          # normalised 0XXXXXXXXX
    origin: str         # "web" (the site's cookie) or "app" (a token handed to an app)
    token_hash: str
    expires_at: datetime


def session_for_token(engine, token: str) -> ReporterSession | None:
    """Return the live session of a reporter token, or None (unknown, expired, revoked)."""
    return None
