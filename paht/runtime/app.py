"""Build a service's FastAPI app with everything every service shares."""
from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from markupsafe import escape

from paht.runtime.http import add_health_routes, install_protections

if TYPE_CHECKING:
    from paht.runtime.host import ServiceContext

SWAGGER_CDN = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5"
# The API docs load Swagger UI from its CDN; our start-up script is a static file, so no inline script runs.
DOCS_POLICY = (
    f"default-src 'self'; script-src 'self' {SWAGGER_CDN}/; style-src 'self' 'unsafe-inline' {SWAGGER_CDN}/; "
    "img-src 'self' data: https://fastapi.tiangolo.com; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'; object-src 'none'"
)


def make_app(ctx: "ServiceContext", title: str, description: str) -> FastAPI:
    """Return an app with bilingual errors, security headers, CSRF, a body limit, /healthz, /livez, static files and tracing."""
    from paht.runtime.host import readiness
    from paht.runtime.web import mount_static

    app = FastAPI(
        title=title,
        description=description,
        version="1.0",
        docs_url=None,
        openapi_url=f"/api/{ctx.name}/openapi.json",
        redoc_url=None,
        # one instrumentation: ours (below), never FastAPI's own as well
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_protections(app, ctx.settings)
    add_health_routes(app, lambda: readiness(ctx))
    add_docs_route(app, f"/api/{ctx.name}/docs", f"/api/{ctx.name}/openapi.json", title)
    mount_static(app)
    app.state.ctx = ctx
    from paht.runtime import ops

    app.include_router(ops.build_router(ctx))  # every service's dead letters, for operators

    from paht.runtime.telemetry import recording

    if recording(ctx.settings.otel_exporter):
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,livez,static")
    else:
        from paht.runtime.telemetry import TraceIds

        app.add_middleware(TraceIds)
    return app


def add_docs_route(app: FastAPI, path: str, openapi_url: str, title: str) -> None:
    """Serve Swagger UI without inline scripts, so the site-wide policy needs only a CDN exception here."""

    @app.get(path, include_in_schema=False)
    async def docs():
        html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)} · API</title>
<link rel="stylesheet" href="{SWAGGER_CDN}/swagger-ui.css"></head>
<body><div id="swagger-ui" data-openapi="{escape(openapi_url)}"></div>
<script src="{SWAGGER_CDN}/swagger-ui-bundle.js"></script>
<script src="/static/swagger-init.js"></script></body></html>"""
        return HTMLResponse(html, headers={"Content-Security-Policy": DOCS_POLICY})
