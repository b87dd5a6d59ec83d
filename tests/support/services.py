"""Helpers for tests: a migrated service context on a real database, and staff tokens."""
from __future__ import annotations

from pathlib import Path

from paht.runtime import migrations
from paht.runtime.auth import Principal, TokenIssuer, ensure_signing_key
from paht.runtime.events.consumer import Outcome
from paht.runtime.events.envelope import Envelope
from paht.runtime.host import ServiceContext, ServiceSpec, build_context
from paht.runtime.settings import Settings


def test_settings(data: Path, **overrides) -> Settings:
    """Settings for a test: own data folder and signing key; DATABASE_URL/NATS_URL as the environment says."""
    private, public = data / "keys" / "token.pem", data / "keys" / "token.pub.pem"
    ensure_signing_key(private, public)
    values = {"env": "test", "data": data, "token_private_key_file": private, "token_public_key_file": public}
    values.update(overrides)
    return Settings(**values)


def migrated_context(spec: ServiceSpec, settings: Settings) -> ServiceContext:
    migrations.upgrade(spec.migrations, settings, spec.name, spec.metadata)
    return build_context(spec, settings)


def token_for(settings: Settings, subject: str, roles: list[str], org_unit: str, name: str | None = None) -> str:
    return TokenIssuer.from_settings(settings).issue(subject, name or subject, roles, org_unit)


def principal(subject: str, roles: list[str], org_unit: str) -> Principal:
    return Principal(subject=subject, name=subject, roles=frozenset(roles), org_unit=org_unit)


def deliver(ctx: ServiceContext, envelope: Envelope) -> Outcome:
    """Apply an event to a service the way its consumer would (inbox, order, one transaction)."""
    applier = ctx.applier()
    subs = {s.producer: s.handlers for s in ctx.spec.subscriptions(ctx)}
    return applier.apply(envelope, subs.get(envelope.producer, {}))


def outbox_envelopes(ctx: ServiceContext) -> list[Envelope]:
    """Return every event a service has put in its outbox, oldest first, as envelopes."""
    table = ctx.spec.event_tables["outbox"]
    with ctx.engine.connect() as conn:
        rows = conn.execute(table.select().order_by(table.c.seq)).all()
    return [Envelope.from_nats(dict(r.headers), r.payload) for r in rows]


async def eventually(predicate, timeout: float = 10.0) -> bool:
    """Return True as soon as a blocking predicate holds (checked in a thread), False after the timeout."""
    import asyncio

    end = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < end:
        if await asyncio.to_thread(predicate):
            return True
        await asyncio.sleep(0.05)
    return False


class ServedGrpc:
    """A service's real gRPC servicer on a free loopback port, run by its own event loop in a thread (so that a
    TestClient's loop, or a test's `asyncio.run`, can call it); `address` is host:port; `stop()` ends it."""

    def __init__(self, ctx: ServiceContext, register):
        import asyncio
        import threading

        from paht.runtime.grpcx import GrpcServer
        from paht.runtime.supervisor import free_port

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="grpc-" + ctx.name, daemon=True)
        self.thread.start()
        async def start() -> int:  # grpc.aio binds a server to the loop it is made in
            self.server = GrpcServer(ctx.settings)
            register(ctx, self.server)
            port = await self.server.start("127.0.0.1", free_port())
            await self.server.set_serving(True)
            return port

        self.address = f"127.0.0.1:{asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)}"
        self.stopped = False

    def call(self, stub_class, method: str, request, metadata=None):
        """Make one call as another service would (a channel of its own, in the server's loop); a refusal raises
        grpc.aio.AioRpcError."""
        import asyncio

        from paht.runtime.grpcx import open_channel

        async def once():
            async with open_channel(self.server.settings, self.address) as channel:
                return await getattr(stub_class(channel), method)(request, metadata=metadata)

        return asyncio.run_coroutine_threadsafe(once(), self.loop).result(30)

    def __enter__(self) -> "ServedGrpc":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        import asyncio

        if self.stopped:
            return
        self.stopped = True
        asyncio.run_coroutine_threadsafe(self.server.stop(0), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
