"""Sign staff in with the built-in issuer, throttled; sign them out by revoking their token."""
from __future__ import annotations

import functools
import logging
import random
from datetime import datetime, timezone

from paht.runtime.auth import Principal, TokenIssuer, check_password, hash_password
from paht.runtime.errors import Unauthorized
from services.dispatch.domain import sign_in as rules
from services.dispatch.domain.sign_in import Attempt

log = logging.getLogger(__name__)


@functools.cache
def _dummy_hash() -> str:
    """A hash to check unknown names against: the same work whether or not the name exists."""
    return hash_password("not-a-real-password")


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(timezone.utc)


def refuse_if_locked(uow, attempt: Attempt, now: datetime | None = None) -> None:
    """Raise TooManyRequests while the attempt's account, address or pair is locked (a read: no work, no count)."""
    with uow:
        counters = uow.sign_in.read(attempt)
    rules.refuse_if_locked(counters, _now(now))


def sign_in(uow, issuer: TokenIssuer, attempt: Attempt, password: str, now: datetime | None = None) -> tuple[str, dict]:
    """Check a staff member's password and return (token, account); every attempt is counted before the check.

    A locked attempt is refused first by a plain read, so a flood of them takes no row lock and does no hashing.
    """
    now = _now(now)
    refuse_if_locked(uow, attempt, now)
    with uow:
        counters = uow.sign_in.hold(attempt)
        locks = rules.admit(counters, now)  # raises TooManyRequests if a lock appeared meanwhile: nothing is written
        uow.sign_in.save(counters)
        account = uow.accounts.get(attempt.username)
        stored = account.password_hash if account is not None and account.active and account.password_hash else _dummy_hash()
        uow.commit()
    right = check_password(stored, password) and account is not None and account.active
    with uow:
        if right:
            counters = uow.sign_in.hold(attempt)
            rules.succeeded(counters, locks, now)
            uow.sign_in.save(counters)
        else:
            uow.sign_in.audit(attempt, locks, now)
            for lock in locks:  # no name or address in logs: they are in the audit table
                log.warning("sign-in: %s locked until %s after %d failures", lock.scope, lock.locked_until.isoformat(), lock.failures)
            if random.random() < 0.01:  # now and then, forget counters nobody has touched for a day
                uow.sign_in.forget_before(now - rules.FORGET_AFTER, now)
        uow.commit()
    if not right:
        raise Unauthorized("Wrong username or password.", "Sai tên đăng nhập hoặc mật khẩu.")
    token = issuer.issue(account.username, account.display_name, list(account.roles), account.org_unit_id)
    return token, {"username": account.username, "name": account.display_name, "roles": list(account.roles), "org_unit": account.org_unit_id}


def locks_of(uow, username: str) -> list[dict]:
    """Return the audit of every lock set for an account name."""
    with uow:
        return uow.sign_in.locks_of(username.strip().lower())


def revoke(uow, user: Principal, now: datetime | None = None) -> tuple[str, float] | None:
    """Sign a token out until it expires; return (jti, expiry) to publish, or None for a token that cannot be revoked."""
    jti, exp = user.claims.get("jti"), user.claims.get("exp")
    if not jti or not exp:
        return None
    with uow:
        uow.revoked.add(str(jti), user.subject, datetime.fromtimestamp(int(exp), timezone.utc), _now(now))
        uow.commit()
    return str(jti), float(exp)


def is_revoked(uow, jti: str) -> bool:
    with uow:
        return uow.revoked.is_revoked(jti)


def to_publish(uow, everything: bool, now: datetime | None = None) -> list[tuple[str, float]]:
    """Return (jti, expiry) of revocations still in force: those not yet published, or all (after a start)."""
    now = _now(now)
    with uow:
        if everything:
            uow.revoked.forget_expired(now)
            uow.commit()
        return [(jti, exp.timestamp()) for jti, exp in uow.revoked.live(now, unpublished_only=not everything)]


def published(uow, jtis: list[str], now: datetime | None = None) -> None:
    with uow:
        uow.revoked.mark_published(jtis, _now(now))
        uow.commit()
