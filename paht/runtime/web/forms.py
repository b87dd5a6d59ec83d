"""A page form whose body is over the limit: the page again with the reason, not a JSON 413 (the one home of the rule).

A person who picks too large a file in a page form (``multipart/form-data`` or urlencoded, posted to a page path,
not under ``/api/``) gets an HTML answer with status 413 in their language, with what they typed kept where it can be;
nothing of the form is acted on. Programs (``/api/...`` paths, the OAuth2 token endpoint, callers that accept JSON
only) keep getting the bilingual JSON 413.

How it goes
    1. ``BodyLimit`` (paht/runtime/middleware.py) finds a page form over ``max_body_bytes``. Instead of answering, it
       keeps the first ``max_body_bytes`` of the body and reads the rest only to let it go (up to the largest upload
       limit: a browser that is still sending when the answer comes may not show the answer at all), then
       ``cut_form`` turns what it kept into a small urlencoded form of the text fields that arrived whole (the files
       are dropped) and marks the request with a ``FormTooLarge``. The edge passes such a form on to its service
       (paht/runtime/edge.py): it never answers it itself.
    2. ``CsrfGuard`` checks that short form as any other: the CSRF field comes first in every form, so it is kept.
    3. ``TooLargeForms``, just inside the guard, answers the marked request: no route runs (nothing is written).
       The route the form was posted to may name the page to show with ``@on_too_large(handler)`` (its router
       included with ``include_pages(app, router)``) — ``handler(request, too_large) -> Response``, which re-renders
       the page the form was on with ``too_large.message`` and ``too_large.kept`` — otherwise the shared error page
       says it. Either way: 413 (a redirect to sign in stays a redirect).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Awaitable, Callable
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from paht.runtime.web.language import LANGUAGES, pick_language, translate
from paht.runtime.web.security import CSRF_EXEMPT_PATHS, FORM_TYPES

SCOPE_KEY = "paht.form_too_large"
MESSAGE_KEY = "error.form_too_large"
MAX_KEPT_FIELDS = 200
ATTRIBUTE = "paht_on_too_large"

Handler = Callable[[Request, "FormTooLarge"], Awaitable[Response]]


def size_text(size: int, lang: str) -> str:
    """A size for people: 850 B, 12 KB, 1.4 MB (Vietnamese: 1,4 MB)."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} KB"
    text = f"{size / (1024 * 1024):.1f} MB"
    return text if lang == "en" else text.replace(".", ",")


def is_page_form(path: str, headers: Headers) -> bool:
    """A form a person sent from a page: a form body, to a page path (not an API's), from a caller that reads HTML."""
    if headers.get("content-type", "").split(";")[0].strip().lower() not in FORM_TYPES:
        return False
    if path.startswith("/api/") or path in CSRF_EXEMPT_PATHS:
        return False
    accept = headers.get("accept", "").lower()
    return not ("json" in accept and "html" not in accept and "*/*" not in accept)


@dataclass(frozen=True)
class FormTooLarge:
    """A page form refused for its size: the limit, how large it was, and the text fields that arrived whole."""

    limit: int
    sent: int
    fields: list[tuple[str, str]] = field(default_factory=list)

    @property
    def kept(self) -> dict[str, str]:
        """The text the person typed, by field (the first of a repeated name), without the CSRF token."""
        kept: dict[str, str] = {}
        for name, value in self.fields:
            if name != "csrf_token":
                kept.setdefault(name, value)
        return kept

    @property
    def message(self) -> dict[str, str]:
        """Why, in both languages (each with its own way of writing sizes); how large it was, unless it reads the same
        as the limit (a form just over it: "977 KB, more than the 977 KB" would only puzzle)."""
        out = {}
        for lang in LANGUAGES:
            sent, limit = size_text(self.sent, lang), size_text(self.limit, lang)
            out[lang] = translate(lang, MESSAGE_KEY + "_size", sent=sent, limit=limit) if sent != limit else translate(lang, MESSAGE_KEY, limit=limit)
        return out


def too_large_of(request: Request) -> FormTooLarge | None:
    """The refusal a request carries, if its form was over the limit."""
    return request.scope.get(SCOPE_KEY)


