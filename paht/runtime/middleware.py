"""The ASGI middlewares every service (and the edge) puts in front of its routes."""
from __future__ import annotations

import logging
from urllib.parse import unquote_plus, unquote_to_bytes

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from paht.runtime.http import problem
from paht.runtime.web.forms import cut_form, is_page_form
from paht.runtime.text import has_control

log = logging.getLogger(__name__)
MAX_URL_BYTES = 8 * 1024  # path + query; what common proxies accept, far above any link PAHT makes


def _has_control(text: str) -> bool:
    # Only controls are refused this early; a field's own cleaner refuses the rest with a message
    # that fits it (e.g. the tracking page's hint for a code that cannot be one).
    return has_control(text)


def http_protocol():
    """uvicorn's HTTP protocol on llhttp (httptools), keeping an over-long URL short enough to be refused properly.

    httptools cannot split a URL above 64 KB and uvicorn then answers a bare 400; the URL is cut after
    twice the limit instead, so RefuseBadRequests answers its bilingual 414. Without httptools: h11.
    """
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # pragma: no cover - httptools is a dependency
        return "h11"

    class Protocol(HttpToolsProtocol):
        def on_url(self, url: bytes) -> None:
            room = 2 * MAX_URL_BYTES - len(self.url)
            if room > 0:
                self.url += url[:room]

    return Protocol


class RefuseBadRequests:
    """Answer 414 for an over-long URL and 400 for a control character (NUL...) in the path or query, before any handler."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "replace")
            query = scope.get("query_string", b"")
            if len(raw_path) + len(query) > MAX_URL_BYTES:
                return await problem(414, "error.uri_too_long", limit=MAX_URL_BYTES)(scope, receive, send)
            path = unquote_to_bytes(raw_path).decode("utf-8", "replace")
            if _has_control(path) or _has_control(unquote_plus(query.decode("utf-8", "replace"), errors="replace")):
                return await problem(400, "error.bad_character")(scope, receive, send)
        await self.app(scope, receive, send)


class CatchAll:
    """Turn any unexpected exception into the bilingual 500 without re-raising.

    Starlette's outermost ServerErrorMiddleware answers 500 and then re-raises, and uvicorn then
    closes the keep-alive connection: the edge, which had pooled it, answered the next, unrelated
    request with 503 (issue 5, item 20). Answered here, the connection stays usable.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def watch(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            # the JSON log line carries the trace id; the path holds ids only, never personal data
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise  # half an answer is out: only closing the connection can tell the client
            await problem(500, "error.internal")(scope, receive, send)


class BodyLimit:
    """Refuse request bodies above a size with 413, whether or not Content-Length is honest.

    `streamed` gives some paths (file uploads) a larger limit, and their bodies are passed on as they arrive,
    never held in memory: the route writes them to disk and applies its own, tighter limits. Here they are
    only counted: past the limit the route sees the client leave, and the client gets the 413. A form sent
    to such a path keeps the ordinary limit (the CSRF guard reads a form whole).

    A page form over the limit (paht/runtime/web/forms.py) is not answered here: its first `max_bytes` are kept, the
    rest is read and let go (up to the largest upload limit), and the request goes on as a short form of the text
    fields that arrived whole, marked, for `TooLargeForms` to answer with a page (413).
    """

    def __init__(self, app: ASGIApp, max_bytes: int, streamed: dict[str, int] | None = None):
        self.app = app
        self.max_bytes = max_bytes
        self.streamed = dict(streamed or {})
        self.drain_bytes = max([max_bytes, *self.streamed.values()])  # a page form over the limit: read this far, then answer

    @staticmethod
    def uploads(settings) -> dict[str, int]:
        """The upload paths and their limit, from the settings."""
        from paht.runtime.storage import streamed_uploads

        return streamed_uploads(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        limit = self.max_bytes
        from paht.runtime.storage import streamed_limit

        streamed = streamed_limit(self.streamed, scope["path"])
        if streamed is not None and not _is_form(headers.get(b"content-type", b"")):
            limit = streamed
        page_form = limit == self.max_bytes and is_page_form(scope["path"], Headers(scope=scope))
        if declared is not None and declared.isdigit() and int(declared) > limit:
            if page_form:
                return await self._page_form_too_large(scope, receive, send, [], True, int(declared))
            return await problem(413, "error.body_too_large", limit=limit)(scope, receive, send)
        if limit != self.max_bytes:
            return await self._counted(scope, receive, send, limit)
        if declared is not None:
            return await self.app(scope, receive, send)  # honest length checked above; servers stop at it
        # No length given (chunked): read up to the limit first, then replay, so the answer is a clean 413.
        chunks, seen, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            more = message.get("more_body", False)
            if seen > self.max_bytes:
                if page_form:
                    return await self._page_form_too_large(scope, receive, send, chunks, more, None)
                return await problem(413, "error.body_too_large", limit=self.max_bytes)(scope, receive, send)
        body, sent = b"".join(chunks), False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _page_form_too_large(self, scope: Scope, receive: Receive, send: Send, chunks: list[bytes], more: bool,
                                   declared: int | None) -> None:
        """Keep the first `max_bytes` of a page form, read the rest to let it go, and pass the form on cut and marked."""
        head = b"".join(chunks)[: self.max_bytes]
        kept = [head]
        seen = sum(len(c) for c in chunks)
        room = self.max_bytes - len(head)
        while more and seen <= self.drain_bytes:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left: nobody to show a page to
            chunk = message.get("body", b"")
            seen += len(chunk)
            if room > 0:
                kept.append(chunk[:room])
                room -= len(kept[-1])
            more = message.get("more_body", False)
        cut_scope, cut_receive = cut_form(scope, receive, b"".join(kept), self.max_bytes, declared or seen)
        await self.app(cut_scope, cut_receive, send)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        seen, over, started = 0, False, False

        async def counting():
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def watch(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counting, watch)
        if over and not started:
            await problem(413, "error.body_too_large", limit=limit)(scope, receive, send)


def _is_form(content_type: bytes) -> bool:
    from paht.runtime.web.security import FORM_TYPES

    return content_type.split(b";")[0].strip().lower().decode("latin-1") in FORM_TYPES


class HeadAsGet:
    """Answer HEAD like GET without the body (FastAPI routes declare GET only; monitors and link checkers send HEAD)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            return await self.app(scope, receive, send)

        async def without_body(message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return  # swallow the body; the headers (Content-Length included) already went out
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)
