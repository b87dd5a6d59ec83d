"""The HTTP side every service shares: errors in two languages, body limits, health, staff auth."""
from __future__ import annotations

import json
import logging
from typing import Awaitable, Callable

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from paht.runtime.auth import Principal, TokenError, TokenVerifier
from paht.runtime.errors import (
    ConcurrentChange,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    StateConflict,
    TooManyRequests,
    Unauthorized,
    Unavailable,
)
from paht.runtime.web import error_body

log = logging.getLogger(__name__)
TOKEN_COOKIE = "paht_token"

_STATUS_KEYS = {
    400: "error.malformed_json",
    401: "error.unauthorized",
    403: "error.forbidden",
    404: "error.not_found",
    405: "error.method_not_allowed",
    409: "error.conflict_state",
    413: "error.body_too_large",
    422: "error.validation",
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
    for cls in type(exc).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 400


def problem(status: int, key: str, detail_en: str | None = None, detail_vi: str | None = None, **params) -> JSONResponse:
    """Return the bilingual JSON error every API answers with."""
    body = error_body(None, status, key, **params)
    if detail_en:
        body["error"]["detail"] = {"vi": detail_vi or detail_en, "en": detail_en}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


class BodyLimit:
    """Refuse request bodies above a size with 413, whether or not Content-Length is honest."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await problem(413, "error.body_too_large", limit=self.max_bytes)(scope, receive, send)
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
                return await problem(413, "error.body_too_large", limit=self.max_bytes)(scope, receive, send)
        body, sent = b"".join(chunks), False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


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

    @app.exception_handler(RequestValidationError)
    async def _validation(_req: Request, exc: RequestValidationError):
        en, vi = _validation_message(exc)
        malformed = any(e.get("type") == "json_invalid" for e in exc.errors())
        return problem(400 if malformed else 422, "error.malformed_json" if malformed else "error.validation", en, vi)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, exc: StarletteHTTPException):
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

    def require(*roles: str) -> Callable[..., Principal]:
        def check(user: Principal = Depends(current_user)) -> Principal:
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
