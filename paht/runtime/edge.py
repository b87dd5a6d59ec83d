"""The edge router of the embedded run: one origin for every service (Kubernetes Ingress in production)."""
from __future__ import annotations

import asyncio
import json
import os
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from paht.runtime.settings import SERVICES, Settings
from paht.runtime.web import error_body
from paht.runtime.web.pages import STATIC_DIR

# Longest prefix wins; everything else goes to publication (the public portal).
ROUTES: list[tuple[str, str]] = sorted(
    [
        *[(f"/api/{s}/", s) for s in SERVICES],
        *[(f"/{s}/", s) for s in SERVICES],
        ("/auth/", "dispatch"),
        ("/.well-known/", "dispatch"),
        ("/open311/", "publication"),
    ],
    key=lambda r: -len(r[0]),
)
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers", "transfer-encoding", "upgrade", "host"}


def route_for(path: str) -> str:
    for prefix, service in ROUTES:
        if path.startswith(prefix) or path == prefix.rstrip("/"):
            return service
    return "publication"


class Edge:
    def __init__(self, upstreams: dict[str, str], nats_monitor: str | None):
        self.upstreams = upstreams  # service -> http://127.0.0.1:port
        self.nats_monitor = nats_monitor
        # One client serves every visitor: its cookie jar must never keep anything, or one person's
        # sign-in cookie would be sent on behalf of the next.
        no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=2.0), follow_redirects=False, cookies=no_cookies)

    async def proxy(self, request: Request) -> Response:
        service = route_for(request.url.path)
        base = self.upstreams[service]
        url = httpx.URL(base + request.url.path, query=request.url.query.encode())
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP]
        client_host = request.client.host if request.client else ""
        headers += [("x-forwarded-for", client_host), ("x-forwarded-proto", request.url.scheme), ("x-forwarded-host", request.headers.get("host", ""))]
        upstream_request = self.client.build_request(request.method, url, headers=headers, content=request.stream())
        try:
            upstream = await self.client.send(upstream_request, stream=True)
        except httpx.TransportError:
            body = error_body(None, 503, "error.unavailable")
            return JSONResponse(body, status_code=503, headers={"Retry-After": "2"})
        response = StreamingResponse(upstream.aiter_raw(), status_code=upstream.status_code, background=_closer(upstream))
        # keep every header as sent, several Set-Cookie lines included
        response.raw_headers = [
            (k.encode("latin-1"), v.encode("latin-1")) for k, v in upstream.headers.multi_items() if k.lower() not in HOP_BY_HOP
        ]
        return response

    async def healthz(self, request: Request) -> Response:
        """200 only when every service and NATS are ready."""
        checks: dict[str, bool] = {}

        async def one(name: str, url: str):
            try:
                r = await self.client.get(url, timeout=2.0)
                checks[name] = r.status_code == 200
            except httpx.HTTPError:
                checks[name] = False

        jobs = [one(s, f"{u}/healthz") for s, u in self.upstreams.items()]
        if self.nats_monitor:
            jobs.append(one("nats", f"{self.nats_monitor}/healthz?js-enabled-only=true"))
        await asyncio.gather(*jobs)
        ok = all(checks.values()) and len(checks) == len(jobs)
        return JSONResponse({"status": "ready" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)


def _closer(upstream: httpx.Response):
    from starlette.background import BackgroundTask

    return BackgroundTask(upstream.aclose)


def build_edge_app(upstreams: dict[str, str], nats_monitor: str | None) -> Starlette:
    edge = Edge(upstreams, nats_monitor)

    app = Starlette(
        routes=[
            Route("/healthz", edge.healthz),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
            Route("/{path:path}", edge.proxy, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]),
        ],
        lifespan=_lifespan(edge),
    )
    return app


def _lifespan(edge: Edge):
    import contextlib

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        await edge.client.aclose()

    return lifespan


def run_edge(settings: Settings) -> None:
    from paht.runtime.telemetry import setup_logging

    setup_logging("edge", settings.log_level)
    upstreams = json.loads(os.environ["PAHT_EDGE_UPSTREAMS"])
    monitor = os.environ.get("PAHT_EDGE_NATS_MONITOR") or None
    uvicorn.run(build_edge_app(upstreams, monitor), host=os.environ.get("PAHT_EDGE_HOST", "127.0.0.1"), port=settings.port, log_config=None, access_log=False)
