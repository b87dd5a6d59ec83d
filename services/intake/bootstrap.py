"""Wire intake: tables, migrations, HTTP routes, gRPC servicer. The one place that knows all the parts."""
from __future__ import annotations

from pathlib import Path

from paht.runtime.app import make_app
from paht.runtime.host import ServiceSpec
from services.intake.adapters.orm import event_tables, metadata


def build_http(ctx):
    from services.intake.entrypoints import api, pages

    app = make_app(ctx, "PAHT intake", "Receive field reports from every channel; step 1 of the procedure (IOC check).")
    app.include_router(api.build_router(ctx))
    app.include_router(pages.build_router(ctx))
    return app


def register_grpc(ctx, server):
    from services.intake.entrypoints import grpc_api

    grpc_api.register(ctx, server)


SPEC = ServiceSpec(
    name="intake",
    metadata=metadata,
    event_tables=event_tables,
    migrations=Path(__file__).parent / "adapters" / "migrations",
    build_http=build_http,
    register_grpc=register_grpc,
)
