"""The edge router of the embedded run: one origin for every service (Kubernetes Ingress in production)."""
from __future__ import annotations

import asyncio
import json
import os
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from paht.runtime.settings import SERVICES, Settings
from paht.runtime.web import error_body
from paht.runtime.web.pages import STATIC_DIR
from paht.runtime.web.security import FORM_TYPES

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
# The edge is the outermost proxy: whatever a client claims about forwarding is dropped, the edge says its own.
CLIENT_FORWARDING = {"forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-port", "x-forwarded-prefix", "x-real-ip"}
# Upstream's own `server` must not show, and uvicorn adds the edge's `date`.
UPSTREAM_ONLY = {"server", "date"}
# An upload of tens of MB is checked, copied and stored before the service answers: more time than other requests.
UPLOAD_TIMEOUT = httpx.Timeout(120.0, connect=2.0)
UVICORN_OPTIONS = {
    "server_header": False,
    "proxy_headers": False,  # the edge is the outermost proxy: a client's X-Forwarded-* never changes who it is
    "h11_max_incomplete_event_size": 256 * 1024,  # long URLs reach the app (a bilingual 414), not h11's bare 400
}


def route_for(path: str) -> str:
    for prefix, service in ROUTES:
        if path.startswith(prefix) or path == prefix.rstrip("/"):
            return service
    return "publication"


class Edge:
    def __init__(self, upstreams: dict[str, str], nats_monitor: str | None, max_body_bytes: int = 1_000_000,
                 streamed: dict[str, int] | None = None):
        self.upstreams = upstreams  # service -> http://127.0.0.1:port
        self.nats_monitor = nats_monitor
        self.max_body_bytes = max_body_bytes
        self.streamed = dict(streamed or {})  # upload paths -> their limit: passed through as they arrive, never held whole
        # One client serves every visitor: its cookie jar must never keep anything, or one person's
        # sign-in cookie would be sent on behalf of the next.
        no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=2.0), follow_redirects=False, cookies=no_cookies)
        # Resends go on a new connection: a second pooled one may have been closed just the same.
        self.fresh = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=2.0), follow_redirects=False, cookies=no_cookies,
                                       limits=httpx.Limits(max_keepalive_connections=0))

    async def proxy(self, request: Request) -> Response:
        service = route_for(request.url.path)
        # The path as the client encoded it (/a%2Fb stays one segment); the service judges its characters.
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        try:
            url = httpx.URL(self.upstreams[service] + raw_path.decode("latin-1"), query=request.scope.get("query_string", b""))
        except (httpx.InvalidURL, UnicodeError):
            return _problem(400, "error.bad_request")
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP | CLIENT_FORWARDING]
        client_host = request.client.host if request.client else ""
        headers += [("x-forwarded-for", client_host), ("x-forwarded-proto", request.url.scheme), ("x-forwarded-host", request.headers.get("host", ""))]
        streamed = self.streamed.get(request.url.path)
        if streamed is not None and request.headers.get("content-type", "").split(";")[0].strip().lower() not in FORM_TYPES:
            return await self._stream(request, url, headers, streamed)
        body = await _read_body(request, self.max_body_bytes)
        if body is None:
            return _problem(413, "error.body_too_large")
        try:
            upstream = await self._send(request.method, url, headers, body)
        except httpx.InvalidURL:
            return _problem(400, "error.bad_request")
        except httpx.TransportError:
            return _problem(503, "error.unavailable", {"Retry-After": "2"})
        return _relay(upstream)

    async def _stream(self, request: Request, url: httpx.URL, headers: list, limit: int) -> Response:
        """Pass an upload on as it arrives (counted, never held whole), on a connection of its own.

        It cannot be sent twice, so it never goes on a pooled connection the service may have closed. Past
        the limit, or when the client leaves, the request to the service is broken off: the service sees its
        client leave and keeps nothing.
        """
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return _problem(413, "error.body_too_large")
        over = False

        async def body():
            nonlocal over
            seen = 0
            async for chunk in request.stream():
                seen += len(chunk)
                if seen > limit:
                    over = True
                    raise _TooLarge()
                yield chunk

        try:
            upstream = await self.fresh.send(self.fresh.build_request(request.method, url, headers=headers, content=body(),
                                                                      timeout=UPLOAD_TIMEOUT), stream=True)
        except _TooLarge:
            return _problem(413, "error.body_too_large")
        except ClientDisconnect:
            return _problem(400, "error.bad_request")  # nobody is there to read it
        except httpx.InvalidURL:
            return _problem(400, "error.bad_request")
        except httpx.TransportError:
            if over:
                return _problem(413, "error.body_too_large")
            return _problem(503, "error.unavailable", {"Retry-After": "2"})
        return _relay(upstream)

    async def _send(self, method: str, url: httpx.URL, headers: list, body: bytes) -> httpx.Response:
        """Send once more, on a new connection, when the service closed the connection before answering.

        A service closes a keep-alive connection after some answers (a crash after a 500, a restart),
        and the pool may already have handed it to the next request, which then fails without being
        read. The whole body is in memory, so it can be sent again. A service that died while working
        on a request is not there for the resend either (it is restarted in no less than 0.2 s), so
        that resend gets a 503 and never a second copy of the work.
        """
        for attempt, client in ((1, self.client), (2, self.fresh)):
            request = client.build_request(method, url, headers=headers, content=body)
            try:
                return await client.send(request, stream=True)
            except (httpx.RemoteProtocolError, httpx.ReadError):
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

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


