"""NATS JetStream plumbing: connect, and create streams and durable consumers idempotently."""
from __future__ import annotations

import logging

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from paht.runtime.events.envelope import stream_for

log = logging.getLogger(__name__)


async def connect(url: str, name: str, inbox_prefix: str = "_INBOX") -> Client:
    """Connect with endless reconnects: a broker outage must delay events, never drop the service."""

    async def on_error(exc: Exception) -> None:  # one line per failure, not a traceback every half second
        log.warning("NATS: %s", exc.__class__.__name__ if not str(exc) else exc)

    async def on_disconnected() -> None:
        log.warning("NATS connection lost; events wait in the outbox")

    async def on_reconnected() -> None:
        log.info("NATS connection back")

    return await nats.connect(
        url,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=2,
        allow_reconnect=True,
        error_cb=on_error,
        disconnected_cb=on_disconnected,
        reconnected_cb=on_reconnected,
        inbox_prefix=inbox_prefix,
    )


async def ensure_stream(js: JetStreamContext, node_id: str, service: str, duplicate_window_s: int = 600) -> str:
    """Create (or bring up to date) the stream of one service's events; return its name."""
    name, subjects = stream_for(node_id, service)
    return await ensure_named_stream(js, name, subjects, f"PAHT events from {service} on node {node_id}", duplicate_window_s)


async def ensure_named_stream(js: JetStreamContext, name: str, subjects: str, description: str,
                              duplicate_window_s: int = 600) -> str:
    """Create (or bring up to date) a stream by its name and subjects; return its name."""
    config = StreamConfig(name=name, subjects=[subjects], storage=StorageType.FILE, duplicate_window=float(duplicate_window_s),
                          description=description)
    try:
        await js.stream_info(name)
    except NotFoundError:
        try:
            await js.add_stream(config)
            log.info("stream created", extra={"stream": name})
            return name
        except BadRequestError:  # created meanwhile by another process
            pass
    await js.update_stream(config)
    return name


async def ensure_durable(js: JetStreamContext, stream: str, durable: str, subjects: str | tuple[str, ...],
                         ack_wait_s: float = 10.0) -> tuple[str, str]:
    """Create a durable pull consumer on an existing stream (possibly in another node's domain: `js` says which),
    filtered on one subject or on several (the server then sends only those, in stream order)."""
    several = not isinstance(subjects, str) and len(subjects) > 1
    one = subjects if isinstance(subjects, str) else (None if several else subjects[0])
    config = ConsumerConfig(durable_name=durable, filter_subject=one, filter_subjects=list(subjects) if several else None,
                            ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL, ack_wait=ack_wait_s, max_ack_pending=1000)
    try:
        await js.consumer_info(stream, durable)
    except NotFoundError:
        try:
            await js.add_consumer(stream, config)
        except BadRequestError:
            pass
    return stream, durable


def durable_name(consumer_service: str, producer_service: str) -> str:
    return f"{consumer_service}-from-{producer_service}"


async def ensure_consumer(
    js: JetStreamContext, node_id: str, consumer_service: str, producer_service: str, duplicate_window_s: int = 600
) -> tuple[str, str]:
    """Create the durable pull consumer through which one service reads another's events."""
    stream = await ensure_stream(js, node_id, producer_service, duplicate_window_s)
    _, subjects = stream_for(node_id, producer_service)
    # a crashed consumer's messages come back after ack_wait
    return await ensure_durable(js, stream, durable_name(consumer_service, producer_service), subjects, ack_wait_s=10.0)