def kept_fields(body: bytes, content_type: str) -> list[tuple[str, str]]:
    """The text fields of the first part of a form body that arrived whole: a file's part, and the part the cut went
    through, are left out."""
    kind, _, params = content_type.partition(";")
    kind = kind.strip().lower()
    if kind == "application/x-www-form-urlencoded":
        whole, _, _cut = body.rpartition(b"&")  # the last pair is cut
        return parse_qsl(whole.decode("utf-8", "replace"), keep_blank_values=True)[:MAX_KEPT_FIELDS]
    if kind != "multipart/form-data":
        return []
    from python_multipart.multipart import MultipartParser, parse_options_header

    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        return []
    found: list[tuple[str, str]] = []
    part: dict = {}
    header = [b"", b""]

    def begin() -> None:
        part.clear()
        part.update(name=None, file=False, data=bytearray(), disposition=b"")

    def header_field(data: bytes, start: int, end: int) -> None:
        header[0] += data[start:end]

    def header_value(data: bytes, start: int, end: int) -> None:
        header[1] += data[start:end]

    def header_end() -> None:
        if header[0].strip().lower() == b"content-disposition":
            part["disposition"] = header[1]
        header[0], header[1] = b"", b""

    def headers_done() -> None:
        _, opts = parse_options_header(part["disposition"])
        part["name"] = opts.get(b"name", b"").decode("utf-8", "replace") or None
        part["file"] = b"filename" in opts

    def data(chunk: bytes, start: int, end: int) -> None:
        if not part["file"]:
            part["data"] += chunk[start:end]

    def end() -> None:
        if part.get("name") and not part["file"] and len(found) < MAX_KEPT_FIELDS:
            found.append((part["name"], bytes(part["data"]).decode("utf-8", "replace")))

    parser = MultipartParser(boundary, {"on_part_begin": begin, "on_header_field": header_field, "on_header_value": header_value,
                                        "on_header_end": header_end, "on_headers_finished": headers_done, "on_part_data": data,
                                        "on_part_end": end})
    try:
        parser.write(body)  # no finalize(): the body was cut, what is unfinished is left out
    except Exception:  # noqa: BLE001 - a malformed body keeps what was read before the fault
        pass
    return found


def cut_form(scope: Scope, receive: Receive, head: bytes, limit: int, sent: int) -> tuple[Scope, Receive]:
    """The request as the rest of the app sees it: a short urlencoded form of the kept text fields, marked refused
    (`receive`, once that body is read, only for a disconnect)."""
    headers = Headers(scope=scope)
    fields = kept_fields(head[:limit], headers.get("content-type", ""))
    body = urlencode(fields).encode()
    raw = [(k, v) for k, v in scope.get("headers", []) if k.lower() not in (b"content-type", b"content-length")]
    raw += [(b"content-type", b"application/x-www-form-urlencoded"), (b"content-length", str(len(body)).encode())]
    marked = {**scope, "headers": raw, SCOPE_KEY: FormTooLarge(limit, sent, fields)}
    sent_once = False

    async def replay() -> dict:
        nonlocal sent_once
        if not sent_once:
            sent_once = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return marked, replay


def on_too_large(handler: Handler):
    """Name the page a route's form comes back to when it is over the limit (the route itself never runs then);
    `include_pages` brings the marked routes of a router to the app."""
    def mark(endpoint):
        setattr(endpoint, ATTRIBUTE, handler)
        return endpoint

    return mark


def include_pages(app, router) -> None:
    """Include a router of pages, and note the pages its routes marked with `on_too_large`, for `TooLargeForms`."""
    app.include_router(router)
    pages = too_large_pages(app)
    for route in router.routes:
        handler = getattr(getattr(route, "endpoint", None), ATTRIBUTE, None)
        if handler is not None:
            pages.routes.append(Route(route.path, _page(handler), methods=sorted(getattr(route, "methods", None) or ["POST"])))


def too_large_pages(app) -> Router:
    """The app's pages for forms over the limit, by the path the form was posted to (the shared error page otherwise)."""
    pages = getattr(app.state, "too_large_pages", None)
    if pages is None:
        pages = app.state.too_large_pages = Router(default=_shared_page)
    return pages


def _page(handler: Handler):
    async def page(request: Request) -> Response:
        response = await handler(request, request.scope[SCOPE_KEY])
        if 200 <= response.status_code < 300:
            response.status_code = 413  # a page shown instead of doing what was asked (a redirect to sign in stays one)
        return response

    return page


async def _shared_page(scope: Scope, receive: Receive, send: Send) -> None:
    request = Request(scope, receive)
    await error_page(request, scope[SCOPE_KEY])(scope, receive, send)


class TooLargeForms:
    """Answer a page form BodyLimit refused, instead of its route: the page named with `on_too_large`, or the shared
    error page; 413."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or SCOPE_KEY not in scope:
            return await self.app(scope, receive, send)
        app = scope.get("app")
        pages = too_large_pages(app) if app is not None and hasattr(app, "state") else Router(default=_shared_page)
        await pages(scope, receive, send)


def error_page(request: Request, too_large: FormTooLarge) -> Response:
    """The shared error page for a page form over the limit, when its route names no page of its own."""
    from paht.runtime.web.pages import shared_pages

    lang = pick_language(request)
    message = too_large.message
    ordered = {lang: message[lang], **{k: v for k, v in message.items() if k != lang}}
    return shared_pages().render(request, "error.html", 413, error={"status": 413, "code": MESSAGE_KEY, "message": ordered})
