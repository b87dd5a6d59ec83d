"""Relay: publish committed outbox rows to JetStream in order, marking each once acknowledged."""
from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections import deque
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from nats.js import JetStreamContext
from opentelemetry import context as otel_context
from opentelemetry import metrics, propagate, trace
from sqlalchemy import Engine, Table, delete, select, text, update

from paht.runtime import db
from paht.runtime.db import FILE_LOCKS, among, file_lock
from paht.runtime.telemetry import spans_recorded

log = logging.getLogger(__name__)
tracer = trace.get_tracer("paht.relay")
_published = metrics.get_meter("paht.relay").create_counter("paht.events.published", unit="{event}", description="Events relayed from the outbox to JetStream")


class OutboxRelay:
    """Publish the outbox's rows to JetStream, oldest first, and mark them published once acknowledged.

    It reads the outbox when woken after a commit, every `poll_s`, and after a failure. With `handoff` (the process is
    its service's only writer), the rows a commit of this process wrote are handed over to it in memory once
    committed (Notifier), and it publishes them at once in the order their transactions wrote them, without reading
    them back; the outbox is still read every `poll_s` (leadership, rows a failed round or another writer left).
    Several writer processes keep reading the outbox on every wake-up: only one read orders their rows.
    """

    LINGER_S = 0.003  # how long a woken relay waits under load before reading: an event's delay, fewer rounds (and writes)
    STALL_S = 5.0  # a transaction holding a ticket longer than this: later ones go on; its rows come from the outbox
    RECENT = 10_000  # event ids last sent: rows handed over are never sent again (JetStream's Nats-Msg-Id check is the net)

    def __init__(self, engine: Engine, outbox: Table, js: JetStreamContext, *, poll_s: float = 0.5, batch: int = 200,
                 mark_every_s: float = 0.25, handoff: bool = False):
        self._engine = engine
        self._outbox = outbox
        self._js = js
        self._poll_s = poll_s
        self._batch = batch
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.published = 0
        self._busy = False  # the last round sent several events: events are coming together
        self._leader_conn = None
        self._leader = False
        self._leader_until = 0.0  # PostgreSQL: leadership confirmed lately enough to publish rows handed over
        self._leader_lock = threading.Lock()  # the check runs in a worker thread, close() in the loop
        self._file_lock: int | None = None  # SQLite: the descriptor holding the relay lock
        self._next_leader_check = 0.0
        self.keep: timedelta | None = None  # how long published rows stay; None keeps them
        self._next_purge = 0.0
        # Rows JetStream acknowledged are marked published a little later, many at once (one write instead of one per
        # round). Until then the relay skips them by their event id (never by a high-water mark: on PostgreSQL a lower
        # seq can commit after a higher one); after a crash or a change of leader they go out again, and JetStream
        # drops the copies by their Nats-Msg-Id (consumers' inboxes would too).
        self._unmarked: list[str] = []
        self._mark_every_s = mark_every_s
        self._next_mark = time.monotonic() + mark_every_s
        # Hand-over (see the class): tickets given to transactions in worker threads, rows back in the loop.
        self._handoff = handoff
        self._tickets = threading.Lock()
        self._issued = 0  # tickets given out
        self._expected = 0  # the next ticket in order; the rows of later ones wait for it
        self._arrived: dict[int, tuple[list | None, float]] = {}  # ticket -> (rows or None, when it came back)
        self._ready: list = []  # rows handed over, in order, not sent yet
        self._recent: set[str] = set()
        self._recent_order: deque[str] = deque()
        self._look = True  # read the outbox in the next round
        self._next_look = 0.0

    def wake_threadsafe(self) -> None:
        """Ask the relay to look now (callable from any thread)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def expect(self) -> int | None:
        """A ticket for a transaction about to write outbox rows (any thread; see Notifier), or None when the rows
        are not handed over (no hand-over, or the relay is not running)."""
        if not self._handoff or self._loop is None:
            return None
        with self._tickets:
            ticket = self._issued
            self._issued += 1
        return ticket

    def deliver_threadsafe(self, ticket: int, rows: list[dict] | None) -> None:
        """A ticket back with the rows its transaction committed, or None (any thread)."""
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._arrive, ticket, rows)
        except RuntimeError:  # the loop is closed: stopping; the rows are in the outbox for the next start
            pass

    def _arrive(self, ticket: int, rows: list[dict] | None) -> None:
        if ticket < self._expected:  # came after later ones went on without it (STALL_S): the outbox read sends them
            if rows:
                self._look = True
                self._wake.set()
            return
        self._arrived[ticket] = (rows, time.monotonic())
        self._take_arrived()

    def _take_arrived(self) -> None:
        while self._expected in self._arrived:
            rows, _ = self._arrived.pop(self._expected)
            self._expected += 1
            if rows:
                self._ready.extend(rows)
        if len(self._ready) > 50 * self._batch:  # not sending (NATS away): the outbox keeps them
            self._ready = []
            self._look = True
        if self._ready or self._look:
            self._wake.set()

    def _unstall(self) -> None:
        """Let later tickets go on when the one before them has been out for longer than STALL_S."""
        if self._arrived and self._expected not in self._arrived:
            oldest = min(at for _, at in self._arrived.values())
            if time.monotonic() - oldest > self.STALL_S:
                self._expected = min(self._arrived)
                self._look = True  # the skipped transaction's rows, if it commits, come from the outbox
                self._take_arrived()

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        failures = 0
        while True:
            # Clear before looking: a commit that lands while we read still wakes the next wait.
            self._wake.clear()
            self._unstall()
            look = self._look or not self._handoff or time.monotonic() >= self._next_look
            if look and self.LINGER_S and self._busy:
                # under load, the commits right behind the one that woke us go in the same round; a lone event
                # (the last round sent at most one) goes at once
                await asyncio.sleep(self.LINGER_S)
            try:
                sent = 0
                if look:
                    self._look = False
                    self._next_look = time.monotonic() + self._poll_s
                    sent = await self.publish_pending()
                    self._busy = sent > 1
                sent += await self._publish_ready()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._look = True  # rows handed over and not acknowledged are read again
                failures += 1
                if failures == 1:
                    log.exception("relay round failed; retrying with back-off")
                else:
                    log.warning("relay still failing (%s attempts): %s", failures, exc.__class__.__name__)
                await asyncio.sleep(min(10.0, 0.5 * 2 ** min(failures, 5)))
                continue
            if sent:
                continue  # more may be waiting
            await self._mark_if_due()  # at most every mark_every_s: one write for the events sent meanwhile
            if self.keep is not None and time.monotonic() >= self._next_purge:
                self._next_purge = time.monotonic() + 3600
                try:
                    purged = await asyncio.to_thread(self.purge_published, self.keep)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the database away: in an hour
                    log.warning("relay could not purge published rows (%s)", exc.__class__.__name__)
                else:
                    if purged:
                        log.info("purged %s published outbox rows", purged)
            if self._ready or self._look:
                continue
            timeout = self._poll_s
            if self._unmarked:
                timeout = min(timeout, max(0.0, self._next_mark - time.monotonic()))
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)
            except asyncio.TimeoutError:
                pass

    async def _publish_ready(self) -> int:
        """Publish the rows handed over, in order, if this process leads lately enough; else the outbox read does."""
        if not self._ready:
            return 0
        rows, self._ready = self._ready, []
        if not self._leading_lately():
            self._look = True
            return 0
        rows = [SimpleNamespace(**row) for row in rows if row["event_id"] not in self._recent]
        if not rows:
            return 0
        sent = await self._send(rows)
        if sent < len(rows):
            self._look = True
        return sent

    def _leading_lately(self) -> bool:
        if self._engine.dialect.name != "postgresql":
            return self._file_lock is not None or not FILE_LOCKS
        return self._leader and time.monotonic() < self._leader_until

    def _pending_rows(self) -> list:
        if not self._holds_leadership():
            self._unmarked = []  # a later leadership starts again from what is marked
            return []
        sent = set(self._unmarked)
        outbox = self._outbox
        with db.reading(self._engine) as conn:
            # the waiting rows' ids first (rows sent but not marked yet are among them), then only the new rows in full
            waiting = conn.execute(
                select(outbox.c.seq, outbox.c.event_id).where(outbox.c.published_at.is_(None)).order_by(outbox.c.seq)
                .limit(self._batch + len(sent))
            ).all()
            new = [seq for seq, event_id in waiting if event_id not in sent][:self._batch]
            rows = conn.execute(select(outbox).where(among(conn, outbox.c.seq, new)).order_by(outbox.c.seq)).all() if new else []
            conn.commit()  # ends the read; a ROLLBACK would also make psycopg forget its prepared statements
        return rows

    async def _mark_now(self) -> None:
        event_ids, self._unmarked = self._unmarked, []
        self._next_mark = time.monotonic() + self._mark_every_s
        try:
            await asyncio.to_thread(self._mark_published, event_ids)
        except BaseException:
            self._unmarked = event_ids + self._unmarked  # tried again next time; meanwhile they are not sent twice
            raise

    def close(self) -> None:
        """Give up relay leadership (PostgreSQL) so another process can take over at once."""
        with self._leader_lock:
            self._close_leader()

    def _close_leader(self) -> None:
        self._next_leader_check = 0.0
        if self._file_lock is not None:
            os.close(self._file_lock)
            self._file_lock = None
        if self._leader_conn is not None:
            self._leader_conn.invalidate()  # a pooled connection would keep the session lock
            self._leader_conn.close()
            self._leader_conn = None
        self._leader = False

    def _holds_leadership(self) -> bool:
        """Only one replica relays at a time, so order holds: on PostgreSQL the one holding a session advisory lock, on
        SQLite the process holding `<database>.relay-lock` (several processes of one service share the file)."""
        if self._engine.dialect.name != "postgresql":
            with self._leader_lock:
                if self._file_lock is None:
                    self._file_lock = file_lock(self._engine, "relay")
                return self._file_lock is not None or not FILE_LOCKS  # without file locks: one process per file
        with self._leader_lock:
            return self._check_leadership()

    LEADER_CHECK_S = 1.0  # how often the leader confirms its lock's connection, and a follower tries to take over

    def _check_leadership(self) -> bool:
        now = time.monotonic()
        if now < self._next_leader_check:
            return self._leader
        self._next_leader_check = now + self.LEADER_CHECK_S
        try:
            if self._leader_conn is not None and self._leader:
                self._leader_conn.execute(text("SELECT 1"))  # a lost connection means a lost lock
                self._leader_conn.commit()
                self._leader_until = now + 2 * self.LEADER_CHECK_S
                return True
            if self._leader_conn is None:
                self._leader_conn = self._engine.connect()
            got = self._leader_conn.execute(
                text("SELECT pg_try_advisory_lock(hashtext(current_schema() || '.outbox_relay'))")
            ).scalar()
            self._leader_conn.commit()
            self._leader = bool(got)
            self._leader_until = now + 2 * self.LEADER_CHECK_S
            return self._leader
        except Exception:
            log.exception("relay leadership check failed")
            self._close_leader()
            return False

    async def publish_pending(self) -> int:
        """Read what is waiting in the outbox and publish it, oldest first (see _send); return how many went."""
        rows = await asyncio.to_thread(self._pending_rows)
        if not rows:
            return 0
        return await self._send(rows)

    async def _send(self, rows: list) -> int:
        """Publish rows in order without waiting for each acknowledgement before sending the next (one connection
        keeps them in order); count the run of rows acknowledged from the first on as sent, to be marked.

        A row after a failed one is sent again later: JetStream drops the copy by its Nats-Msg-Id."""
        acks = []
        recorded = spans_recorded()
        for row in rows:
            if not recorded:  # no publish span to make: consumers continue the trace of the request itself
                acks.append(await self._js.publish_async(row.subject, row.payload, headers=row.headers))
                continue
            headers = dict(row.headers)
            token = otel_context.attach(propagate.extract(headers))
            try:
                with tracer.start_as_current_span(f"publish {row.ce_type}", kind=trace.SpanKind.PRODUCER) as span:
                    span.set_attribute("messaging.system", "nats")
                    span.set_attribute("messaging.destination.name", row.subject)
                    span.set_attribute("messaging.message.id", row.event_id)
                    span.set_attribute("paht.report_id", row.report_id)
                    propagate.inject(headers)  # consumers become children of this publish span
                    acks.append(await self._js.publish_async(row.subject, row.payload, headers=headers))
            finally:
                otel_context.detach(token)
        done: list[str] = []
        try:
            results = await asyncio.wait_for(asyncio.gather(*acks, return_exceptions=True), timeout=5)
        except asyncio.TimeoutError:
            results = [a.result() if a.done() and not a.cancelled() and a.exception() is None else TimeoutError() for a in acks]
        for row, result in zip(rows, results):
            if isinstance(result, BaseException):
                if not done:
                    raise result
                break
            done.append(row.event_id)
            _published.add(1, {"paht.event_type": row.ce_type})
        self._unmarked.extend(done)
        for event_id in done:
            self._recent.add(event_id)
            self._recent_order.append(event_id)
        while len(self._recent_order) > self.RECENT:
            self._recent.discard(self._recent_order.popleft())
        self.published += len(done)
        await self._mark_if_due(many=1000)
        return len(done)

    async def _mark_if_due(self, many: int | None = None) -> None:
        """Mark the rows sent when mark_every_s has passed (or `many` wait); a failure is logged and the rows are
        marked at a later try: the events are out, and until then the relay knows not to send them again."""
        if not self._unmarked or (time.monotonic() < self._next_mark and (many is None or len(self._unmarked) < many)):
            return
        try:
            await self._mark_now()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("relay could not mark %s published rows (%s); trying again later", len(self._unmarked), exc.__class__.__name__)

    def purge_published(self, older_than: timedelta) -> int:
        """Delete outbox rows published long ago (JetStream keeps the events); return how many."""
        cutoff = datetime.now(timezone.utc) - older_than
        with self._engine.begin() as conn:
            result = conn.execute(
                delete(self._outbox).where(self._outbox.c.published_at.is_not(None), self._outbox.c.published_at < cutoff)
            )
        return result.rowcount or 0

    def _mark_published(self, event_ids: list[str]) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(self._outbox).where(among(conn, self._outbox.c.event_id, event_ids)).values(published_at=datetime.now(timezone.utc))
            )
