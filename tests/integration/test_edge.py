"""The edge in front of real uvicorn services (issue 5, items 3, 6, 9 and 20): no request fails because of
another, refused URLs get a clear 4xx, forwarded headers are the edge's own, no `server` header."""
from __future__ import annotations

import asyncio
import http.client
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response

from paht.runtime.edge import UVICORN_OPTIONS, build_edge_app
from paht.runtime.http import install_protections
from paht.runtime.proxies import public_base
from paht.runtime.settings import SERVICES, Settings
from paht.runtime.supervisor import free_port

pytestmark = pytest.mark.integration


class Served:
    """A real uvicorn server in a thread."""

    def __init__(self, app, **config):
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None,
                                                    access_log=False, lifespan="on", **config))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def service_app(settings: Settings) -> FastAPI:
    """A service with the shared protections, a good endpoint, one that fails, and an echo of what arrives."""
    app = FastAPI()
    install_protections(app, settings)

    @app.post("/api/intake/v1/good")
    async def good(body: dict):
        return {"ok": True, "n": body.get("n")}

    @app.get("/api/intake/v1/bad")
    async def bad():
        raise RuntimeError("a bug in one handler")

    @app.get("/api/intake/v1/echo")
    async def echo(request: Request):
        return {"headers": dict(request.headers), "public_base": public_base(request, settings)}

    @app.get("/api/intake/v1/peer")
    async def peer(request: Request):
        return {"port": request.client.port}  # the edge's side of the connection this request came on

    @app.get("/api/intake/v1/banner")
    async def banner():
        return Response("hi", headers={"server": "upstream/1.0 (secret version)"})

    return app


