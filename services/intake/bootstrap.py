"""Wire intake: tables, migrations, repositories, the taxonomy, HTTP routes, gRPC servicer. The one place that knows all the parts."""
from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from paht.runtime.app import make_app
from paht.runtime.host import ServiceSpec
from services.intake.adapters.orm import event_tables, metadata
from services.intake.adapters.repositories import SqlReporters, SqlReports


def taxonomy_for(ctx):
    """Return the taxonomy backed by dispatch, with intake's stored copy to fall back on."""
    from services.intake.adapters.taxonomy import CachedTaxonomy, DispatchTopics, TaxonomyCopy

    return CachedTaxonomy(DispatchTopics(ctx.settings), TaxonomyCopy(ctx.engine))


def build_http(ctx, taxonomy=None):
    """Build intake's app; `taxonomy` replaces the one backed by dispatch (tests give a fake)."""
    from fastapi import APIRouter

    from services.intake.adapters.taxonomy import CachedTaxonomy, keep_fresh
    from services.intake.entrypoints import api, pages

    taxonomy = taxonomy if taxonomy is not None else taxonomy_for(ctx)
    app = make_app(ctx, "PAHT intake", "Receive field reports from every channel; step 1 of the procedure (IOC check).")
    app.include_router(api.build_router(ctx, taxonomy))
    app.include_router(pages.build_router(ctx, taxonomy))
    if isinstance(taxonomy, CachedTaxonomy):

        @contextlib.asynccontextmanager
        async def keep_taxonomy(_app):  # a copy of the topics exists before the first accept needs it
            task = asyncio.create_task(keep_fresh(taxonomy), name="taxonomy")
            yield
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            taxonomy.close()

        app.include_router(APIRouter(lifespan=keep_taxonomy))
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
    repositories={"reports": SqlReports, "reporters": SqlReporters},
)
