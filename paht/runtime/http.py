"""The HTTP side every service shares: errors in two languages, health, staff auth, and the one call that
installs every protection (middlewares in `paht/runtime/middleware.py`, proxies in `paht/runtime/proxies.py`)."""
from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Awaitable, Callable

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from paht.runtime.auth import Principal, TokenError, TokenVerifier
from paht.runtime.errors import (
    ConcurrentChange,
    DomainError,
    Forbidden,
    by_kind,
    InvalidInput,
    NotFound,
    StateConflict,
    TooManyRequests,
    Unauthorized,
    Unavailable,
)
from paht.runtime.web import error_body
from paht.runtime.web.security import FORM_TYPES, REPORTER_COOKIE, CsrfGuard, SecurityHeaders

if TYPE_CHECKING:
    from paht.runtime.settings import Settings

log = logging.getLogger(__name__)
TOKEN_COOKIE = "paht_token"

_STATUS_KEYS = {
    400: "error.bad_request",
    401: "error.unauthorized",
    403: "error.forbidden",
    404: "error.not_found",
    405: "error.method_not_allowed",
    409: "error.conflict_state",
    413: "error.body_too_large",
    414: "error.uri_too_long",
    422: "error.validation",
    429: "error.too_many_requests",
    503: "error.unavailable",
}


# Each kind of domain error has one HTTP status; a subclass takes its nearest ancestor's.
HTTP_STATUS: dict[type, int] = {
    DomainError: 400,
    InvalidInput: 422,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    StateConflict: 409,
    ConcurrentChange: 409,
    TooManyRequests: 429,
    Unavailable: 503,
}


def http_status(exc: DomainError) -> int:
    """Return the HTTP status of a domain error, walking its class hierarchy."""
    return by_kind(exc, HTTP_STATUS, 400)


def problem(status: int, key: str, detail_en: str | None = None, detail_vi: str | None = None, **params) -> JSONResponse:
    """Return the bilingual JSON error every API answers with."""
    body = error_body(None, status, key, **params)
    if detail_en:
        body["error"]["detail"] = {"vi": detail_vi or detail_en, "en": detail_en}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def refused_body_key(content_type: str, detail: str) -> tuple[int, str]:
    """Name the refusal of an unreadable body by what the parser said (Starlette gives only a message)."""
    if detail.startswith(("Too many fields", "Too many files")):
        return 400, "error.too_many_fields"
    if "exceeded maximum size" in detail:
        return 413, "error.body_too_large"
    if content_type.split(";")[0].strip().lower() in FORM_TYPES:
        return 400, "error.malformed_form"
    if detail == "There was an error parsing the body":
        return 400, "error.malformed_json"
    return 400, "error.bad_request"


def refused_body_response(request: Request, detail: str) -> JSONResponse:
    """Return the 4xx for a body the parser refused, with its own code."""
    status, key = refused_body_key(request.headers.get("content-type", ""), detail)
    return problem(status, key)


def _validation_message(exc: RequestValidationError) -> tuple[str, str]:
    parts_en, parts_vi = [], []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        kind = err.get("type", "")
        if kind == "json_invalid":
            return "The request body is not valid JSON.", "Nội dung yêu cầu không phải JSON hợp lệ."
        if kind == "extra_forbidden":
            parts_en.append(f"unknown field '{where}'")
            parts_vi.append(f"trường không được phép '{where}'")
        elif kind == "missing":
            parts_en.append(f"'{where}' is required")
            parts_vi.append(f"thiếu trường bắt buộc '{where}'")
        else:
            parts_en.append(f"'{where}': {err.get('msg', 'invalid value')}")
            parts_vi.append(f"'{where}': giá trị không hợp lệ")
    return "; ".join(parts_en), "; ".join(parts_vi)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_req: Request, exc: DomainError):
        response = problem(http_status(exc), exc.key, exc.detail_en, exc.detail_vi, **exc.params)
        if isinstance(exc, TooManyRequests):
            response.headers["Retry-After"] = str(exc.retry_after_s)
        elif isinstance(exc, Unavailable):
            response.headers["Retry-After"] = "5"
        return response

    @app.exception_handler(StaleDataError)
    async def _stale(_req: Request, exc: StaleDataError):
        return problem(409, ConcurrentChange.key, "Someone else acted on this report at the same moment; reload it to see what they did.",
                       "Phản ánh vừa được người khác xử lý cùng lúc; vui lòng tải lại để xem thay đổi.")

    @app.exception_handler(DataError)
    async def _unstorable(_req: Request, exc: DataError):
        # The net behind the text cleaner: the database refused a value (nothing was written: the unit
        # of work rolled back). Logged, because some boundary let it through.
        log.warning("the database refused a value: %s", type(exc.orig).__name__ if exc.orig is not None else "DataError")
        return problem(422, "error.validation", "A value in the request cannot be stored (too large, or with characters that are not allowed).",
                       "Yêu cầu có giá trị không lưu được (quá lớn hoặc chứa ký tự không được phép).")

    @app.exception_handler(RequestValidationError)
    async def _validation(_req: Request, exc: RequestValidationError):
        en, vi = _validation_message(exc)
        malformed = any(e.get("type") == "json_invalid" for e in exc.errors())
        return problem(400 if malformed else 422, "error.malformed_json" if malformed else "error.validation", en, vi)

    @app.exception_handler(StarletteHTTPException)
    async def _http(req: Request, exc: StarletteHTTPException):
        if exc.status_code == 400 and isinstance(exc.detail, str):
            return refused_body_response(req, exc.detail)
        key = _STATUS_KEYS.get(exc.status_code, "error.validation")
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail, ensure_ascii=False)
        return problem(exc.status_code, key, detail)

    @app.exception_handler(Exception)
    async def _unexpected(_req: Request, exc: Exception):  # last resort: never a bare 500 page
        log.exception("unhandled error")
        return problem(500, "error.internal")


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get(TOKEN_COOKIE, "")


