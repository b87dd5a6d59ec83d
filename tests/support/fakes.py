"""An in-memory unit of work for unit tests of use cases: no database, the same shape as the real one."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from google.protobuf.message import Message


class FakeUnitOfWork:
    """Holds in-memory repositories (given as attributes) and records the events a use case emits."""

    def __init__(self, **repositories: Any):
        for name, repo in repositories.items():
            setattr(self, name, repo)
        self.session = None
        self.node_id = "province"
        self.hubs: tuple[str, ...] = ()  # federation, as the real one carries it
        self.parent_node = ""
        self.committed = False
        self.events: list[tuple[Message, str, int]] = []  # (event, report_id, version), committed only
        self._pending: list[tuple[Message, str, int]] = []

    def __enter__(self) -> "FakeUnitOfWork":
        self._pending = []
        return self

    def __exit__(self, *exc) -> None:
        self._pending = []

    def emit(self, event: Message, *, report_id: str, version: int, actor=None, epoch: int = 0, at=None):
        event.meta.report_id, event.meta.report_version, event.meta.epoch = report_id, version, epoch
        if at is not None:
            event.meta.occurred_at.FromDatetime(at)
        if actor is not None:
            event.meta.actor.CopyFrom(actor)
        self._pending.append((event, report_id, version))
        return SimpleNamespace(id=f"event-{len(self.events) + len(self._pending)}-{report_id}")  # as the real one's envelope

    def commit(self) -> None:
        self.events.extend(self._pending)
        self._pending = []
        self.committed = True

    def rollback(self) -> None:
        self._pending = []
