"""Unit of work: one transaction for a state change and the events it produces (the outbox)."""
from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timezone
from typing import Callable

from google.protobuf.message import Message
from opentelemetry import propagate
from sqlalchemy import Table
from sqlalchemy.orm import Session, sessionmaker

from paht.common.v1 import common_pb2
from paht.runtime.auth import Principal
from paht.runtime.events.envelope import Envelope, subject_for


def actor_of(user: Principal | None) -> common_pb2.Actor:
    """The staff member behind an event, or the citizen (who is never named in events)."""
    if user is None:
        return common_pb2.Actor(subject="citizen", role="reporter")
    return common_pb2.Actor(subject=user.subject, role=",".join(sorted(user.roles)), org_unit_id=user.org_unit)


class Notifier:
    """Tell the relay of the events a commit has put in the outbox, as soon as it is done (any thread).

    Listeners (`subscribe`) are called after a commit with events that were not handed over. A receiver (`hand_to`, the relay of a process
    that is its service's only writer) is handed the committed rows themselves, so it can publish them without
    reading them back: it gives each transaction a ticket before its outbox rows are written (`expect`), and is
    given the ticket back with the rows once committed, or with None when not (`committed`). A ticket is always
    given back, so the receiver can keep the order of the tickets. The ticket is taken in commit(), after everything
    the transaction read: a transaction that read what another committed (the next version of the same report, whose
    row the first one had locked) takes its ticket after the other one took its own.
    """

    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._receiver = None

    def subscribe(self, listener: Callable[[], None]) -> None:
        with self._lock:
            self._listeners.append(listener)

    def hand_to(self, receiver) -> None:
        """`receiver.expect() -> ticket | None` and `receiver.deliver_threadsafe(ticket, rows | None)`."""
        self._receiver = receiver

    def expect(self):
        """A ticket for a transaction about to write outbox rows, or None when nobody takes them over."""
        receiver = self._receiver
        return receiver.expect() if receiver is not None else None

    def committed(self, ticket, rows: list[dict] | None) -> None:
        """Give a ticket back with the rows committed (None: not committed; the receiver wakes itself), or without a
        ticket call the listeners after a commit with events."""
        if ticket is not None:
            self._receiver.deliver_threadsafe(ticket, rows)
        elif rows:
            self.notify()

    def notify(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener()


class UnitOfWork:
    """Use as `with uow:`; nothing is written unless commit() is called.

    A service's repositories (one per aggregate, from its ServiceSpec) are attributes while it is
    open, so use cases say `uow.cases.get(report_id)` and never write queries against the session.
    """

    def __init__(self, sessions: sessionmaker, outbox: Table, service: str, node_id: str, notifier: Notifier | None = None,
                 repositories: dict[str, Callable[[Session], object]] | None = None, hubs: tuple[str, ...] = (),
                 parent_node: str = "", read_only: bool = False):
        self._sessions = sessions
        self.read_only = read_only  # a reading unit (ServiceContext.reads): commit() is a programming error
        self.hubs = hubs  # federation (runtime/federation.py): on the province, the hubs it has declared;
        self.parent_node = parent_node  # on a hub, the province it joins
        self._repositories = repositories or {}
        self._outbox = outbox
        self.service = service
        self.node_id = node_id
        self._notifier = notifier
        self.session: Session | None = None
        self._pending: list[dict] = []
        self._staged: dict[Table, list[dict]] = {}
        self.scratch: dict = {}  # what a batch of handlers keeps between events of one transaction (e.g. counters)
        self._before_commit: list[Callable[[], None]] = []

    def __enter__(self) -> "UnitOfWork":
        self.session = self._sessions()
        self._pending = []
        self._staged = {}
        self.scratch = {}
        self._before_commit = []
        for name, make in self._repositories.items():  # e.g. uow.cases, uow.reports: one per aggregate
            setattr(self, name, make(self.session))
        return self

    def __exit__(self, *exc) -> None:
        assert self.session is not None
        # close() rolls back anything uncommitted but, unlike rollback(), keeps loaded objects readable
        self.session.close()
        self.session = None

    def emit(self, event: Message, *, report_id: str, version: int, actor: common_pb2.Actor | None = None, epoch: int = 0,
             at: datetime | None = None) -> Envelope:
        """Stage an event; its meta is filled here so that every event carries the same facts. `at`: when it happened,
        for a use case whose other times (a deadline) count from its own clock reading; now by default."""
        meta = event.meta
        meta.report_id = report_id
        meta.report_version = version
        meta.node_id = self.node_id
        meta.epoch = epoch
        meta.occurred_at.FromDatetime(at or datetime.now(timezone.utc))
        if actor is not None:
            meta.actor.CopyFrom(actor)
        carrier: dict[str, str] = {}
        propagate.inject(carrier)  # the trace of the request that caused the change travels with it
        envelope = Envelope.for_event(event, node_id=self.node_id, service=self.service, report_id=report_id, version=version,
                                      traceparent=carrier.get("traceparent", ""), tracestate=carrier.get("tracestate", ""))
        self._pending.append(
            {
                "event_id": envelope.id,
                "subject": subject_for(self.node_id, self.service, envelope.type),
                "ce_type": envelope.type,
                "report_id": report_id,
                "report_version": version,
                "payload": envelope.data,
                "headers": envelope.headers(),
                "created_at": datetime.now(timezone.utc),
            }
        )
        return envelope

    def pass_on(self, envelope: Envelope, *, subject: str, version: int, headers: dict[str, str] | None = None) -> None:
        """Stage another service's (or node's) event to be published again, unchanged but for its subject, its
        per-report version and extra headers (federation: what a border lets in, what the province sends a hub)."""
        moved = dict(envelope.headers(), **(headers or {}))
        moved["ce-reportversion"] = str(version)
        self._pending.append({
            "event_id": envelope.id, "subject": subject, "ce_type": envelope.type, "report_id": envelope.report_id,
            "report_version": version, "payload": envelope.data, "headers": moved, "created_at": datetime.now(timezone.utc),
        })

    def stage(self, table: Table, row: dict) -> None:
        """Insert a row at the commit, with the other rows staged for its table in one statement (tables in the
        order first staged, before the outbox). For new rows nothing in this transaction reads or points to
        before the commit; otherwise call write_staged() first."""
        self._staged.setdefault(table, []).append(row)

    def write_staged(self) -> None:
        """Insert the rows staged so far, now."""
        assert self.session is not None
        staged, self._staged = self._staged, {}
        for table, rows in staged.items():
            self.session.execute(table.insert(), rows)

    def before_commit(self, write: Callable[[], None]) -> None:
        """Run `write` at the commit, before the staged rows and the outbox (e.g. counters kept in `scratch`)."""
        self._before_commit.append(write)

    def commit(self) -> None:
        assert self.session is not None
        if self.read_only:
            raise RuntimeError(f"{self.service}: a reading unit of work (ctx.reads()) cannot commit; use ctx.uow()")
        for write in self._before_commit:
            write()
        self._before_commit = []
        if self._staged:
            self.write_staged()
        pending = self._pending
        # the relay's ticket is taken while this transaction still holds its locks (see Notifier)
        ticket = self._notifier.expect() if pending and self._notifier is not None else None
        committed = False
        try:
            if pending:
                self.session.flush()
                self.session.execute(self._outbox.insert(), pending)
            self.session.commit()
            committed = True
        finally:
            if ticket is not None or (committed and pending and self._notifier is not None):
                # the rows only once committed; on any error (even a commit that may have gone through) None, and
                # the relay's next read of the outbox finds whatever did commit
                self._notifier.committed(ticket, pending if committed else None)
        self._pending = []

    def rollback(self) -> None:
        assert self.session is not None
        self._pending = []
        self._staged = {}
        self.session.rollback()
        self.session.info.clear()  # what repositories noted of the transaction (ids read, rows absent) went with it


class GroupCommit:
    """Write small units of work that arrive together in one transaction: one commit for all of them.

    Under load, requests queue while a transaction is being written; the next transaction takes every
    one of them (up to `max_batch`), so the commit, the connection and the thread hop are shared. Each
    unit writes in the open transaction and never commits; the result goes to its own caller. When any
    unit of a batch fails, the batch is rolled back and each unit is written again alone (`alone`), so
    an error is only ever its own request's, and what one request sent is never lost for another's.
    Nothing is acknowledged before its commit.
    """

    def __init__(self, uow_factory: Callable[[], UnitOfWork], max_batch: int = 64,
                 before: Callable[[UnitOfWork, list], None] | None = None):
        self._uow_factory = uow_factory
        self._max_batch = max_batch
        self._before = before  # given every unit's note at once, before the units of a batch run (e.g. one read for all)
        self._queue: list = []
        self._writer = None

    async def run(self, together: Callable[[UnitOfWork], object], alone: Callable[[], object], note: object = None):
        """Return `together(uow)` once committed with whatever else was waiting (or `alone()` after a batch failed)."""
        future = asyncio.get_running_loop().create_future()
        self._queue.append((together, alone, future, note))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write())
        return await future

    async def _write(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:self._max_batch], self._queue[self._max_batch:]
            try:
                results = await asyncio.to_thread(self._apply, batch)
            except BaseException as exc:  # cancelled: every waiter must hear of it
                for _, _, future, _ in batch:
                    if not future.done():
                        future.set_exception(exc if isinstance(exc, Exception) else RuntimeError("the writer stopped"))
                raise
            for (_, _, future, _), (ok, value) in zip(batch, results):
                if future.done():
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)

    def _apply(self, batch: list) -> list[tuple[bool, object]]:
        if len(batch) > 1:
            try:
                with self._uow_factory() as uow:
                    if self._before is not None:
                        self._before(uow, [note for _, _, _, note in batch])
                    results = [together(uow) for together, _, _, _ in batch]
                    uow.commit()
                return [(True, r) for r in results]
            except Exception:  # one unit's error: each is written alone below, and fails or succeeds on its own
                pass
        out: list[tuple[bool, object]] = []
        for _, alone, _, _ in batch:
            try:
                out.append((True, alone()))
            except Exception as exc:
                out.append((False, exc))
        return out
