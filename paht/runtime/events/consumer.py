"""Consumers: apply another service's events exactly once and in per-report order."""
from __future__ import annotations

import asyncio
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from typing import Callable

from google.protobuf.message import Message
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from opentelemetry import metrics, propagate, trace
from sqlalchemy import Table, select
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from paht.runtime.db import among, set_many
from paht.runtime.events.bus import ensure_consumer, ensure_durable
from paht.runtime.errors import DomainError
from paht.runtime.events.envelope import Envelope
from paht.runtime.ids import new_id
from paht.runtime.telemetry import in_trace, spans_recorded
from paht.runtime.uow import UnitOfWork

log = logging.getLogger(__name__)
tracer = trace.get_tracer("paht.consumer")
_handled = metrics.get_meter("paht.consumer").create_counter("paht.events.handled", unit="{event}", description="Events taken from JetStream, by outcome")
# A handler that fails this many deliveries in a row with an unexpected error is parked too.
MAX_ATTEMPTS = 8
# Errors that retrying can never cure: a rule refused the event, or the database refuses its data.
PERMANENT = (DomainError, DataError, IntegrityError)
BLOCKED_RETRY_S = 60.0  # how often an event waiting behind a parked one is offered again

Handler = Callable[[UnitOfWork, Message, Envelope], None]
ANY = "*"  # a subscription's handler for every event type it has no handler of its own for


def handler_for(handlers: dict, type_name: str) -> Handler | None:
    return handlers.get(type_name) or handlers.get(ANY)


@contextmanager
def consume_span(envelope: Envelope, consumer: str, **attributes):
    """The span of one event's handling, a child of its producer's publish span: one trace from the request that
    caused the event to every service that applies it (alone or in a batch). Without recorded spans, only the trace."""
    if not spans_recorded():
        with in_trace(envelope.traceparent, envelope.tracestate) as span:
            yield span
        return
    with tracer.start_as_current_span(f"consume {envelope.type}", context=propagate.extract(envelope.headers()),
                                      kind=trace.SpanKind.CONSUMER) as span:
        span.set_attribute("messaging.system", "nats")
        span.set_attribute("messaging.message.id", envelope.id)
        span.set_attribute("paht.report_id", envelope.report_id)
        span.set_attribute("paht.consumer", consumer)
        for name, value in attributes.items():
            span.set_attribute(name, value)
        yield span


