"""Browser protections on every response and every state-changing request: security headers and CSRF.

Headers (``SecurityHeaders``, installed by ``make_app`` and by the edge)
    Content-Security-Policy without inline scripts or styles, ``X-Content-Type-Options: nosniff``,
    ``X-Frame-Options: DENY``, ``Referrer-Policy: same-origin`` (tracking codes and report ids in
    our URLs never leave the site), ``Permissions-Policy`` (no camera or microphone: photos are
    picked with a file input, which needs neither; geolocation only for our own pages, for the
    "use my location" pin of the report form), and, behind ``PAHT_HSTS`` /
    ``PAHT_SECURE_COOKIES`` (on by default in production), HSTS and the ``Secure`` flag on every
    cookie any handler sets. No ``server`` header is ever sent.

CSRF (``CsrfGuard``)
    A random token lives in the ``paht_csrf`` cookie (HttpOnly, SameSite=Strict), set by
    ``Pages.render`` when missing; every form writes it back with ``{{ csrf_field() }}``. For
    POST/PUT/PATCH/DELETE sent as a form, or carrying a session cookie (the staff's ``paht_token``,
    a reporter's ``paht_reporter``) without an Authorization header, the form field ``csrf_token``
    (or the ``X-CSRF-Token`` header) must equal the cookie,
    and an Origin (or Referer) header, when present, must be this site. Bearer-token API calls are
    exempt: a browser never adds an Authorization header on its own.
"""
from __future__ import annotations

import secrets
from typing import Callable
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request, cookie_parser
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paht.runtime.web.language import error_body, pick_language

CSRF_COOKIE = "paht_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
REPORTER_COOKIE = "paht_reporter"  # a reporter's session after an SMS code (intake); the staff's is paht.runtime.http.TOKEN_COOKIE
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
# The OAuth2 token endpoint answers JSON to programs and sets no cookie: a forged post gains nothing.
# Open311's POST requests is authenticated by the partner's api_key in the form itself (never a cookie) and sets none.
CSRF_EXEMPT_PATHS = frozenset({"/auth/token", "/open311/v2/requests.json", "/open311/v2/requests.xml", "/open311/v2/requests"})

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(self), payment=(), usb=()"
HSTS = "max-age=31536000; includeSubDomains"
_DEFAULT_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", PERMISSIONS_POLICY.encode()),
    (b"cross-origin-opener-policy", b"same-origin"),
)


def tile_origin(url: str) -> str:
    """The origin of a map tile URL template, for img-src: {s}.tile.example.org becomes *.tile.example.org ("" if none)."""
    parts = urlsplit((url or "").replace("{s}", "*"))
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""


def with_images_from(*sources: str) -> str:
    """The default policy with more image sources (a map's tile server): images only, scripts and styles stay ours."""
    extra = " ".join(s for s in sources if s)
    return CONTENT_SECURITY_POLICY.replace("img-src 'self' data:", f"img-src 'self' data: {extra}") if extra else CONTENT_SECURITY_POLICY


def new_csrf_token() -> str:
    """Return a fresh random CSRF token."""
    return secrets.token_urlsafe(32)


def is_csrf_token(value: str | None) -> bool:
    """Tell whether a cookie value has the shape of a token we issue (anything else is replaced)."""
    return bool(value) and 32 <= len(value) <= 64 and all(c.isalnum() or c in "-_" for c in value)


