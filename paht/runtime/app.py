"""Build a service's FastAPI app with everything every service shares."""
from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

from paht.runtime.http import BodyLimit, add_health_routes, install_error_handlers

if TYPE_CHECKING:
    from paht.runtime.host import ServiceContext


def make_app(ctx: "ServiceContext", title: str, description: str) -> FastAPI:
    """Return an app with bilingual errors, a body limit, /healthz, /livez, static files and tracing."""
    from paht.runtime.host import readiness
    from paht.runtime.web import mount_static

    app = FastAPI(
        title=title,
        description=description,
        version="1.0",
        docs_url=f"/api/{ctx.name}/docs",
        openapi_url=f"/api/{ctx.name}/openapi.json",
        redoc_url=None,
    )
    install_error_handlers(app)
    add_health_routes(app, lambda: readiness(ctx))
    mount_static(app)
    app.add_middleware(BodyLimit, max_bytes=ctx.settings.max_body_bytes)
    app.state.ctx = ctx
    from paht.runtime import ops

    app.include_router(ops.build_router(ctx))

    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,livez,static")
    return app
