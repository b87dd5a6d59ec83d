"""Reporters who prove their phone: SMS one-time codes, reporter sessions, sending limits.

Asking for a code: the limits are counted, the challenge is stored, and only then is the SMS sent,
outside the transaction (a slow provider must hold no lock). If the provider fails, the challenge is
deleted and the counts are given back: nobody loses their quota to our provider's outage, and no
code exists that was never sent. A refused request counts nothing (its transaction rolls back), so
a flood from one address is stopped without using up its victims' own limits.

Verifying a code: the challenge row is locked for the try (PostgreSQL: FOR UPDATE; SQLite's
transactions already take turns), so two taps on "verify" cannot both pass and no wrong try is lost.
The try's count is committed before the refusal is raised.

Sessions are looked up on every request, without a cache: a signed-out token is refused at once on
every replica.
"""
from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

from sqlalchemy import Engine, select

from paht.runtime import db
from paht.runtime.errors import NotFound, Unauthorized
from paht.runtime.ids import looks_like_id, new_id
from paht.runtime.sms import SmsGateway
from services.intake.adapters import identity as rows
from services.intake.adapters import rate
from services.intake.adapters.orm import otp_challenges, reporters
from services.intake.domain import identity as rules
from services.intake.domain.identity import Challenge, SendLimits, Verdict
from services.intake.domain.report import Reporter

REPORTER_TOKEN_PREFIX = rules.TOKEN_PREFIX  # reporter session tokens start so; staff tokens are JWTs
HOUR, DAY = 3600, 86400


@dataclass(frozen=True)
class ReporterSession:
    """A verified phone: what a reporter's token or cookie stands for."""

    phone: str          # normalised 0XXXXXXXXX
    origin: str         # "web" (the site's cookie) or "app" (a token handed to an app)
    token_hash: str
    expires_at: datetime


@dataclass(frozen=True)
class CodeSent:
    challenge_id: str
    expires_at: datetime
    resend_after_s: int


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Otp:
    """What the code desk needs: the database, the hash key, the SMS gateway, the limits and a clock (tests move it)."""

    def __init__(self, engine: Engine, key: bytes, sms: SmsGateway, limits: SendLimits = SendLimits(),
                 clock: Callable[[], datetime] = utc_now, purge_every_s: float = 60.0):
        self.engine, self.key, self.sms, self.limits, self.clock = engine, key, sms, limits, clock
        self.purge_every_s = purge_every_s
        self._next_purge = 0.0
        self._lock = threading.Lock()

    def purge_now_and_then(self, now: datetime) -> None:
        """Delete old codes, ended sessions and old counters, at most once every purge_every_s in this process."""
        with self._lock:
            if time.monotonic() < self._next_purge:
                return
            self._next_purge = time.monotonic() + self.purge_every_s
        purge(self.engine, now)


def _counters(otp: Otp, phone: str, address: str) -> list[tuple[str, int, int, Callable]]:
    """The counters a code request goes through, the address first: a flood from one address is refused before it
    touches any phone's count."""
    limits, key = otp.limits, otp.key
    bucket = rules.address_bucket(address)
    return [
        (rules.counter_key(key, "address", bucket, HOUR), limits.per_address_hour, HOUR, rules.too_many_from_address),
        (rules.counter_key(key, "phone", phone, DAY), limits.per_phone_day, DAY, rules.too_many_for_phone),
        (rules.counter_key(key, "phone", phone, HOUR), limits.per_phone_hour, HOUR, rules.too_many_for_phone),
    ]


def request_code(otp: Otp, phone: str, address: str) -> CodeSent:
    """Send a new code to a phone; raise TooManyRequests (429) over a limit, SmsUnavailable (503) if the SMS fails."""
    phone = rules.check_mobile(Reporter.normalise_phone(phone))
    now = otp.clock()
    now_s = now.timestamp()
    counters = _counters(otp, phone, address)
    challenge, code = Challenge.issue(id=new_id(), phone=phone, key=otp.key, now=now)
    with otp.engine.begin() as conn:  # a refusal raises inside: the transaction rolls back and counts nothing
        for key, limit, window_s, too_many in counters:
            allowed, retry_after = rate.hit_in(conn, key, limit, window_s, now_s)
            if not allowed:
                raise too_many(retry_after)
        last = rows.last_sent(conn, phone)  # the phone's counter rows are locked: no other request is in between
        wait = (last + timedelta(seconds=otp.limits.resend_after_s) - now).total_seconds() if last else 0
        if wait > 0:
            raise rules.too_soon(wait)
        rows.add_challenge(conn, challenge)
    try:
        otp.sms.send(phone, rules.sms_text(code), purpose="otp")
    except Exception:
        with otp.engine.begin() as conn:
            rows.drop_challenge(conn, challenge.id)
            for key, _limit, window_s, _too_many in counters:
                rate.give_back(conn, key, window_s, now_s)
        raise
    otp.purge_now_and_then(now)
    return CodeSent(challenge.id, challenge.expires_at, otp.limits.resend_after_s)


