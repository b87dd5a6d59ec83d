"""The rows behind one-time codes and reporter sessions (Core statements on the caller's connection)."""
from __future__ import annotations

import os
import secrets
import time
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update

from services.intake.adapters.orm import otp_challenges, reporter_sessions
from services.intake.domain.identity import Challenge

KEEP = timedelta(days=1)  # expired codes and ended sessions stay this long (a late try still says "expired"), then go


def add_challenge(conn: Connection, c: Challenge) -> None:
    conn.execute(insert(otp_challenges).values(id=c.id, phone=c.phone, code_hash=c.code_hash, created_at=c.created_at,
                                               expires_at=c.expires_at, attempts=c.attempts))


def last_sent(conn: Connection, phone: str) -> datetime | None:
    """When the newest code to this phone was made."""
    return conn.execute(select(func.max(otp_challenges.c.created_at)).where(otp_challenges.c.phone == phone)).scalar()


def replace_live(conn: Connection, phone: str, now: datetime) -> None:
    """End the phone's codes still usable: a newer code replaces them."""
    t = otp_challenges.c
    conn.execute(update(otp_challenges).where(t.phone == phone, t.consumed_at.is_(None), t.locked_at.is_(None), t.expires_at > now)
                 .values(expires_at=now))


def hold_challenge(conn: Connection, challenge_id: str) -> Challenge | None:
    """Return a challenge locked until the transaction ends (two taps on "verify" take turns)."""
    q = select(otp_challenges).where(otp_challenges.c.id == challenge_id)
    if conn.dialect.name == "postgresql":
        q = q.with_for_update()
    row = conn.execute(q).mappings().first()
    if row is None:
        return None
    return Challenge(id=row["id"], phone=row["phone"], code_hash=row["code_hash"], created_at=row["created_at"],
                     expires_at=row["expires_at"], attempts=row["attempts"], consumed_at=row["consumed_at"], locked_at=row["locked_at"])


def save_try(conn: Connection, c: Challenge) -> None:
    conn.execute(update(otp_challenges).where(otp_challenges.c.id == c.id)
                 .values(attempts=c.attempts, consumed_at=c.consumed_at, locked_at=c.locked_at))


def drop_challenge(conn: Connection, challenge_id: str) -> None:
    conn.execute(delete(otp_challenges).where(otp_challenges.c.id == challenge_id))


def add_session(conn: Connection, token_hash: str, phone: str, origin: str, now: datetime, expires_at: datetime) -> None:
    conn.execute(insert(reporter_sessions).values(token_hash=token_hash, phone=phone, origin=origin, created_at=now, expires_at=expires_at))


def session_row(conn: Connection, token_hash: str):
    return conn.execute(select(reporter_sessions).where(reporter_sessions.c.token_hash == token_hash)).mappings().first()


def revoke_session(conn: Connection, token_hash: str, now: datetime) -> bool:
    t = reporter_sessions.c
    return conn.execute(update(reporter_sessions).where(t.token_hash == token_hash, t.revoked_at.is_(None))
                        .values(revoked_at=now)).rowcount > 0


def purge(conn: Connection, now: datetime) -> tuple[int, int]:
    """Delete codes expired, and sessions ended (expired or signed out), more than a day ago."""
    cutoff = now - KEEP
    codes = conn.execute(delete(otp_challenges).where(otp_challenges.c.expires_at < cutoff)).rowcount
    s = reporter_sessions.c
    sessions = conn.execute(delete(reporter_sessions).where(or_(s.expires_at < cutoff, and_(s.revoked_at.is_not(None), s.revoked_at < cutoff))))
    return codes, sessions.rowcount


def otp_key(settings) -> bytes:
    """Return the key code hashes are made with: PAHT_OTP_SECRET (required in production), else a random key kept in
    <data>/keys/otp.key, created once (by whichever process of the embedded run gets there first) and readable only by us."""
    if settings.otp_secret:
        if len(settings.otp_secret) < 32:
            raise RuntimeError("PAHT_OTP_SECRET must be at least 32 characters (e.g. `openssl rand -hex 32`)")
        return settings.otp_secret.encode()
    if settings.env == "production":
        raise RuntimeError("production needs PAHT_OTP_SECRET (at least 32 random characters, the same on every intake replica)")
    path = settings.data / "keys" / "otp.key"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never a moment readable by others
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    for _ in range(50):  # another process may have created it an instant ago and still be writing
        value = path.read_text().strip()
        if len(value) == 64:
            return value.encode()
        time.sleep(0.02)
    raise RuntimeError(f"{path} does not hold a key: delete it to have a new one made")