def closing_app():
    """A service that answers 500 and then drops the keep-alive connection a moment later, as uvicorn does
    when a handler's exception reaches it (the connection may already be back in the edge's pool)."""

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            return await send({"type": "lifespan.shutdown.complete"})
        while (await receive()).get("more_body"):
            pass
        failing = scope["path"].endswith("/bad")
        body = b'{"error": "boom"}' if failing else b'{"ok": true}'
        await send({"type": "http.response.start", "status": 500 if failing else 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
        if failing:
            await asyncio.sleep(0.05)
            raise RuntimeError("a bug in one handler, after its answer")

    return app


@pytest.fixture
def stack(tmp_path):
    started: list[Served] = []

    def start(upstream_app) -> tuple[Served, Served]:
        upstream = Served(upstream_app, server_header=False, proxy_headers=False)  # as paht.runtime.host serves
        settings = Settings(env="test", data=tmp_path)
        edge = Served(build_edge_app({s: upstream.url for s in SERVICES}, None, settings), **UVICORN_OPTIONS)
        started.extend([edge, upstream])
        return upstream, edge

    yield start
    for s in started:
        s.stop()


def mixed_burst(edge_url: str) -> tuple[list[int], list[int]]:
    """200 good submissions and 20 failing requests, 32 at a time, through one edge."""
    with httpx.Client(base_url=edge_url, timeout=30, limits=httpx.Limits(max_connections=32)) as client:
        def one(i: int) -> tuple[bool, int]:
            if i % 11 == 5:
                return False, client.get("/api/intake/v1/bad").status_code
            return True, client.post("/api/intake/v1/good", json={"n": i}).status_code

        with ThreadPoolExecutor(32) as pool:
            results = list(pool.map(one, range(220)))
    return [s for ok, s in results if ok], [s for ok, s in results if not ok]


@pytest.mark.parametrize("upstream", ["hardened", "closing"])
def test_no_good_request_fails_because_another_one_did(stack, tmp_path, upstream):
    app = service_app(Settings(env="test", data=tmp_path)) if upstream == "hardened" else closing_app()
    _service, edge = stack(app)
    good, bad = mixed_burst(edge.url)
    assert len(good) == 200 and len(bad) == 20
    assert set(good) == {200}, {s: good.count(s) for s in set(good)}
    assert set(bad) == {500}


def test_a_service_keeps_its_connection_open_after_a_500(stack, tmp_path):
    service, _edge = stack(service_app(Settings(env="test", data=tmp_path)))
    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=5)
    conn.request("GET", "/api/intake/v1/bad")
    failed = conn.getresponse()
    body = failed.read()
    assert failed.status == 500 and b"error.internal" in body and not failed.will_close
    first_socket = conn.sock
    conn.request("POST", "/api/intake/v1/good", body=b'{"n": 1}', headers={"Content-Type": "application/json"})
    after = conn.getresponse()
    after.read()
    assert after.status == 200 and conn.sock is first_socket  # same connection, still open
    conn.close()


def raw_get(port: int, target: str) -> tuple[int, bytes]:
    """Send a request line httpx would refuse to build, and return the status and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_the_edge_answers_refused_urls_with_a_clear_4xx(stack, tmp_path):
    _service, edge = stack(service_app(Settings(env="test", data=tmp_path)))
    status, body = raw_get(edge.port, "/api/publication/v1/reports/%00")
    assert status == 400 and b"error.bad_character" in body and b'"vi"' in body
    status, body = raw_get(edge.port, "/track?code=" + "A" * 100_000)
    assert status == 414 and b"error.uri_too_long" in body
    status, body = raw_get(edge.port, "/track?code=%E1%BB%93%00x")
    assert status == 400 and b"error.bad_character" in body


def test_the_edge_sets_its_own_forwarded_headers_and_hides_every_server_banner(stack, tmp_path):
    _service, edge = stack(service_app(Settings(env="test", data=tmp_path)))
    forged = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https", "X-Forwarded-For": "1.2.3.4",
              "Forwarded": "host=evil.example", "X-Real-IP": "1.2.3.4"}
    r = httpx.get(f"{edge.url}/api/intake/v1/echo", headers=forged)
    seen = r.json()["headers"]
    assert seen["x-forwarded-host"] == f"127.0.0.1:{edge.port}" and seen["x-forwarded-for"] == "127.0.0.1"
    assert seen["x-forwarded-proto"] == "http" and "forwarded" not in seen and "x-real-ip" not in seen
    assert r.json()["public_base"] == edge.url  # the service trusts the edge (127.0.0.1), which says the truth
    banner = httpx.get(f"{edge.url}/api/intake/v1/banner")
    for response in (r, banner, httpx.get(f"{edge.url}/static/paht.css"), httpx.get(f"{edge.url}/healthz")):
        assert "server" not in response.headers, response.url
        assert response.headers["x-frame-options"] == "DENY" and "default-src 'self'" in response.headers["content-security-policy"]
        assert len(response.headers.get_list("date")) <= 1


def test_the_edge_keeps_its_connections_to_a_service_open(stack, tmp_path):
    """One after the other, requests go on the same kept-alive connection to the service (a new one per request
    would cost a connection set-up each and leave thousands of sockets in TIME_WAIT under load)."""
    _service, edge = stack(service_app(Settings(env="test", data=tmp_path)))
    with httpx.Client(base_url=edge.url, timeout=10) as client:
        ports = {client.get("/api/intake/v1/peer").json()["port"] for _ in range(30)}
        assert client.post("/api/intake/v1/good", json={"n": 1}).status_code == 200
        ports.add(client.get("/api/intake/v1/peer").json()["port"])
    assert len(ports) == 1


def test_the_edge_passes_a_page_form_over_the_limit_on_for_its_service_to_answer_with_a_page(stack, tmp_path):
    """A page form over the body limit is the service's to answer (the page again, 413: paht/runtime/web/forms.py);
    programs' bodies over it still get the edge's JSON 413, and so does a page form beyond the largest upload."""
    from fastapi import Form

    settings = Settings(env="test", data=tmp_path)
    app = service_app(settings)
    done: list[str] = []

    @app.post("/intake/note")
    async def note(text: str = Form("")):
        done.append(text)
        return {"ok": True}

    _service, edge = stack(app)
    with httpx.Client(base_url=edge.url, timeout=60) as client:
        token = "t" * 40
        client.cookies.set("paht_csrf", token)
        big = ("files", ("big.pdf", b"%PDF" + b"x" * (settings.max_body_bytes + 10), "application/pdf"))
        page = client.post("/intake/note", data={"csrf_token": token, "text": "Ghi chú"}, files=[big],
                           headers={"Accept": "text/html,*/*;q=0.8"})
        assert page.status_code == 413 and page.headers["content-type"].startswith("text/html")
        assert "Biểu mẫu chưa được gửi" in page.text and done == []
        api = client.post("/api/intake/v1/good", data={"csrf_token": token, "text": "x"}, files=[big])
        assert api.status_code == 413 and api.json()["error"]["code"] == "error.body_too_large"
        assert client.post("/intake/note", data={"csrf_token": token, "text": "ngắn"}).status_code == 200 and done == ["ngắn"]
    with socket.create_connection(("127.0.0.1", edge.port), timeout=10) as sock:  # says 200 MB: refused before any is read
        sock.sendall(b"POST /intake/note HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: 200000000\r\nConnection: close\r\n\r\ntext=x")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413") and b"error.body_too_large" in answer and done == ["ngắn"]
