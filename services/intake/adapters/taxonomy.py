"""Intake's copy of the taxonomy (topics and their groups), which dispatch owns.

Topics come from dispatch's ListTopics over gRPC, are kept in memory for a minute and copied to
intake's own table, so that step 1 checks every topic even while dispatch is away, also after a
restart. Only when there is no copy at all does a lookup fail, with Unavailable (503).
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import datetime, timezone
from typing import Callable

import grpc
from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from paht.dispatch.v1 import directory_pb2, directory_pb2_grpc
from paht.runtime.errors import Unavailable
from paht.runtime.grpcx import channel_credentials
from paht.runtime.settings import Settings
from services.intake.adapters.orm import taxonomy_topics
from services.intake.domain.taxonomy import Topic

log = logging.getLogger(__name__)
MAX_AGE_S = 60.0  # how long topics from dispatch are used before asking again
RETRY_S = 10.0    # after dispatch did not answer, how long to use the copy before asking again


class TaxonomyUnreachable(Exception):
    """Dispatch did not answer with topics."""


class DispatchTopics:
    """Ask dispatch for the topics in force (a blocking call: use cases run in worker threads)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._channel: grpc.Channel | None = None
        self._lock = threading.Lock()

    def _stub(self) -> directory_pb2_grpc.DirectoryServiceStub:
        with self._lock:
            if self._channel is None:
                try:
                    address = self.settings.grpc_address("dispatch")
                except RuntimeError as exc:
                    raise TaxonomyUnreachable(str(exc)) from None
                creds = channel_credentials(self.settings)
                channel = grpc.secure_channel(address, creds) if creds else grpc.insecure_channel(address)
                self._channel = _traced(channel)
            return directory_pb2_grpc.DirectoryServiceStub(self._channel)

    def __call__(self, wait: bool = False) -> list[Topic]:
        """Ask dispatch; with `wait`, ride out the channel's reconnect back-off (up to the call's deadline)
        instead of failing at once: used when intake has no copy to fall back on."""
        stub = self._stub()
        try:
            reply = stub.ListTopics(directory_pb2.ListTopicsRequest(), timeout=self.settings.grpc_timeout_s, wait_for_ready=wait)
        except grpc.RpcError as exc:
            raise TaxonomyUnreachable(exc.code().name) from None
        return [Topic(code=t.code, name=t.name, group_code=t.group_code, group_name=t.group_name) for t in reply.topics]

    def close(self) -> None:
        with self._lock:
            if self._channel is not None:
                self._channel.close()
                self._channel = None


def _traced(channel: grpc.Channel) -> grpc.Channel:
    """The call joins the trace of the request that made it."""
    from opentelemetry.instrumentation.grpc import client_interceptor
    from opentelemetry.instrumentation.grpc.grpcext import intercept_channel

    return intercept_channel(channel, client_interceptor())


class TaxonomyCopy:
    """The topics as last heard from dispatch, in intake's own table."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def load(self) -> dict[str, Topic]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(taxonomy_topics)).all()
        return {r.code: Topic(code=r.code, name=r.name, group_code=r.group_code, group_name=r.group_name) for r in rows}

    def replace(self, topics: list[Topic], now: datetime) -> None:
        """Make the copy exactly these topics (upserts, so two copies of intake may do it at once)."""
        insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        rows = [{"code": t.code, "name": t.name[:300], "group_code": t.group_code, "group_name": t.group_name[:300], "copied_at": now}
                for t in topics]
        with self.engine.begin() as conn:
            stmt = insert(taxonomy_topics)
            conn.execute(stmt.on_conflict_do_update(index_elements=["code"], set_={
                "name": stmt.excluded.name, "group_code": stmt.excluded.group_code,
                "group_name": stmt.excluded.group_name, "copied_at": stmt.excluded.copied_at,
            }), rows)
            conn.execute(taxonomy_topics.delete().where(taxonomy_topics.c.code.not_in([t.code for t in topics])))


class CachedTaxonomy:
    """The Taxonomy port: dispatch's topics, cached, with the stored copy to fall back on.

    Never call find() while this thread holds a unit of work open: on SQLite the copy's own
    connection would wait for that transaction's lock.
    """

    def __init__(self, fetch: Callable[[], list[Topic]], copy: TaxonomyCopy, max_age_s: float = MAX_AGE_S,
                 retry_s: float = RETRY_S, clock: Callable[[], float] = time.monotonic):
        self._fetch, self._copy = fetch, copy
        self._max_age_s, self._retry_s, self._clock = max_age_s, retry_s, clock
        self._topics: dict[str, Topic] | None = None
        self._fetched_at = float("-inf")  # when dispatch last answered
        self._next_attempt = float("-inf")
        self._lock = threading.Lock()

    def find(self, code: str) -> Topic | None:
        return self._current().get(code)

    def close(self) -> None:
        close = getattr(self._fetch, "close", None)
        if close is not None:
            close()

    @property
    def has_topics(self) -> bool:
        return self._topics is not None

    def refresh(self) -> bool:
        """Ask dispatch now; True when the topics came from it (the keeper's periodic call)."""
        with self._lock:
            return self._refresh()

    def _fresh(self) -> bool:
        return self._topics is not None and self._clock() - self._fetched_at < self._max_age_s

    def _current(self) -> dict[str, Topic]:
        if self._fresh():
            return self._topics
        # Stale: one thread asks dispatch; the others keep using what is in memory meanwhile.
        if not self._lock.acquire(blocking=self._topics is None):
            return self._topics
        try:
            if self._topics is None:
                self._topics = self._copy.load() or None
            # With no copy at all, ask dispatch on every lookup: backing off would refuse reports for nothing.
            if not self._fresh() and (self._topics is None or self._clock() >= self._next_attempt):
                self._refresh()
            if self._topics is None:
                raise Unavailable(
                    "Topics cannot be checked now: the directory service does not answer and intake has no copy of its topics yet. Try again in a minute.",
                    "Chưa thể kiểm tra lĩnh vực: dịch vụ danh mục không phản hồi và chưa có bản sao danh mục lĩnh vực. Vui lòng thử lại sau ít phút.",
                )
            return self._topics
        finally:
            self._lock.release()

    def _refresh(self) -> bool:
        try:
            topics = self._fetch(wait=self._topics is None)
        except TaxonomyUnreachable as exc:
            log.warning("dispatch did not list its topics (%s); checking topics against intake's copy", exc)
            self._next_attempt = self._clock() + self._retry_s
            return False
        if not topics:  # a dispatch without topics (not seeded yet) must not wipe the copy
            log.warning("dispatch listed no topics; keeping intake's copy")
            self._next_attempt = self._clock() + self._retry_s
            return False
        fetched = {t.code: t for t in topics}
        if fetched != self._topics:  # write the copy only when the taxonomy changed (or on the first answer)
            self._copy.replace(topics, datetime.now(timezone.utc))
        self._topics = fetched
        self._fetched_at = self._clock()
        return True


async def keep_fresh(taxonomy: CachedTaxonomy, every_s: float = MAX_AGE_S) -> None:
    """Refresh the taxonomy from dispatch now and then, so a copy exists before anyone needs it."""
    while True:
        try:
            ok = await asyncio.to_thread(taxonomy.refresh)
        except Exception:  # a broken database must not end the loop; the next round tries again
            log.exception("could not refresh intake's copy of the taxonomy")
            ok = False
        # without any copy yet (dispatch still starting), try again soon
        await asyncio.sleep(every_s if ok else (RETRY_S if taxonomy.has_topics else 1.0))
