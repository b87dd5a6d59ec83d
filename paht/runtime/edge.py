"""The edge router of the embedded run: one origin for every service (Kubernetes Ingress in production)."""
from __future__ import annotations

import asyncio
import json
import os
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import Headers
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from paht.runtime.middleware import http_protocol
from paht.runtime.settings import SERVICES, Settings
from paht.runtime.storage import streamed_limit
from paht.runtime.upstream import Unreachable, Upstreams, UpstreamError
from paht.runtime import federation, heap
from paht.runtime.web import error_body
from paht.runtime.web.pages import STATIC_DIR
from paht.runtime.web.forms import is_page_form
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
UPLOAD_TIMEOUT_S = 120.0
# Never passed on: hop-by-hop headers, a client's claims about forwarding (the edge says its own), Expect (the edge
# has the body already) and the length (the body in hand says it).
DROPPED = HOP_BY_HOP | CLIENT_FORWARDING | {"expect"}
UPSTREAM_DROPPED = {k.encode() for k in HOP_BY_HOP | UPSTREAM_ONLY}
UVICORN_OPTIONS = {
    "http": http_protocol(),
    "server_header": False,
    "proxy_headers": False,  # the edge is the outermost proxy: a client's X-Forwarded-* never changes who it is
    "h11_max_incomplete_event_size": 256 * 1024,  # long URLs reach the app (a bilingual 414), not h11's bare 400
}


def route_for(path: str, portal: str = "publication") -> str:
    """The service a path belongs to: the longest matching prefix, else `portal` (on a hub, which has no portal: "")."""
    for prefix, service in ROUTES:
        if path.startswith(prefix) or path == prefix.rstrip("/"):
            return service
    return portal


