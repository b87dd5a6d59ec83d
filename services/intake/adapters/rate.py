"""Fixed-window rate counters in the database, shared by every replica (SMS codes, partner apps).

One row per (key, window start): `INSERT … ON CONFLICT DO UPDATE SET count = count + 1 RETURNING count`
counts a request atomically on PostgreSQL and SQLite alike, and on PostgreSQL the row stays locked until
the transaction ends, so the caller may check more things before deciding (the SMS codes do). Keys never
hold a phone or an address as such: callers hash them (services/intake/domain/identity.counter_key).
"""
from __future__ import annotations

import math
import threading
import time
import weakref
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, delete, update

from paht.runtime import db
from services.intake.adapters.orm import rate_counters

KEEP_S = 2 * 86400  # counters are deleted this long after their window started (the longest window is a day)


def window_of(now_s: float, window_s: int) -> int:
    """Return the epoch second the fixed window holding `now_s` started."""
    return int(now_s // window_s) * window_s


def count(conn: Connection, key: str, window_s: int, now_s: float, by: int = 1) -> int:
    """Count `by` requests (one by default) in the current window of `key`; return the count with them."""
    stmt = db.upsert(rate_counters, ("key", "window_start", "count"), ("key", "window_start"), add=("count",), returning=("count",))
    return int(conn.execute(stmt, {"key": key, "window_start": window_of(now_s, window_s), "count": by}).scalar_one())


def hit_in(conn: Connection, key: str, limit: int, window_s: int, now_s: float) -> tuple[bool, int]:
    """Count a request in the caller's transaction; return (allowed, seconds until the window ends)."""
    n = count(conn, key, window_s, now_s)
    return n <= limit, max(1, math.ceil(window_of(now_s, window_s) + window_s - now_s))


def give_back(conn: Connection, key: str, window_s: int, now_s: float) -> None:
    """Undo one counted request (the thing it allowed did not happen, e.g. the SMS provider failed)."""
    t = rate_counters.c
    conn.execute(update(rate_counters).where(t.key == key, t.window_start == window_of(now_s, window_s), t.count > 0)
                 .values(count=t.count - 1))


def purge(conn: Connection, now_s: float) -> int:
    """Delete counters whose window is long over."""
    return conn.execute(delete(rate_counters).where(rate_counters.c.window_start < int(now_s) - KEEP_S)).rowcount


@dataclass(eq=False)
class _Hit:
    key: str
    limit: int
    window_s: int
    now_s: float
    answer: tuple[bool, int] | None = None
    error: Exception | None = None


class RateLimiter:
    """`hit(key, limit, window_s)`: count a request in its own transaction; return (allowed, retry_after_s).

    Now and then (at most once every `purge_every_s` in a process) it also deletes counters long over."""

    def __init__(self, engine: Engine, clock=time.time, purge_every_s: float = 60.0):
        self.engine = engine
        self.clock = clock
        self.purge_every_s = purge_every_s
        self._next_purge = 0.0
        self._lock = threading.Lock()
        self._turn = threading.Condition()  # hits waiting, and whether a thread is writing a batch of them
        self._waiting: list[_Hit] = []
        self._writing = False

    def hit(self, key: str, limit: int, window_s: int) -> tuple[bool, int]:
        """Count one request; the hits of threads that arrive while a transaction is being written are counted
        together in the next one (one upsert per key, each hit told the count it would have had alone, in arrival
        order), so under load a partner's requests do not queue for a commit each."""
        now_s = self.clock()
        hit = _Hit(key, limit, window_s, now_s)
        with self._turn:
            self._waiting.append(hit)
            while hit.answer is None and hit.error is None:
                if self._writing:
                    self._turn.wait()
                    continue
                self._writing = True
                batch, self._waiting = self._waiting, []
                self._turn.release()
                try:
                    self._count(batch)
                except Exception as exc:  # the batch's transaction failed: every hit of it hears so
                    for h in batch:
                        h.error = exc
                finally:
                    self._turn.acquire()
                    self._writing = False
                    self._turn.notify_all()
        if hit.error is not None:
            raise hit.error
        self.purge_now_and_then(now_s)
        return hit.answer

    def _count(self, batch: list["_Hit"]) -> None:
        groups: dict[tuple[str, int], list[_Hit]] = {}
        for h in batch:
            groups.setdefault((h.key, window_of(h.now_s, h.window_s)), []).append(h)
        with self.engine.begin() as conn:
            for (key, start), hits in groups.items():
                n = count(conn, key, hits[0].window_s, hits[0].now_s, by=len(hits))
                for i, h in enumerate(hits):  # the i-th of k hits had the count n - k + i + 1
                    seen = n - len(hits) + i + 1
                    h.answer = (seen <= h.limit, max(1, math.ceil(start + h.window_s - h.now_s)))

    def purge_now_and_then(self, now_s: float) -> None:
        with self._lock:
            if time.monotonic() < self._next_purge:
                return
            self._next_purge = time.monotonic() + self.purge_every_s
        with self.engine.begin() as conn:
            purge(conn, now_s)


_limiters: "weakref.WeakKeyDictionary[Engine, RateLimiter]" = weakref.WeakKeyDictionary()
_limiters_lock = threading.Lock()


def limiter_for(engine: Engine) -> RateLimiter:
    """Return this process's limiter of a database (one purge timer per database)."""
    with _limiters_lock:
        limiter = _limiters.get(engine)
        if limiter is None:
            limiter = _limiters[engine] = RateLimiter(engine)
        return limiter
