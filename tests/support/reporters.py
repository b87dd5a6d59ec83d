"""Reporters for tests: a session for a verified phone, as the SMS code would give one.

In-process tests store the session directly (the code's own rules are tested in
test_reporter_otp.py); tests against real processes go through the SMS code over HTTP, reading the
code from the development SMS outbox the way a person reads their phone.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone

from services.intake.adapters.orm import reporter_sessions

PHONE = "0912345678"


def reporter_session(ctx, phone: str = PHONE, origin: str = "app") -> dict[str, str]:
    """Store a live session for this phone in intake's database; return the Authorization header an app would send."""
    token = "rpt_" + secrets.token_urlsafe(32)
    now = datetime.now(timezone.utc)
    with ctx.engine.begin() as conn:
        conn.execute(reporter_sessions.insert().values(token_hash=hashlib.sha256(token.encode()).hexdigest(), phone=phone, origin=origin,
                                                       created_at=now, expires_at=now + timedelta(days=30)))
    return {"Authorization": f"Bearer {token}"}


def signed_in_over_http(http, phone: str = PHONE, session: str = "token") -> dict[str, str]:
    """Prove a phone as a reporter would, over HTTP (an httpx client on the edge), reading the code from the development
    SMS outbox: the walkthrough's own sign-in (paht.runtime.walkthrough.reporter_sign_in)."""
    from paht.runtime.walkthrough import reporter_sign_in

    return reporter_sign_in(http, phone, session)