class Outcome(str, Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"  # seen before: acknowledge, change nothing
    EARLY = "early"          # an earlier version of this report is still missing: redeliver later
    PARKED = "parked"        # could not be applied: kept in dead_letters for an operator; acknowledge
    BLOCKED = "blocked"      # the version before it is parked: wait (long) until an operator resolves it


@dataclass
class Subscription:
    """Which of a producer's events a service handles: keys are message classes or full names."""

    producer: str                  # service whose events are read
    handlers: dict                 # {events_pb2.ReportAccepted: handler} or {"paht.intake.v1.ReportAccepted": handler}
    # called once before a batch of events is applied, with their report ids (e.g. to load their rows with one query)
    preload: Callable[[UnitOfWork, list[str]], None] | None = None
    # Where the events are read, when not from the producer's stream on this node (federation: the node's inbound
    # stream, or a peer's stream read by the border): the stream, its subjects to filter on, the durable's name, and
    # the JetStream domain it lives in (None: this node's).
    stream: str | None = None
    subjects: str | tuple[str, ...] | None = None
    durable: str | None = None
    domain: str | None = None
    ack_wait_s: float = 10.0
    # False: the service is ready without this subscription's consumer (a peer node that may be out of reach).
    required: bool = True
    batch: int = 100  # events taken and applied in one transaction at most (the border takes more: a link's backlog)

    def __post_init__(self) -> None:
        by_name: dict[str, Handler] = {}
        for key, handler in self.handlers.items():
            name = key.DESCRIPTOR.full_name if hasattr(key, "DESCRIPTOR") else key
            if "." not in name and name != ANY:  # a short name would also catch a future v2 message of the same name
                raise ValueError(f"subscribe by message class or full name, not {name!r}")
            by_name[name] = handler
        self.handlers = by_name


def chain(*handlers: Handler) -> Handler:
    """Return one handler that runs several in order, in the same transaction (e.g. step 2's item, then its clock)."""
    def run(uow, event, envelope) -> None:
        for handler in handlers:
            handler(uow, event, envelope)

    run.__name__ = "+".join(getattr(h, "__name__", "handler") for h in handlers)
    return run


class EventApplier:
    """Apply one envelope inside one transaction: handler, inbox row and position move together."""

    def __init__(self, consumer: str, uow_factory: Callable[[], UnitOfWork], inbox: Table, positions: Table,
                 dead_letters: Table | None = None, local_node: str = ""):
        self.consumer = consumer
        self.local_node = local_node  # another node's events are counted apart from this node's (Envelope.position_key)
        self._uow_factory = uow_factory
        self._inbox = inbox
        self._positions = positions
        self._dead = dead_letters

    def apply(self, envelope: Envelope, handlers: dict[str, Handler]) -> Outcome:
        key = envelope.position_key(self.local_node)
        with self._uow_factory() as uow:
            s = uow.session
            seen = s.execute(
                select(self._inbox.c.event_id).where(
                    self._inbox.c.consumer == self.consumer, self._inbox.c.event_id == envelope.id
                )
            ).first()
            if seen:
                return Outcome.DUPLICATE
            row = s.execute(
                select(self._positions.c.version)
                .where(self._positions.c.consumer == self.consumer, self._positions.c.stream_key == key)
                .with_for_update()
            ).first()
            last = row.version if row else 0
            if envelope.report_version <= last:
                return Outcome.DUPLICATE
            if envelope.report_version > last + 1:
                return Outcome.BLOCKED if self._parked_at(s, envelope, last + 1) else Outcome.EARLY
            handler = handler_for(handlers, envelope.type)
            if handler is not None:
                handler(uow, envelope.decode(), envelope)
            self._advance(s, key, row is not None, envelope, acted=handler is not None)
            uow.commit()
            return Outcome.APPLIED

    def apply_batch(self, envelopes: list[Envelope], handlers: dict[str, Handler], service: str = "",
                    preload: Callable[[UnitOfWork, list[str]], None] | None = None) -> list[Outcome] | None:
        """Apply several envelopes in one transaction (one commit instead of one each); None when any fails.

        The same rules as apply(), one event after the other, with the inbox and positions read once for the
        batch. A handler's error rolls the whole batch back and returns None: the caller then applies the
        events one by one, so a bad event is parked alone and the good ones around it still land.
        """
        if not envelopes:
            return []
        inbox, positions = self._inbox.c, self._positions.c
        keys = {e.position_key(self.local_node) for e in envelopes}
        try:
            with self._uow_factory() as uow:
                s = uow.session
                seen = set(s.execute(select(inbox.event_id).where(
                    inbox.consumer == self.consumer, among(s, inbox.event_id, [e.id for e in envelopes]))).scalars())
                known = {r.stream_key: r.version for r in s.execute(
                    select(positions.stream_key, positions.version)
                    .where(positions.consumer == self.consumer, among(s, positions.stream_key, sorted(keys)))
                    .with_for_update())}
                current = dict(known)
                if preload is not None:
                    preload(uow, [e.report_id for e in envelopes if e.id not in seen])
                outcomes: list[Outcome] = []
                handled: list[Envelope] = []
                acted: list[Envelope] = []  # handled by a handler: what the inbox keeps (INBOX_RULE)
                for envelope in envelopes:
                    key = envelope.position_key(self.local_node)
                    with consume_span(envelope, service, **{"paht.batch": len(envelopes)}) as span:
                        last = current.get(key, 0)
                        if envelope.id in seen or envelope.report_version <= last:
                            outcome = Outcome.DUPLICATE
                        elif envelope.report_version > last + 1:
                            outcome = Outcome.BLOCKED if self._parked_at(s, envelope, last + 1) else Outcome.EARLY
                        else:
                            handler = handler_for(handlers, envelope.type)
                            if handler is not None:
                                handler(uow, envelope.decode(), envelope)
                                acted.append(envelope)
                            current[key] = envelope.report_version
                            seen.add(envelope.id)
                            handled.append(envelope)
                            outcome = Outcome.APPLIED
                        span.set_attribute("paht.outcome", outcome.value)
                    outcomes.append(outcome)
                if handled:
                    now = datetime.now(timezone.utc)
                    moved = {k: v for k, v in current.items() if known.get(k) != v}
                    # one statement for all the positions that moved, one for the new ones
                    set_many(s, self._positions, "stream_key", "version", {k: v for k, v in moved.items() if k in known},
                             consumer=self.consumer)
                    fresh = [{"consumer": self.consumer, "stream_key": k, "version": v} for k, v in moved.items() if k not in known]
                    if fresh:
                        s.execute(self._positions.insert(), fresh)
                    if acted:
                        s.execute(self._inbox.insert(), [{"consumer": self.consumer, "event_id": e.id, "ce_type": e.type,
                                                          "handled_at": now} for e in acted])
                    uow.commit()
                return outcomes
        except Exception:
            log.debug("a batch of %s events failed; applying them one by one", len(envelopes), exc_info=True)
            return None

    def _advance(self, s, key: str, exists: bool, envelope: Envelope, acted: bool = True) -> None:
        """Move the report's position to this event, and remember it in the inbox when a handler acted on it.

        INBOX_RULE: an event of a type this service does not handle is recognised again by its position alone
        (nothing was done that could be done twice), so it costs no inbox row."""
        if exists:
            s.execute(
                self._positions.update()
                .where(self._positions.c.consumer == self.consumer, self._positions.c.stream_key == key)
                .values(version=envelope.report_version)
            )
        else:
            s.execute(self._positions.insert().values(consumer=self.consumer, stream_key=key, version=envelope.report_version))
        if not acted:
            return
        s.execute(
            self._inbox.insert().values(
                consumer=self.consumer, event_id=envelope.id, ce_type=envelope.type, handled_at=datetime.now(timezone.utc)
            )
        )

    def _parked_at(self, s, envelope: Envelope, version: int) -> bool:
        if self._dead is None:
            return False
        d = self._dead.c
        return s.execute(
            select(d.id).where(d.consumer == self.consumer, d.producer == envelope.producer, d.report_id == envelope.report_id,
                               d.report_version == version, d.status == "parked")
        ).first() is not None

    def park(self, envelope: Envelope, error: BaseException, attempts: int) -> str | None:
        """Keep an event that cannot be applied, once, for an operator; return its dead-letter id."""
        if self._dead is None:
            return None
        d = self._dead.c
        text = f"{type(error).__name__}: {getattr(error, 'detail_en', None) or error}"[:4000]
        with self._uow_factory() as uow:
            s = uow.session
            existing = s.execute(select(d.id).where(d.consumer == self.consumer, d.event_id == envelope.id, d.status == "parked")).first()
            if existing:
                s.execute(self._dead.update().where(d.id == existing.id).values(error=text, attempts=attempts))
                uow.commit()
                return existing.id
            dead_id = new_id()
            s.execute(self._dead.insert().values(
                id=dead_id, consumer=self.consumer, event_id=envelope.id, ce_type=envelope.type, producer=envelope.producer,
                report_id=envelope.report_id, report_version=envelope.report_version, payload=envelope.data,
                headers=envelope.headers(), error=text, attempts=attempts, status="parked",
                parked_at=datetime.now(timezone.utc), resolved_at=None, resolved_by="",
            ))
            uow.commit()
            return dead_id

    def discard(self, envelope: Envelope) -> None:
        """Skip a parked event on an operator's word: its report's later events may flow."""
        key = envelope.position_key(self.local_node)
        with self._uow_factory() as uow:
            s = uow.session
            row = s.execute(
                select(self._positions.c.version)
                .where(self._positions.c.consumer == self.consumer, self._positions.c.stream_key == key)
                .with_for_update()
            ).first()
            if (row.version if row else 0) + 1 != envelope.report_version:
                return  # not the next one (already applied, or an earlier one is still missing): nothing to skip
            self._advance(s, key, row is not None, envelope)
            uow.commit()


def is_permanent(error: BaseException) -> bool:
    """Say whether retrying cannot help (the lost database connection is never permanent)."""
    return isinstance(error, PERMANENT) and not isinstance(error, OperationalError)


class EventConsumer:
    """Pull one producer's events from its durable consumer and apply them."""

    def __init__(self, js: JetStreamContext, node_id: str, service: str, subscription: Subscription, applier: EventApplier, duplicate_window_s: int = 600):
        self._js = js
        self._duplicate_window_s = duplicate_window_s
        self._node_id = node_id
        self._service = service
        self._sub = subscription
        self._applier = applier
        self.applied = 0
        self.ready = asyncio.Event()
        self._down_since: float | None = None

    async def run(self) -> None:
        sub = self._sub
        if sub.stream is None:
            stream, durable = await ensure_consumer(self._js, self._node_id, self._service, sub.producer, self._duplicate_window_s)
            psub = await self._js.pull_subscribe_bind(durable=durable, stream=stream)
        else:
            js = self._js if sub.domain is None else self._js._nc.jetstream(domain=sub.domain, timeout=5)
            while True:  # a peer node's stream may be out of reach (a partition, its server restarting): wait quietly
                try:
                    stream, durable = await ensure_durable(js, sub.stream, sub.durable, sub.subjects, ack_wait_s=sub.ack_wait_s)
                    psub = await js.pull_subscribe_bind(durable=durable, stream=stream)
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if sub.required:
                        raise
                    self._out_of_reach(exc)
                    await asyncio.sleep(self.RETRY_S)
            self._in_reach()
        self.ready.set()
        while True:
            try:
                # Whatever is waiting, up to BATCH; when nothing is, the first event to arrive returns at once.
                msgs = await psub.fetch(batch=sub.batch, timeout=self.FETCH_WAIT_S)
            except (NatsTimeout, asyncio.TimeoutError):  # nothing came (nats-py raises either, depending on where it waited)
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if sub.required:
                    log.exception("fetch from %s failed; retrying", durable)
                else:
                    self._out_of_reach(exc)
                await asyncio.sleep(self.RETRY_S)
                continue
            if msgs and not sub.required:
                self._in_reach()
            if len(msgs) == 1:
                await self._handle(msgs[0])
            else:
                await self._handle_batch(msgs)

    BATCH = 100  # events applied in one transaction when that many are waiting
    RETRY_S = 1.0  # how often a stream out of reach is asked again (a healed link is used within this)
    # How long one pull waits for an event before asking again. An event published while a pull waits is at times
    # delivered only to the next pull (nats-py 2.16 with nats-server 2.15): with 5 s pulls, 3-4 s between a commit and
    # some of its consumers (10 % of province → hub dispatches); with 0.5 s, p95 140 ms and at most 0.6 s end to end
    # (decision 0024, the last section). An idle consumer asks twice a second: nothing for a server.
    FETCH_WAIT_S = 0.5

    def _out_of_reach(self, exc: BaseException) -> None:
        """A peer node's stream did not answer: one warning when it starts, not one per try."""
        if self._down_since is None:
            self._down_since = asyncio.get_running_loop().time()
            log.warning("%s: the stream %s of node %s is out of reach (%s); its events wait there and are read when it "
                        "answers again", self._service, self._sub.stream, self._sub.domain, type(exc).__name__ if not str(exc) else exc)

    def _in_reach(self) -> None:
        if self._down_since is not None:
            log.info("%s: the stream %s of node %s answers again after %.1f s", self._service, self._sub.stream, self._sub.domain,
                     asyncio.get_running_loop().time() - self._down_since)
            self._down_since = None
    # No second, short fetch for the events right behind a batch ("linger"): nats-py leaves such a pull request behind
    # on the server, the next event goes to it, and waits there for a later fetch — measured: p50 210 ms, p95 939 ms
    # and spikes of 3-4 s between a commit and its consumers, against p50 1.3 ms, p95 3.3 ms without (decision 0024).
    # Batches still form by themselves: a fetch takes everything that waits, up to BATCH.

    async def _handle_batch(self, msgs: list) -> None:
        """Apply waiting events in one transaction; if any fails, each goes its own way (retry, park)."""
        ready: list = []
        for msg in msgs:
            try:
                ready.append((msg, Envelope.from_nats(msg.headers, msg.data)))
            except ValueError:
                log.error("dropping a message that is not a PAHT event on %s", msg.subject)
                await msg.term()
        outcomes = await asyncio.to_thread(self._applier.apply_batch, [e for _, e in ready], self._sub.handlers, self._service,
                                           self._sub.preload)
        if outcomes is None:
            for msg, _ in ready:
                await self._handle(msg)
            return
        for (msg, envelope), outcome in zip(ready, outcomes):
            _handled.add(1, {"paht.consumer": self._service, "paht.event_type": envelope.type, "paht.outcome": outcome.value})
            await self._settle(msg, envelope, outcome)

    async def _handle(self, msg) -> None:
        try:
            envelope = Envelope.from_nats(msg.headers, msg.data)
        except ValueError:
            log.error("dropping a message that is not a PAHT event on %s", msg.subject)
            await msg.term()
            return
        with consume_span(envelope, self._service) as span:
            try:
                outcome = await asyncio.to_thread(self._applier.apply, envelope, self._sub.handlers)
            except Exception as exc:
                attempts = _deliveries(msg)
                span.set_status(trace.Status(trace.StatusCode.ERROR))
                parked = await self._park(envelope, exc, attempts) if is_permanent(exc) or attempts >= MAX_ATTEMPTS else None
                if parked is not None:
                    outcome = parked
                else:
                    log.exception("handling %s failed (attempt %s); will be redelivered", envelope.type, attempts,
                                  extra={"report_id": envelope.report_id, "event_id": envelope.id})
                    await msg.nak(delay=_backoff(attempts, 2.0))
                    return
            span.set_attribute("paht.outcome", outcome.value)
            _handled.add(1, {"paht.consumer": self._service, "paht.event_type": envelope.type, "paht.outcome": outcome.value})
        await self._settle(msg, envelope, outcome)

    async def _settle(self, msg, envelope: Envelope, outcome: Outcome) -> None:
        """Acknowledge, or ask for a later redelivery, as the outcome says."""
        if outcome is Outcome.EARLY:
            attempts = _deliveries(msg)
            if attempts == 20:
                log.error("an earlier event of this report has not arrived after 20 tries; later ones wait",
                          extra={"report_id": envelope.report_id, "event_id": envelope.id})
            await msg.nak(delay=_backoff(attempts, 0.5, cap=5.0))  # the missing one is usually seconds away
        elif outcome is Outcome.BLOCKED:
            await msg.nak(delay=BLOCKED_RETRY_S)  # until an operator replays or discards the parked one
        else:
            if outcome is Outcome.APPLIED:
                self.applied += 1
            await msg.ack()

    async def _park(self, envelope: Envelope, exc: BaseException, attempts: int) -> Outcome | None:
        try:
            dead_id = await asyncio.to_thread(self._applier.park, envelope, exc, attempts)
        except Exception:  # the database is away too: the caller retries the delivery later
            log.exception("could not park %s", envelope.type, extra={"report_id": envelope.report_id, "event_id": envelope.id})
            return None
        if dead_id is None:
            return None
        log.error("parked %s as dead letter %s after %s attempt(s): %s; an operator must replay or discard it",
                  envelope.type, dead_id, attempts, type(exc).__name__,
                  extra={"report_id": envelope.report_id, "event_id": envelope.id}, exc_info=exc)
        return Outcome.PARKED


def _deliveries(msg) -> int:
    try:
        return int(msg.metadata.num_delivered)
    except Exception:  # not a JetStream message (tests)
        return 1


def _backoff(attempts: int, first: float, cap: float = 60.0) -> float:
    """Wait longer after each failed try so a stuck event cannot spin."""
    return min(cap, first * 2 ** max(0, attempts - 1))
