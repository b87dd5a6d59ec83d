"""Whether this process has written to its database since a moment: a counter moved after every commit that wrote.

The public reads' cache (entrypoints/cached.py) keeps an answer only while the counter has not moved since the answer
was read: whatever this process commits (an event applied by its consumers, a step-8 publication, an Open311 POST,
a new copy of the taxonomy) makes every kept answer stale at once. Writes of another process (another replica of
publication) are not seen here: the cache's short age bounds those.

The counter is read before a read starts and moves after the commit has finished, so an answer read from a snapshot
older than a commit is never kept under the counter that follows that commit.
"""
from __future__ import annotations

import itertools
import threading

from sqlalchemy import event
from sqlalchemy.orm import Session

WROTE = "publication.wrote"
_lock = threading.Lock()
_counter = itertools.count(1)
_now = 0


def generation() -> int:
    """The number of writing commits this process has seen (any service's sessions in a process that hosts several)."""
    return _now


def moved() -> None:
    global _now
    with _lock:
        _now = next(_counter)


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, flush_context) -> None:
    session.info[WROTE] = True


@event.listens_for(Session, "do_orm_execute")
def _executed(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[WROTE] = True


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if session.info.pop(WROTE, False):
        moved()


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(WROTE, None)