class SecurityHeaders:
    """Add the security headers to every response, drop `server`, and mark cookies Secure when asked."""

    def __init__(self, app: ASGIApp, secure_cookies: bool = False, hsts: bool = False):
        self.app = app
        self.secure_cookies = secure_cookies
        self.extra = _DEFAULT_HEADERS + (((b"strict-transport-security", HSTS.encode()),) if hsts else ())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, self._cookie(k, v)) for k, v in message.get("headers", []) if k.lower() != b"server"]
                present = {k.lower() for k, _ in headers}
                # A page may set a policy of its own (the API docs do); otherwise ours applies.
                headers += [(k, v) for k, v in self.extra if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _cookie(self, name: bytes, value: bytes) -> bytes:
        if not self.secure_cookies or name.lower() != b"set-cookie":
            return value
        attributes = [part.strip().lower() for part in value.split(b";")[1:]]
        return value if b"secure" in attributes else value + b"; Secure"


def csrf_cookie_kwargs(token: str) -> dict:
    """Return the set_cookie arguments of the CSRF cookie (Secure is added by SecurityHeaders)."""
    return {"key": CSRF_COOKIE, "value": token, "httponly": True, "samesite": "strict", "path": "/"}


def origin_of(url: str) -> str | None:
    """Return scheme://host[:port] of a URL, or None when it has none."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


class CsrfGuard:
    """Refuse a state-changing browser request that does not come from one of this site's own forms."""

    def __init__(self, app: ASGIApp, allowed_origins: Callable[[Request], set[str]], session_cookies: frozenset[str],
                 refuse_body: Callable[[Request, str], Response], exempt_paths: frozenset[str] = CSRF_EXEMPT_PATHS):
        self.app = app
        self.allowed_origins = allowed_origins  # the "scheme://host" origins this site answers to
        self.session_cookies = frozenset(session_cookies)  # cookies a browser adds by itself that sign someone in
        self.refuse_body = refuse_body  # the 4xx for a form the parser refused (too many fields...)
        self.exempt_paths = exempt_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE_METHODS or scope["path"] in self.exempt_paths:
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        if "authorization" in headers:
            return await self.app(scope, receive, send)
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        is_form = content_type in FORM_TYPES
        cookies = _cookies(headers)
        if not is_form and self.session_cookies.isdisjoint(cookies):
            return await self.app(scope, receive, send)  # not a browser form and no session cookie: nothing to forge
        request = Request(scope)
        claimed = headers.get("origin") or headers.get("referer")
        if claimed and origin_of(claimed) not in {o.lower() for o in self.allowed_origins(request)}:
            return await self._refuse(scope, receive, send, is_form, "origin")
        given = headers.get(CSRF_HEADER)
        if not given and is_form:
            body = await _read_body(receive)
            if body is None:
                return
            original, receive = receive, _replay(body, receive)
            try:
                form = await Request(scope, _replay(body, original)).form()
            except (HTTPException, MultiPartException) as exc:
                detail = exc.detail if isinstance(exc, HTTPException) else exc.message
                return await self.refuse_body(request, str(detail))(scope, receive, send)
            value = form.get(CSRF_FIELD)
            given = value if isinstance(value, str) else None
            await form.close()
        expected = cookies.get(CSRF_COOKIE)
        if not given or not expected or not secrets.compare_digest(given.encode(), expected.encode()):
            return await self._refuse(scope, receive, send, is_form, "token")
        await self.app(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, is_form: bool, why: str) -> None:
        from paht.runtime.web.pages import shared_pages

        request = Request(scope)
        if is_form:  # a person pressed a button: show a page that says what to do
            response: Response = shared_pages().error(request, 403, "error.csrf")
        else:
            body = error_body(pick_language(request), 403, "error.csrf")
            body["error"]["detail"] = ({"vi": "Yêu cầu được gửi từ một trang web khác.", "en": "The request was sent from another site."}
                                       if why == "origin" else
                                       {"vi": "Thiếu mã bảo vệ X-CSRF-Token hoặc mã không khớp.", "en": "The X-CSRF-Token header is missing or does not match."})
            response = JSONResponse(body, status_code=403)
        await response(scope, receive, send)


def _cookies(headers: Headers) -> dict[str, str]:
    return cookie_parser("; ".join(headers.getlist("cookie")))


async def _read_body(receive: Receive) -> bytes | None:
    """Read the whole request body (BodyLimit, outside this guard, already bounds it); None if the client left."""
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