class Edge:
    def __init__(self, upstreams: dict[str, str | list[str]], nats_monitor: str | None, max_body_bytes: int = 1_000_000,
                 streamed: dict[str, int] | None = None, province_url: str | None = None, hub: bool = False):
        # service -> its processes' addresses (http://127.0.0.1:port), taken in turn
        self.upstreams = {name: [urls] if isinstance(urls, str) else list(urls) for name, urls in upstreams.items()}
        self._addresses = {name: [_host_port(url) for url in urls] for name, urls in self.upstreams.items()}
        self._turn = dict.fromkeys(self.upstreams, 0)
        self.nats_monitor = nats_monitor
        self.province_url = province_url  # a hub: where what it does not serve lives
        self.portal = "" if hub else "publication"  # a hub's publication keeps a copy for staff, not a public portal
        self.max_body_bytes = max_body_bytes
        self.streamed = dict(streamed or {})  # upload paths -> their limit: passed through as they arrive, never held whole
        self.drain_bytes = max([max_body_bytes, *self.streamed.values()])  # a page form over the limit is passed on up to this
        # Requests go out on the edge's own lean client (paht.runtime.upstream): no cookie jar, nothing kept
        # between one visitor's request and the next but the open connection.
        self.pool = Upstreams(connect_timeout=2.0, timeout=30.0)
        # /healthz asks each service and NATS with a general client (a few requests a minute).
        no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=2.0), follow_redirects=False, cookies=no_cookies)

    async def forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass a request on to the service its path belongs to, and its answer back as it comes."""
        path = scope["path"]
        service = route_for(path, self.portal)
        if not self.portal and service == "publication" and not path.startswith(("/publication/", "/api/publication/")):
            service = ""  # a hub's publication is its area's copy for staff: no Open311 or other public path there
        if service not in self._addresses:
            return await self._not_here(path)(scope, receive, send)
        # The path as the client encoded it (/a%2Fb stays one segment); the service judges its characters.
        raw_path = scope.get("raw_path") or path.encode()
        query = scope.get("query_string", b"")
        target = (raw_path + b"?" + query if query else raw_path).decode("latin-1")
        if not target.startswith("/") or any(c <= " " or c == "\x7f" for c in target):
            return await _problem(400, "error.bad_request")(scope, receive, send)
        headers: list[tuple[str, str]] = []
        client_host = forwarded_host = ""
        content_type = ""
        declared = ""
        for k, v in scope["headers"]:
            name = k.decode("latin-1").lower()
            if name in DROPPED:
                if name == "host":
                    forwarded_host = v.decode("latin-1")
                continue
            value = v.decode("latin-1")
            if name == "content-type":
                content_type = value
            elif name == "content-length":
                declared = value
            headers.append((name, value))
        if scope.get("client"):
            client_host = scope["client"][0]
        headers += [("x-forwarded-for", client_host), ("x-forwarded-proto", scope.get("scheme", "http")),
                    ("x-forwarded-host", forwarded_host)]
        addresses = self._addresses[service]
        turn = self._turn[service] = (self._turn[service] + 1) % len(addresses)
        host, port = addresses[turn]
        method = scope["method"]
        limit = streamed_limit(self.streamed, path)
        if limit is not None and content_type.split(";")[0].strip().lower() in FORM_TYPES:
            limit = None  # a form sent to an upload path keeps the ordinary limit
        if limit is None and declared.isdigit() and int(declared) > self.max_body_bytes and is_page_form(path, Headers(scope=scope)):
            limit = self.drain_bytes  # a page form over the limit: its service answers with the page (paht/runtime/web/forms.py)
        over: _Counter | None = None
        try:
            if limit is not None:
                if declared.isdigit() and int(declared) > limit:
                    return await _problem(413, "error.body_too_large")(scope, receive, send)
                over = _Counter(limit)
                upstream = await self.pool.send(host, port, method, target, headers, _body_stream(receive, over), fresh=True,
                                                timeout=UPLOAD_TIMEOUT_S)
            else:
                body = await _read_body(receive, declared, self.max_body_bytes)
                if body is None:
                    return await _problem(413, "error.body_too_large")(scope, receive, send)
                upstream = await self._send(addresses, turn, method, target, headers, body)
        except _TooLarge:
            return await _problem(413, "error.body_too_large")(scope, receive, send)
        except _ClientLeft:
            return await _problem(400, "error.bad_request")(scope, receive, send)  # nobody is there to read it
        except UpstreamError:
            if over is not None and over.exceeded:
                return await _problem(413, "error.body_too_large")(scope, receive, send)
            return await _problem(503, "error.unavailable", {"Retry-After": "2"})(scope, receive, send)
        try:
            answer_headers = [(k.lower(), v) for k, v in upstream.headers if k.lower() not in UPSTREAM_DROPPED]
            await send({"type": "http.response.start", "status": upstream.status, "headers": answer_headers})
            if upstream.complete:
                await send({"type": "http.response.body", "body": upstream.take(), "more_body": False})
                return
            async for chunk in upstream.chunks():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await upstream.aclose()

    def _not_here(self, path: str) -> Response:
        """A path of a service this node does not run (a hub runs sign-in, handling, its area's figures and sync): its home is the staff
        work list, anything else is a clear 404 that says where it lives, never a 502."""
        if path in ("", "/") and "handling" in self._addresses:
            return RedirectResponse("/handling/", status_code=303)
        body = error_body(None, 404, "error.not_found")
        where_en = f" ({self.province_url})" if self.province_url else ""
        body["error"]["detail"] = {
            "vi": f"Nút cấp huyện này chỉ có đăng nhập, xử lý hồ sơ và số liệu địa bàn; cổng công khai và tiếp nhận phản ánh ở trang của tỉnh{where_en}.",
            "en": f"This district hub runs only sign-in, case handling and its area's figures; the public portal and report intake are on the province's site{where_en}.",
        }
        return JSONResponse(body, status_code=404)

    async def _send(self, addresses: list, turn: int, method: str, target: str, headers: list, body: bytes):
        """Send to the process whose turn it is; when it cannot be reached (restarting), to the next one."""
        for k in range(len(addresses)):
            host, port = addresses[(turn + k) % len(addresses)]
            try:
                return await self.pool.send(host, port, method, target, headers, body)
            except Unreachable:
                if k == len(addresses) - 1:
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

        jobs = [one(s if k == 1 else f"{s}-{k}", f"{u}/healthz") for s, urls in self.upstreams.items() for k, u in enumerate(urls, 1)]
        if self.nats_monitor:
            jobs.append(one("nats", f"{self.nats_monitor}/healthz?js-enabled-only=true"))
        await asyncio.gather(*jobs)
        ok = all(checks.values()) and len(checks) == len(jobs)
        return JSONResponse({"status": "ready" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)


class _TooLarge(Exception):
    """An upload went past its limit while the edge was passing it on."""


class _ClientLeft(Exception):
    """The client went away before its request body had arrived."""


class _Counter:
    def __init__(self, limit: int):
        self.limit = limit
        self.seen = 0
        self.exceeded = False


async def _body_stream(receive: Receive, counter: _Counter):
    """The request body as it arrives, counted: past the limit the request to the service is broken off."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientLeft()
        chunk = message.get("body", b"")
        counter.seen += len(chunk)
        if counter.seen > counter.limit:
            counter.exceeded = True
            raise _TooLarge()
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def _read_body(receive: Receive, declared: str, limit: int) -> bytes | None:
    """Read the request body into memory (so it can be resent); None when it is above the limit."""
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, seen = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientLeft()
        chunk = message.get("body", b"")
        seen += len(chunk)
        if seen > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _problem(status: int, key: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(error_body(None, status, key), status_code=status, headers=headers)


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def build_edge_app(upstreams: dict[str, str | list[str]], nats_monitor: str | None, settings: Settings | None = None):
    from paht.runtime.middleware import CatchAll, RefuseBadRequests
    from paht.runtime.storage import streamed_uploads
    from paht.runtime.web.security import SecurityHeaders

    settings = settings or Settings()
    edge = Edge(upstreams, nats_monitor, settings.max_body_bytes, streamed_uploads(settings), os.environ.get("PAHT_FED_PROVINCE_URL") or None,
                hub=federation.is_hub(settings))
    own = Starlette(
        routes=[Route("/healthz", edge.healthz), Mount("/static", StaticFiles(directory=STATIC_DIR), name="static")],
        lifespan=_lifespan(edge),
    )

    async def route(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path != "/healthz" and path != "/static" and not path.startswith("/static/"):
            return await edge.forward(scope, receive, send)
        await own(scope, receive, send)

    # outermost first: security headers on every answer, then any error as the bilingual 500, then bad URLs refused
    return SecurityHeaders(CatchAll(RefuseBadRequests(route)), secure_cookies=bool(settings.secure_cookies), hsts=bool(settings.hsts))


def _lifespan(edge: Edge):
    import contextlib

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        await edge.client.aclose()
        await edge.pool.close()

    return lifespan


def run_edge(settings: Settings) -> None:
    from paht.runtime.telemetry import setup_logging

    setup_logging("edge", settings.log_level)
    upstreams = json.loads(os.environ["PAHT_EDGE_UPSTREAMS"])
    monitor = os.environ.get("PAHT_EDGE_NATS_MONITOR") or None
    app = build_edge_app(upstreams, monitor, settings)
    heap.settle()  # start-up's objects out of the collector's full passes
    uvicorn.run(app, host=os.environ.get("PAHT_EDGE_HOST", "127.0.0.1"), port=settings.port,
                log_config=None, access_log=False, **UVICORN_OPTIONS)
