"""Wire sync: ownership table, migrations, HTTP, gRPC, and the subscription to dispatch decisions."""
from __future__ import annotations

from pathlib import Path

from paht.dispatch.v1 import events_pb2 as dispatch_ev
from paht.runtime.app import make_app
from paht.runtime.events.consumer import Subscription
from paht.runtime.host import ServiceSpec
from services.sync.adapters.orm import event_tables, metadata
from services.sync.adapters.repositories import SqlOwnerships


def build_http(ctx):
    from services.sync.entrypoints import api

    app = make_app(ctx, "PAHT sync", "Federation between the province node and hub nodes: ownership epochs and sync status.")
    app.include_router(api.build_router(ctx))
    return app


def register_grpc(ctx, server):
    from services.sync.entrypoints import grpc_api

    grpc_api.register(ctx, server)


def subscriptions(ctx):
    from services.sync.service_layer import handlers

    return [Subscription("dispatch", {dispatch_ev.ReportDispatched: handlers.on_report_dispatched})]


SPEC = ServiceSpec(
    name="sync",
    metadata=metadata,
    event_tables=event_tables,
    migrations=Path(__file__).parent / "adapters" / "migrations",
    build_http=build_http,
    register_grpc=register_grpc,
    subscriptions=subscriptions,
    repositories={"ownerships": SqlOwnerships},
)
