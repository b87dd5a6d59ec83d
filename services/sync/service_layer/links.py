"""How the links to the other nodes stand, for the status API, the sync page and the metrics.

A watcher in the sync process asks, every few seconds and with a short timeout, each peer's JetStream (through the
leaf link) how far this node's border is behind on its stream (inbound), and its own JetStream how far the peer's
border is behind on what this node keeps for it (outbound, the province only). An answer means the link is up. The
border itself notes each event it lets in (how late it arrived). Everything here is in memory: it describes the link
as this process sees it now, and is rebuilt within seconds after a restart; the refused events are in the database.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from nats.js.errors import NotFoundError
from opentelemetry import metrics
from opentelemetry.metrics import Observation

from paht.runtime import federation
from paht.runtime.events.envelope import stream_for

log = logging.getLogger(__name__)
CHECK_EVERY_S = 2.0
ASK_TIMEOUT_S = 1.5


@dataclass
class Side:
    pending_events: int | None = None      # events waiting on that side of the link (None: not known yet)
    lag_s: float | None = None              # how late the last event let in arrived (its time to here)
    events: int = 0                         # events let in by this process
    last_event_at: str | None = None


@dataclass
class Link:
    peer: str
    up: bool = False
    last_contact: str | None = None
    rtt_ms: float | None = None
    inbound: Side = field(default_factory=Side)
    outbound: Side = field(default_factory=Side)

    def as_json(self) -> dict:
        return asdict(self)


_lock = threading.Lock()
_links: dict[str, Link] = {}


def link(peer: str) -> Link:
    with _lock:
        return _links.setdefault(peer, Link(peer))


def snapshot(peers: list[str]) -> list[dict]:
    return [link(p).as_json() for p in peers]


def note_let_in(origin: str, event_time: str) -> None:
    """The border let an event in (any thread): how late it is, from the time its producer gave it."""
    now = datetime.now(timezone.utc)
    side = link(origin).inbound
    side.events += 1
    side.last_event_at = now.isoformat()
    try:
        side.lag_s = max(0.0, (now - datetime.fromisoformat(event_time.replace("Z", "+00:00"))).total_seconds())
    except ValueError:
        pass


async def watch(ctx, js) -> None:
    """Check every peer's link every CHECK_EVERY_S (the sync service's background job)."""
    settings = ctx.settings
    node = settings.node_id
    while True:
        for peer in federation.peers(settings):
            await _check(js, node, peer, federation.is_hub(settings))
        await asyncio.sleep(CHECK_EVERY_S)


async def _check(js, node: str, peer: str, on_hub: bool) -> None:
    state = link(peer)
    remote = js._nc.jetstream(domain=peer, timeout=ASK_TIMEOUT_S)
    # inbound: the stream of the peer this node's border reads
    stream = stream_for(peer, federation.outbound_service(node))[0] if on_hub else stream_for(peer, "handling")[0]
    t0 = time.monotonic()
    try:
        info = await remote.consumer_info(stream, federation.border_durable(node))
        state.up, state.rtt_ms = True, round((time.monotonic() - t0) * 1000, 1)
        state.last_contact = datetime.now(timezone.utc).isoformat()
        state.inbound.pending_events = int(info.num_pending or 0) + int(info.num_ack_pending or 0)
    except Exception as exc:  # no answer: the link (or the peer) is down; a missing consumer: not read yet
        if isinstance(exc, NotFoundError):  # the peer answered: its stream or this border's consumer is not made yet
            state.up, state.last_contact = True, datetime.now(timezone.utc).isoformat()
        else:
            if state.up:
                log.warning("link to node %s is down (%s)", peer, type(exc).__name__)
            state.up = False
    if not on_hub:  # outbound: what the province keeps for the hub, and how much of it the hub's border has not taken
        local = js._nc.jetstream(timeout=ASK_TIMEOUT_S)
        name = stream_for(node, federation.outbound_service(peer))[0]
        try:
            info = await local.consumer_info(name, federation.border_durable(peer))
            state.outbound.pending_events = int(info.num_pending or 0) + int(info.num_ack_pending or 0)
            last = getattr(info.delivered, "last_active", None)
            state.outbound.last_event_at = last.isoformat() if hasattr(last, "isoformat") else (str(last) if last else None)
        except NotFoundError:
            try:  # the hub has not read yet: everything in the stream waits for it
                sinfo = await local.stream_info(name)
                state.outbound.pending_events = int(sinfo.state.messages)
            except Exception:
                log.debug("no state of stream %s yet", name, exc_info=True)
        except Exception:  # this node's own NATS is away: the status shows the last figure; the services' health says why
            log.debug("could not read what waits for node %s", peer, exc_info=True)


def _observe_lag(_options):
    with _lock:
        links = list(_links.values())
    for lk in links:
        if lk.inbound.pending_events is not None:
            yield Observation(lk.inbound.pending_events, {"paht.peer": lk.peer, "paht.direction": "inbound"})
        if lk.outbound.pending_events is not None:
            yield Observation(lk.outbound.pending_events, {"paht.peer": lk.peer, "paht.direction": "outbound"})


def _observe_up(_options):
    with _lock:
        links = list(_links.values())
    for lk in links:
        yield Observation(1 if lk.up else 0, {"paht.peer": lk.peer})


_meter = metrics.get_meter("paht.sync")
_meter.create_observable_gauge("paht.federation.pending", [_observe_lag], unit="{event}",
                               description="Events waiting to cross a link, by peer node and direction")
_meter.create_observable_gauge("paht.federation.link_up", [_observe_up], description="1 while the link to a peer node answers")