def make_auth(verifier: TokenVerifier):
    """Return (optional_user, current_user, require) dependencies bound to a verifier."""

    def optional_user(request: Request) -> Principal | None:
        token = bearer_token(request)
        if not token:
            return None
        try:
            return verifier.verify(token)
        except TokenError:
            return None

    def current_user(request: Request) -> Principal:
        token = bearer_token(request)
        if not token:
            raise Unauthorized("Sign in first: this needs a staff account.", "Vui lòng đăng nhập bằng tài khoản cán bộ.")
        try:
            return verifier.verify(token)
        except TokenError as exc:
            raise Unauthorized(f"Your sign-in is not valid ({exc}).", "Phiên đăng nhập không hợp lệ hoặc đã hết hạn.")

    async def signed_in(request: Request) -> Principal:
        """current_user for a route's dependencies, in the event loop: a sync dependency runs in a worker thread, two
        thread hops per request for a check that takes a fraction of a millisecond. A verifier that may wait on I/O
        (an OIDC issuer's JWKS, dispatch's table of revocations) still checks in a worker thread."""
        if verifier.may_block:
            return await asyncio.to_thread(current_user, request)
        return current_user(request)

    def require(*roles: str) -> Callable[..., Awaitable[Principal]]:
        async def check(user: Principal = Depends(signed_in)) -> Principal:
            if not user.has(*roles):
                raise Forbidden(
                    f"This step needs the role {' or '.join(roles)}.",
                    f"Bước này cần vai trò {' hoặc '.join(roles)}.",
                    key="error.wrong_role",
                    role=" / ".join(roles),
                )
            return user

        return check

    return optional_user, current_user, require


ReadyCheck = Callable[[], Awaitable[dict[str, bool]]]


def add_health_routes(app: FastAPI, ready: ReadyCheck) -> None:
    @app.get("/livez", include_in_schema=False)
    async def livez():
        return {"status": "alive"}

    @app.get("/healthz", include_in_schema=False)
    async def healthz():
        checks = await ready()
        ok = all(checks.values())
        return JSONResponse({"status": "ready" if ok else "starting", "checks": checks}, status_code=200 if ok else 503)


def install_protections(app: FastAPI, settings: "Settings") -> None:
    """Install the errors and middlewares every service shares.

    A request meets them in this order: security headers, catch-all 500, refused URLs, body limit,
    CSRF guard, the page of a page form over the body limit (each add_middleware wraps the ones added before it).
    """
    from paht.runtime.middleware import BodyLimit, CatchAll, HeadAsGet, RefuseBadRequests
    from paht.runtime.proxies import site_origins
    from paht.runtime.web.forms import TooLargeForms

    install_error_handlers(app)
    app.add_middleware(TooLargeForms)  # after the CSRF guard: a page form over the limit, cut by BodyLimit, gets a page
    app.add_middleware(CsrfGuard, allowed_origins=lambda request: site_origins(request, settings),
                       session_cookies=frozenset({TOKEN_COOKIE, REPORTER_COOKIE}), refuse_body=refused_body_response)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, streamed=BodyLimit.uploads(settings))  # uploads: streamed, own limit
    app.add_middleware(RefuseBadRequests)
    app.add_middleware(CatchAll)
    app.add_middleware(HeadAsGet)
    app.add_middleware(SecurityHeaders, secure_cookies=bool(settings.secure_cookies), hsts=bool(settings.hsts))
