"""Unit of work: one transaction for a state change and the events it produces (the outbox)."""
from __future__ import annotations

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
    """Wake the relay as soon as a commit has put events in the outbox (any thread)."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Callable[[], None]) -> None:
        with self._lock:
            self._listeners.append(listener)

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
                 repositories: dict[str, Callable[[Session], object]] | None = None):
        self._sessions = sessions
        self._repositories = repositories or {}
        self._outbox = outbox
        self.service = service
        self.node_id = node_id
        self._notifier = notifier
        self.session: Session | None = None
        self._pending: list[dict] = []

    def __enter__(self) -> "UnitOfWork":
        self.session = self._sessions()
        self._pending = []
        for name, make in self._repositories.items():  # e.g. uow.cases, uow.reports: one per aggregate
            setattr(self, name, make(self.session))
        return self

    def __exit__(self, *exc) -> None:
        assert self.session is not None
        # close() rolls back anything uncommitted but, unlike rollback(), keeps loaded objects readable
        self.session.close()
        self.session = None

    def emit(self, event: Message, *, report_id: str, version: int, actor: common_pb2.Actor | None = None, epoch: int = 0) -> Envelope:
        """Stage an event; its meta is filled here so that every event carries the same facts."""
        meta = event.meta
        meta.report_id = report_id
        meta.report_version = version
        meta.node_id = self.node_id
        meta.epoch = epoch
        meta.occurred_at.FromDatetime(datetime.now(timezone.utc))
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

    def commit(self) -> None:
        assert self.session is not None
        if self._pending:
            self.session.flush()
            self.session.execute(self._outbox.insert(), self._pending)
        self.session.commit()
        had_events = bool(self._pending)
        self._pending = []
        if had_events and self._notifier is not None:
            self._notifier.notify()

    def rollback(self) -> None:
        assert self.session is not None
        self._pending = []
        self.session.rollback()