class _TooLarge(Exception):
    """An upload went past its limit while the edge was passing it on."""


def _relay(upstream: httpx.Response) -> Response:
    """The service's answer, streamed back as it comes."""
    response = StreamingResponse(upstream.aiter_raw(), status_code=upstream.status_code, background=_closer(upstream))
    # keep every header as sent, several Set-Cookie lines included
    response.raw_headers = [
        (k.encode("latin-1"), v.encode("latin-1")) for k, v in upstream.headers.multi_items() if k.lower() not in HOP_BY_HOP | UPSTREAM_ONLY
    ]
    return response


def _problem(status: int, key: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(error_body(None, status, key), status_code=status, headers=headers)


async def _read_body(request: Request, limit: int) -> bytes | None:
    """Read the request body into memory (so it can be resent); None when it is above the limit."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, seen = [], 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _closer(upstream: httpx.Response):
    from starlette.background import BackgroundTask

    return BackgroundTask(upstream.aclose)


def build_edge_app(upstreams: dict[str, str], nats_monitor: str | None, settings: Settings | None = None) -> Starlette:
    from starlette.middleware import Middleware

    from paht.runtime.middleware import CatchAll, RefuseBadRequests
    from paht.runtime.storage import streamed_uploads
    from paht.runtime.web.security import SecurityHeaders

    settings = settings or Settings()
    edge = Edge(upstreams, nats_monitor, settings.max_body_bytes, streamed_uploads(settings))

    app = Starlette(
        routes=[
            Route("/healthz", edge.healthz),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
            Route("/{path:path}", edge.proxy, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]),
        ],
        lifespan=_lifespan(edge),
        middleware=[  # outermost first
            Middleware(SecurityHeaders, secure_cookies=bool(settings.secure_cookies), hsts=bool(settings.hsts)),
            Middleware(CatchAll),
            Middleware(RefuseBadRequests),
        ],
    )
    return app


def _lifespan(edge: Edge):
    import contextlib

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        await edge.client.aclose()
        await edge.fresh.aclose()

    return lifespan


def run_edge(settings: Settings) -> None:
    from paht.runtime.telemetry import setup_logging

    setup_logging("edge", settings.log_level)
    upstreams = json.loads(os.environ["PAHT_EDGE_UPSTREAMS"])
    monitor = os.environ.get("PAHT_EDGE_NATS_MONITOR") or None
    uvicorn.run(build_edge_app(upstreams, monitor, settings), host=os.environ.get("PAHT_EDGE_HOST", "127.0.0.1"), port=settings.port,
                log_config=None, access_log=False, **UVICORN_OPTIONS)
