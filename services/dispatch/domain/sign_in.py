"""Sign-in throttling: how many wrong passwords each scope forgives, and how long each lock lasts. No I/O here.

Three counters watch every attempt: the pair (one account from one address), the account alone,
and the address alone. The pair forgives the fewest failures, so a guesser is stopped early where
they are; the account alone forgives more and its lock is short and capped, so someone guessing from
many addresses cannot keep a real person out for long (and a pair that signed in before passes the
account's lock). Each failure past the free ones doubles the lock, up to the cap.

An attempt is counted as a failure *before* its password is checked and given back if the password
was right: so parallel attempts cannot slip past the count while their hashes are computed.
"""
from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from paht.runtime.errors import TooManyRequests
from paht.runtime.text import Label, clean_identifier

USERNAME = Label("Username", "Tên đăng nhập")
FORGET_AFTER = timedelta(hours=24)  # a failure older than this (and no lock running) is forgotten
KNOWN_FOR = timedelta(days=30)      # a pair that signed in within this passes the account's lock


class Scope(str, Enum):
    PAIR = "pair"        # one account from one address
    ACCOUNT = "account"  # one account from anywhere
    ADDRESS = "address"  # one address, whatever account


@dataclass(frozen=True)
class Rule:
    free: int    # failures forgiven before the first lock
    base_s: int  # the first lock; each further failure doubles it
    cap_s: int   # the longest lock

    def lock_s(self, failures: int) -> int:
        """Return how long `failures` failures lock the scope (0: not locked)."""
        if failures <= self.free:
            return 0
        return min(self.cap_s, self.base_s * 2 ** min(failures - self.free - 1, 32))


RULES: dict[Scope, Rule] = {
    Scope.PAIR: Rule(free=5, base_s=60, cap_s=3600),
    Scope.ACCOUNT: Rule(free=10, base_s=30, cap_s=900),  # at most 15 minutes, whatever an attacker does
    Scope.ADDRESS: Rule(free=30, base_s=60, cap_s=3600),  # an office behind one address has many staff
}
ORDER = (Scope.PAIR, Scope.ACCOUNT, Scope.ADDRESS)  # rows are locked in this order: no deadlock between attempts


def address_key(address: str) -> str:
    """Return the address a counter is kept for: IPv6 by its /64 (one subscriber's block), IPv4 as is."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address.strip()[:64] or "unknown"
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


@dataclass(frozen=True)
class Attempt:
    """One sign-in attempt: the account name typed and where it came from."""

    username: str
    address: str

    @classmethod
    def of(cls, username: str, address: str) -> "Attempt":
        return cls(clean_identifier(username, USERNAME).lower(), address_key(address))

    def key(self, scope: Scope) -> tuple[str, str]:
        """Return the (username, address) a scope's counter is kept under ("" where the scope ignores it)."""
        return (self.username if scope is not Scope.ADDRESS else "", self.address if scope is not Scope.ACCOUNT else "")


@dataclass
class Counter:
    scope: str
    username: str
    address: str
    failures: int = 0
    locked_until: datetime | None = None
    last_failure_at: datetime | None = None
    last_success_at: datetime | None = None

    def lock_left(self, now: datetime) -> float:
        return (self.locked_until - now).total_seconds() if self.locked_until and self.locked_until > now else 0.0


@dataclass(frozen=True)
class Lock:
    """A lock an attempt set: what, until when, after how many failures (for the audit)."""

    scope: str
    locked_until: datetime
    failures: int


def _counters(counters: dict[Scope, Counter]) -> list[tuple[Scope, Counter]]:
    return [(s, counters[s]) for s in ORDER]


def _known_pair(counters: dict[Scope, Counter], now: datetime) -> bool:
    seen = counters[Scope.PAIR].last_success_at
    return seen is not None and now - seen <= KNOWN_FOR


def refusal(counters: dict[Scope, Counter], now: datetime) -> int:
    """Return the seconds to wait before trying again (0: the attempt may go on)."""
    waits = [c.lock_left(now) for s, c in _counters(counters) if not (s is Scope.ACCOUNT and _known_pair(counters, now))]
    return math.ceil(max(waits, default=0.0))


def refuse_if_locked(counters: dict[Scope, Counter], now: datetime) -> None:
    """Raise TooManyRequests (with Retry-After) while any scope of the attempt is locked."""
    wait = refusal(counters, now)
    if wait > 0:
        minutes = max(1, math.ceil(wait / 60))
        raise TooManyRequests(
            f"Too many wrong sign-ins: try again in {minutes} minute(s).",
            f"Đăng nhập sai quá nhiều lần: vui lòng thử lại sau {minutes} phút.",
            retry_after_s=wait,
        )


def admit(counters: dict[Scope, Counter], now: datetime) -> list[Lock]:
    """Count the attempt as a failure in every scope before its password is checked; return the locks it sets."""
    refuse_if_locked(counters, now)
    locks = []
    for scope, c in _counters(counters):
        if c.last_failure_at is not None and now - c.last_failure_at > FORGET_AFTER and not c.lock_left(now):
            c.failures = 0
        c.failures += 1
        c.last_failure_at = now
        lock_s = RULES[scope].lock_s(c.failures)
        if lock_s:
            c.locked_until = max(c.locked_until or now, now + timedelta(seconds=lock_s))
            locks.append(Lock(scope.value, c.locked_until, c.failures))
    return locks


def succeeded(counters: dict[Scope, Counter], locks: list[Lock], now: datetime) -> None:
    """The password was right: clear the pair (and remember it), give the others their failure back."""
    pair = counters[Scope.PAIR]
    pair.failures, pair.locked_until, pair.last_success_at = 0, None, now
    mine = {lock.scope: lock.locked_until for lock in locks}
    for scope in (Scope.ACCOUNT, Scope.ADDRESS):
        c = counters[scope]
        c.failures = max(0, c.failures - 1)
        if c.locked_until is not None and c.locked_until == mine.get(scope.value):
            c.locked_until = None  # the lock this attempt set was for a failure that did not happen
