"""Run one service as one process: HTTP (uvicorn), gRPC, the outbox relay and its consumers in one loop."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Callable

import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine, MetaData, Table
from sqlalchemy.orm import sessionmaker

from paht.runtime import db, heap, revocation
from paht.runtime.auth import TokenVerifier
from paht.runtime.events import bus
from paht.runtime import federation
from paht.runtime.events.consumer import EventApplier, EventConsumer, Subscription
from paht.runtime.events.relay import OutboxRelay
from paht.runtime.http import make_auth
from paht.runtime.middleware import http_protocol
from paht.runtime.grpcx import GrpcServer, open_channel
from paht.runtime.settings import Settings
from paht.runtime.telemetry import recording, setup_logging, setup_telemetry, shutdown_telemetry
from paht.runtime.uow import Notifier, UnitOfWork

log = logging.getLogger(__name__)


@dataclass
class ServiceSpec:
    """What a service brings: its tables, migrations, HTTP app, gRPC servicers and subscriptions."""

    name: str
    metadata: MetaData
    event_tables: dict[str, Table]
    migrations: Path
    build_http: Callable[["ServiceContext"], FastAPI]
    register_grpc: Callable[["ServiceContext", GrpcServer], None] = lambda ctx, server: None
    subscriptions: Callable[["ServiceContext"], list[Subscription]] = lambda ctx: []
    seed: Callable[["ServiceContext"], None] | None = None
    repositories: dict[str, Callable] = field(default_factory=dict)  # attribute name on the unit of work -> factory(session)
    # Jobs that need JetStream, started once NATS is connected: {name: factory(ctx, js) -> coroutine}, restarted if they fail.
    background: dict[str, Callable] = field(default_factory=dict)
    # Jobs that need only the database (e.g. forwarding an emergency to 113/114/115, the SLA monitor: their events go
    # through the outbox), started at once whether or not NATS is up: {name: factory(ctx) -> coroutine}, restarted if they fail.
    background_local: dict[str, Callable] = field(default_factory=dict)


@dataclass
class ServiceContext:
    """Everything a service's entrypoints need, built once per process."""

    spec: ServiceSpec
    settings: Settings
    engine: Engine
    sessions: sessionmaker
    notifier: Notifier
    verifier: TokenVerifier
    auth: tuple = ()
    status: dict[str, bool] = field(default_factory=dict)
    nats: object | None = None
    relay: OutboxRelay | None = None
    readers: sessionmaker | None = None  # read-only sessions (db.session_factory(read_only=True))
    _channels: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.spec.event_tables["outbox"], self.name, self.settings.node_id, self.notifier,
                          self.spec.repositories, tuple(federation.hubs(self.settings)), self.settings.parent_node)

    def reads(self) -> UnitOfWork:
        """A unit of work that only reads (pages, lists, GETs): same repositories, never commits. On SQLite it does not
        queue behind the writers (see db.WriterGate), so reads stay fast while events are being applied."""
        if self.readers is None:
            self.readers = db.session_factory(self.engine, read_only=True)
        return UnitOfWork(self.readers, self.spec.event_tables["outbox"], self.name, self.settings.node_id, None,
                          self.spec.repositories, tuple(federation.hubs(self.settings)), self.settings.parent_node, read_only=True)

    def applier(self) -> EventApplier:
        """Return the object that applies this service's incoming events (consumers, replays, tests)."""
        t = self.spec.event_tables
        return EventApplier(self.name, self.uow, t["inbox"], t["event_positions"], t.get("dead_letters"), self.settings.node_id)

    def subscriptions(self) -> list[Subscription]:
        """The service's subscriptions, with its node's inbound stream where federation has it read one."""
        subs = list(self.spec.subscriptions(self))
        if federation.reads_inbound(self.settings, self.name):
            subs.append(federation_inbound(self.settings.node_id, self.name, subs))
        return subs

    def dead_letters(self):
        from paht.runtime.events.dead_letters import DeadLetters

        return DeadLetters(self.engine, self.spec.event_tables["dead_letters"], self.applier(), self.subscriptions())

    def channel(self, service: str):
        """Return a (cached) gRPC channel to another service. A grpc.aio channel belongs to the event loop it was
        opened in, so there is one per loop (a server has one loop; a test client may open a new one per request)."""
        import asyncio

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        for key in [k for k in self._channels if k[1] is not None and k[1].is_closed()]:
            del self._channels[key]  # its loop is gone, and the channel with it
        if (service, loop) not in self._channels:
            self._channels[(service, loop)] = open_channel(self.settings, self.settings.grpc_address(service))
        return self._channels[(service, loop)]

    async def close_channels(self) -> None:
        for (_service, loop), ch in self._channels.items():
            if loop is None or not loop.is_closed():
                await ch.close()
        self._channels.clear()