def verify_code(otp: Otp, challenge_id: str, phone: str, code: str, origin: str) -> tuple[str, ReporterSession]:
    """Check a code; on success return (token, session). Wrong: 422 with the tries left; locked, expired, replaced
    or used: 409 (ask for a new code); unknown challenge: 404."""
    code = rules.check_code_shape(code)
    origin = rules.check_origin(origin)
    phone = Reporter.normalise_phone(phone)
    if not looks_like_id(challenge_id):
        raise _no_such_challenge()
    now = otp.clock()
    token = session = None
    with otp.engine.begin() as conn:
        challenge = rows.hold_challenge(conn, challenge_id)
        if challenge is None:
            raise _no_such_challenge()
        if _replaced(conn, challenge):
            verdict = Verdict.EXPIRED
        else:
            verdict = challenge.attempt(key=otp.key, phone=phone, code=code, now=now)
        if verdict in (Verdict.OK, Verdict.WRONG):
            rows.save_try(conn, challenge)
        if verdict is Verdict.OK:
            token = rules.new_token()
            session = ReporterSession(phone, origin, rules.token_hash(token), now + rules.SESSION_TTL)
            rows.add_session(conn, session.token_hash, phone, origin, now, session.expires_at)
    if verdict is not Verdict.OK:
        raise rules.refusal(verdict, challenge)  # after the commit: the wrong try stays counted
    return token, session


def _replaced(conn, challenge: Challenge) -> bool:
    """Whether a newer code was sent to the same phone (only the newest one counts)."""
    t = otp_challenges.c
    newer = select(t.id).where(t.phone == challenge.phone, t.created_at > challenge.created_at).limit(1)
    return conn.execute(newer).first() is not None


def _no_such_challenge() -> NotFound:
    return NotFound("No such code request: ask for a new code.", "Không tìm thấy yêu cầu mã xác thực: vui lòng yêu cầu mã mới.")


SESSION_READ_S = 2.0  # how long a replica keeps a live session it read: a sign-out elsewhere takes effect within it


class _LiveSessions:
    """Live sessions read in the last SESSION_READ_S, per database: a reporter's requests in a row read the
    session once, not on every request. Unknown, expired and signed-out tokens are never kept."""

    def __init__(self) -> None:
        self._by_engine: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def get(self, engine, digest: str) -> ReporterSession | None:
        with self._lock:
            hit = self._by_engine.get(engine, {}).get(digest)
        if hit is None or time.monotonic() - hit[1] >= SESSION_READ_S:
            return None
        return hit[0]

    def put(self, engine, session: ReporterSession) -> None:
        with self._lock:
            kept = self._by_engine.setdefault(engine, {})
            if len(kept) >= 10_000:
                kept.clear()
            kept[session.token_hash] = (session, time.monotonic())

    def forget(self, engine, digest: str) -> None:
        with self._lock:
            self._by_engine.get(engine, {}).pop(digest, None)


_live = _LiveSessions()


def recent_session(engine, token: str, now: datetime | None = None) -> ReporterSession | None:
    """The live session of a token when it was read in the last SESSION_READ_S (no database: callable on the event
    loop); None means "not known here", and session_for_token then decides."""
    if not rules.looks_like_token(token):
        return None
    session = _live.get(engine, rules.token_hash(token))
    return session if session is not None and session.expires_at > (now or utc_now()) else None


def session_for_token(engine, token: str, now: datetime | None = None) -> ReporterSession | None:
    """Return the live session of a reporter token, or None (unknown, expired, revoked).

    A live session read in the last SESSION_READ_S is taken from memory; a sign-out on this replica forgets it at once."""
    if not rules.looks_like_token(token):
        return None
    digest = rules.token_hash(token)
    now = now or utc_now()
    session = _live.get(engine, digest)
    if session is None:
        with db.reading(engine) as conn:
            row = rows.session_row(conn, digest)
        if row is None or row["revoked_at"] is not None:
            return None
        session = ReporterSession(row["phone"], row["origin"], digest, row["expires_at"])
        _live.put(engine, session)
    return session if session.expires_at > now else None


def sign_out(engine, token: str, now: datetime | None = None) -> bool:
    """End a session at once; return whether there was a live one."""
    if not rules.looks_like_token(token):
        return False
    digest = rules.token_hash(token)
    with engine.begin() as conn:
        ended = rows.revoke_session(conn, digest, now or utc_now())
    _live.forget(engine, digest)  # after the commit: a read in between cannot keep the session alive here
    return ended


def purge(engine, now: datetime | None = None) -> None:
    """Delete codes and sessions ended more than a day ago, and rate counters long over."""
    now = now or utc_now()
    with engine.begin() as conn:
        rows.purge(conn, now)
        rate.purge(conn, now.timestamp())


def reporter_refs_of(engine, token: str) -> tuple[list[str], ReporterSession]:
    """Who a reporter session stands for, as other services may know it: the pseudonymous reporter_refs (reporter row
    ids) of the proved phone, never the phone itself. Raise Unauthorized for an unknown, expired or ended session."""
    session = session_for_token(engine, token)
    if session is None:
        raise Unauthorized("Verify your phone number first (an SMS code): only the reporter may do this.",
                           "Vui lòng xác thực số điện thoại (mã OTP qua tin nhắn): chỉ người gửi phản ánh mới được thực hiện.")
    with db.reading(engine) as conn:
        refs = sorted(conn.execute(select(reporters.c.id).where(reporters.c.phone == session.phone)).scalars())
    return refs, session
