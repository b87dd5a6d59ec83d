"""Wire publication: tables, migrations, HTTP routes, gRPC servicer, subscriptions. The one place that knows all the parts."""
from __future__ import annotations

from pathlib import Path

from paht.dispatch.v1 import events_pb2 as dispatch_ev

from paht.runtime.app import make_app
from paht.runtime.events.consumer import Subscription
from paht.runtime.host import ServiceSpec
from services.publication.adapters.orm import event_tables, metadata
from services.publication.adapters.repositories import SqlPublicReports, SqlTimeline
from services.publication.service_layer import read_model


def build_http(ctx):
    from services.publication.entrypoints import api, open311, pages

    app = make_app(ctx, "PAHT publication", "The public record of every report, and step 8 of the procedure (IOC edits and publishes).")
    app.include_router(api.build_router(ctx))
    app.include_router(open311.build_router(ctx, vars(ctx).get("open311_intake")))  # tests may set ctx.open311_intake
    app.include_router(pages.build_router(ctx))
    return app


def register_grpc(ctx, server):
    from services.publication.entrypoints import grpc_api

    grpc_api.register(ctx, server)


def subscriptions(ctx) -> list[Subscription]:
    from services.publication.adapters.taxonomy import on_taxonomy_published  # Open311's services

    return [
        Subscription("intake", handlers=read_model.INTAKE, preload=read_model.preload),
        Subscription("dispatch", handlers={**read_model.DISPATCH, dispatch_ev.TaxonomyPublished: on_taxonomy_published}, preload=read_model.preload),
        Subscription("handling", handlers=read_model.HANDLING, preload=read_model.preload),
    ]


SPEC = ServiceSpec(
    name="publication",
    metadata=metadata,
    event_tables=event_tables,
    migrations=Path(__file__).parent / "adapters" / "migrations",
    build_http=build_http,
    register_grpc=register_grpc,
    subscriptions=subscriptions,
    repositories={"reports": SqlPublicReports, "timeline": SqlTimeline},
)