def build_context(spec: ServiceSpec, settings: Settings) -> ServiceContext:
    engine = db.make_engine(settings, spec.name)
    verifier = TokenVerifier(settings)
    return ServiceContext(
        spec=spec,
        settings=settings,
        engine=engine,
        sessions=db.session_factory(engine),
        notifier=Notifier(),
        verifier=verifier,
        auth=make_auth(verifier),
    )


def run_loop(main):
    """Run the service's loop on uvloop where it is installed (libuv: less time per request), else asyncio's own."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop has no Windows build
        return asyncio.run(main)
    return uvloop.run(main)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the host stops everything in order."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


async def serve(spec: ServiceSpec, settings: Settings) -> int:
    """Run the service until SIGTERM/SIGINT; return the process exit code (non-zero after a fatal error)."""
    setup_logging(spec.name, settings.log_level)
    setup_telemetry(spec.name, settings.otel_exporter, settings.node_id)
    ctx = build_context(spec, settings)
    if recording(settings.otel_exporter):
        _instrument_sqlalchemy(ctx.engine)
    ctx.status.update({"database": False, "nats": False, "grpc": False, "consumers": False})

    app = spec.build_http(ctx)
    config = uvicorn.Config(app, host=settings.http_host, port=settings.http_port, log_config=None, access_log=False, lifespan="on",
                            http=http_protocol(),
                            server_header=False,  # no `server` header: it only helps attackers pick exploits
                            proxy_headers=False)  # PAHT_TRUSTED_PROXIES decides (paht.runtime.proxies.client_address)
    server = _Server(config)

    grpc_server = GrpcServer(settings)
    spec.register_grpc(ctx, grpc_server)
    heap.settle()
    await grpc_server.start(settings.http_host, settings.grpc_port)
    ctx.status["grpc"] = True

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    tasks: list[asyncio.Task] = [asyncio.create_task(_forever(lambda job=job: job(ctx), what), name=what)
                                 for what, job in spec.background_local.items()]
    http_task = asyncio.create_task(_serve_http(server), name="http")
    events_task = asyncio.create_task(_run_events(ctx, grpc_server, tasks), name="events")
    db_task = asyncio.create_task(_watch_database(ctx), name="db-watch")
    tasks.append(asyncio.create_task(heap.give_back_memory(), name="memory"))
    stop_task = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({http_task, stop_task, events_task}, return_when=asyncio.FIRST_COMPLETED)
    failed = stop_task not in done  # the HTTP server or the event loop ended by itself
    for t in done:
        if t is not stop_task and t.exception():
            log.error("service %s stopping after a fatal error", spec.name, exc_info=t.exception())
    log.info("service %s stopping", spec.name)
    server.should_exit = True
    await grpc_server.set_serving(False)
    for t in [events_task, db_task, *tasks]:
        t.cancel()
    await asyncio.gather(events_task, db_task, *tasks, return_exceptions=True)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(http_task, timeout=5)
    await grpc_server.stop(1.0)
    if ctx.relay is not None:
        ctx.relay.close()
    await ctx.close_channels()
    nc = ctx.nats
    if nc is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(nc.close(), timeout=2)
    ctx.engine.dispose()
    shutdown_telemetry()
    return 1 if failed else 0


async def _serve_http(server: uvicorn.Server) -> None:
    """Serve HTTP; uvicorn exits the process when it cannot bind, which would skip our orderly stop."""
    try:
        await server.serve()
    except SystemExit as exc:
        raise RuntimeError(f"the HTTP server could not start (exit {exc.code})") from None


async def _watch_database(ctx: ServiceContext) -> None:
    while True:
        ctx.status["database"] = await asyncio.to_thread(db.ping, ctx.engine)
        await asyncio.sleep(2.0 if ctx.status["database"] else 0.5)


async def _run_events(ctx: ServiceContext, grpc_server: GrpcServer, tasks: list[asyncio.Task]) -> None:
    """Connect to NATS (retrying for ever), then run the relay and every consumer."""
    url = ctx.settings.nats_url or "nats://127.0.0.1:4222"
    while True:
        try:
            nc = await bus.connect(url, f"paht-{ctx.name}", federation.inbox_prefix(ctx.settings))
            break
        except Exception as exc:  # broker down: keep serving HTTP, keep the outbox filling
            log.warning("NATS not reachable yet (%s); retrying", exc)
            await asyncio.sleep(1.0)
    ctx.nats = nc
    js = nc.jetstream(timeout=5)
    while True:
        try:
            await bus.ensure_stream(js, ctx.settings.node_id, ctx.name, ctx.settings.nats_duplicate_window_s)
            break
        except Exception as exc:
            log.warning("JetStream not ready (%s); retrying", exc)
            await asyncio.sleep(1.0)
    ctx.status["nats"] = True
    # The only process writing the service's outbox hands its committed rows to its relay (no read back); with several
    # (PAHT_REPLICAS), the leader's relay reads the outbox, the one place where all their rows are in order.
    alone = ctx.settings.replica_counts().get(ctx.name, 1) == 1
    relay = OutboxRelay(ctx.engine, ctx.spec.event_tables["outbox"], js, poll_s=ctx.settings.relay_poll_s, handoff=alone)
    relay.keep = timedelta(days=ctx.settings.outbox_keep_days)
    ctx.notifier.subscribe(relay.wake_threadsafe)
    ctx.notifier.hand_to(relay)
    ctx.relay = relay
    tasks.append(asyncio.create_task(relay.run(), name="relay"))
    revoked = ctx.verifier.revoked  # every service refuses signed-out tokens as soon as dispatch publishes them
    tasks.append(asyncio.create_task(_forever(lambda: revocation.watch(js, ctx.settings.node_id, ctx.settings.token_ttl_s, revoked),
                                              "revocation watcher"), name="revocations"))
    for what, job in ctx.spec.background.items():
        tasks.append(asyncio.create_task(_forever(lambda job=job: job(ctx, js), what), name=what))
    applier = ctx.applier()
    window = ctx.settings.nats_duplicate_window_s
    for name, subjects, description in federation.streams_kept_by(ctx.settings, ctx.name):
        await bus.ensure_named_stream(js, name, subjects, description, window)
    consumers = [EventConsumer(js, ctx.settings.node_id, ctx.name, sub, applier, window) for sub in ctx.subscriptions()]
    for consumer in consumers:
        tasks.append(asyncio.create_task(_forever(consumer.run, f"consumer {consumer._sub.producer}"), name="consumer"))
    await asyncio.gather(*(c.ready.wait() for c in consumers if c._sub.required))
    ctx.status["consumers"] = True
    await grpc_server.set_serving(True)
    await asyncio.Event().wait()


def federation_inbound(node: str, service: str, subs: list[Subscription]) -> Subscription:
    """One subscription to the node's inbound stream with every handler of the service's other subscriptions: events
    let in from another node are applied by the same handlers as this node's own (keyed by their full type name)."""
    handlers: dict = {}
    for sub in subs:
        handlers.update(sub.handlers)
    preloads = [sub.preload for sub in subs if sub.preload is not None]
    stream, subjects = federation.inbound_stream(node)
    return Subscription("inbound", handlers, preload=preloads[0] if len(set(preloads)) == 1 else None,
                        stream=stream, subjects=subjects, durable=f"{service}-inbound",
                        batch=500)  # after a partition a link's whole backlog arrives at once: fewer, larger transactions


async def _forever(run, what: str) -> None:
    while True:
        try:
            await run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s crashed; restarting", what)
            await asyncio.sleep(1.0)


def _instrument_sqlalchemy(engine: Engine) -> None:
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    SQLAlchemyInstrumentor().instrument(engine=engine, enable_commenter=False)


async def readiness(ctx: ServiceContext) -> dict[str, bool]:
    """Report each dependency as it is now (NATS included: a lost connection makes the service unready)."""
    checks = dict(ctx.status)
    checks["nats"] = bool(checks.get("nats")) and ctx.nats is not None and ctx.nats.is_connected
    return checks
