"""Open311 GeoReport v2 at /open311/v2/ (wiki.open311.org/GeoReport_v2), with its Service Discovery file and two
extensions: page/page_size on GET requests and mySociety's servicerequestupdates.

Every answer is in the format of the resource's extension (`.json` or `.xml`; none: XML, the required one), and
so is every error: the specification's list of {code, description} with its status code (400 missing or
invalid parameters, 403 api_key, 404 unknown), never PAHT's own error shape. Parameters are read by hand, so
that no framework answers a 422 in its own words.
"""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Callable

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.formparsers import MultiPartException
from starlette.exceptions import HTTPException

from paht.runtime.errors import DomainError, Forbidden, InvalidInput, NotFound, StateConflict, TooManyRequests, Unauthorized, Unavailable, by_kind
from services.publication.domain import open311
from services.publication.entrypoints.cached import PublicAnswers
from services.publication.service_layer import open311 as use_cases

PREFIX = "/open311/v2"
STATUS = {InvalidInput: 400, Unauthorized: 403, Forbidden: 403, NotFound: 404, StateConflict: 409, TooManyRequests: 429, Unavailable: 503,
          DomainError: 400}
# Text fields of a POST (the specification's, and PAHT's media_ids extension): longer values are refused whole
MAX_FIELD = 5000
CONTACT = "Trung tâm Giám sát, điều hành đô thị thông minh (IOC) tỉnh / the provincial IOC"
KEY_SERVICE = "Ask the provincial IOC for an api_key (it registers your app with `paht partner add`). / Liên hệ Trung tâm IOC tỉnh để được cấp api_key."


def split(name: str) -> tuple[str, str]:
    """`requests.json` → ("requests", "json"); no extension: XML, the specification's required format."""
    stem, dot, ext = name.rpartition(".")
    if not dot:
        return name, "xml"
    return stem, ext.lower()


def answer(fmt: str, root: str, payload, status: int = 200, headers: dict | None = None) -> Response:
    if fmt == "json":
        import json

        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    else:
        body = open311.to_xml(root, payload)
    return Response(body, status_code=status, media_type=open311.FORMATS.get(fmt, open311.FORMATS["xml"]), headers=headers)


def error(fmt: str, status: int, description: str, headers: dict | None = None) -> Response:
    return answer(fmt if fmt in open311.FORMATS else "xml", "errors", open311.error_list(status, description), status, headers)


def described(exc: DomainError) -> str:
    return exc.detail_en if exc.detail_en == exc.detail_vi else f"{exc.detail_en} / {exc.detail_vi}"


async def guarded(fmt: str, work: Callable) -> Response:
    """Run one resource; a refusal becomes the specification's error, in the asked format."""
    if fmt not in open311.FORMATS:
        return error("xml", 404, f"Unknown format '{fmt[:10]}': use .json or .xml. / Định dạng không hỗ trợ: dùng .json hoặc .xml.")
    try:
        return await work()
    except DomainError as exc:
        status = by_kind(exc, STATUS, 400)
        headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, TooManyRequests) else None
        return error(fmt, status, described(exc), headers)


def page_of(params) -> tuple[int, int]:
    """The page/page_size extension: page from 1, page_size up to the specification's 1000 (its default)."""
    size = open311.parse_int("page_size", params.get("page_size"), open311.MAX_PAGE_SIZE, 1, open311.MAX_PAGE_SIZE)
    page = open311.parse_int("page", params.get("page"), 1, 1, 100_000)
    return size, (page - 1) * size


def build_router(ctx, intake=None, answers: PublicAnswers | None = None) -> APIRouter:
    """`intake` is the Open311Intake port (tests give one); by default intake's gRPC service. `answers`: the public
    reads' cache (ETag, 304, max-age; entrypoints/cached.py) the GETs of lists go through."""
    router = APIRouter(include_in_schema=False)
    answers = answers or PublicAnswers()
    recorder = use_cases.desk(ctx.uow)  # the posted requests' rows, written together (one commit for those waiting)

    def intake_port():
        nonlocal intake
        if intake is None:
            from services.publication.adapters.intake import GrpcOpen311Intake

            intake = GrpcOpen311Intake(lambda: ctx.channel("intake"), ctx.settings.grpc_timeout_s)
        return intake

    def site(request: Request) -> str:
        """The address people reach PAHT at (the edge's, or PAHT_PUBLIC_URL behind a proxy)."""
        return ctx.settings.public_url or str(request.base_url).rstrip("/")

    def base_url(request: Request) -> str:
        return site(request) + PREFIX

    @router.get("/open311/{name}")
    @router.get(PREFIX + "/{name}")
    async def resource(name: str, request: Request):
        return await answers.answer(request, lambda: _resource(name, request))

    async def _resource(name: str, request: Request):
        stem, fmt = split(name)
        params = request.query_params
        if stem == "discovery":
            async def discovery():
                changed = await asyncio.to_thread(use_cases.catalogue_changed_at, ctx.reads())
                changeset = open311.when(changed or datetime(2025, 7, 1, tzinfo=timezone.utc))
                return answer(fmt, "discovery", {
                    "changeset": changeset, "contact": CONTACT, "key_service": KEY_SERVICE,
                    "endpoints": [{"specification": open311.SPECIFICATION, "url": base_url(request), "changeset": changeset,
                                   "type": "production", "formats": ["text/xml", "application/json"]}],
                })
            return await guarded(fmt, discovery)
        if request.url.path.startswith(PREFIX + "/"):
            if stem == "services":
                return await guarded(fmt, lambda: services(fmt))
            if stem == "requests":
                return await guarded(fmt, lambda: requests(fmt, params, site(request)))
            if stem == "servicerequestupdates":
                return await guarded(fmt, lambda: updates(fmt, params))
        return unknown(fmt)

    async def services(fmt: str) -> Response:
        found = await asyncio.to_thread(use_cases.list_services, ctx.reads())
        return answer(fmt, "services", [
            {"service_code": s.code, "service_name": s.name, "description": s.name, "metadata": False, "type": "realtime",
             "keywords": ",".join(s.keywords), "group": s.group_name or s.group_code}
            for s in found])

    async def requests(fmt: str, params, here: str) -> Response:
        ids = open311.parse_list(params.get("service_request_id"))
        if len(ids) > open311.MAX_IDS:
            raise InvalidInput(f"service_request_id: at most {open311.MAX_IDS} ids", f"service_request_id: tối đa {open311.MAX_IDS} mã")
        if ids:  # the specification: a list of ids overrides every other parameter
            found = await asyncio.to_thread(use_cases.requests_by_ids, ctx.reads(), ids, here)
            return answer(fmt, "service_requests", found)
        wanted = open311.statuses(params.get("status"))
        window = open311.window(params.get("start_date"), params.get("end_date"), datetime.now(timezone.utc))
        limit, offset = page_of(params)
        found = await asyncio.to_thread(use_cases.search_requests, ctx.reads(), statuses=wanted, codes=open311.parse_list(params.get("service_code")),
                                        window=window, limit=limit, offset=offset, site=here)
        return answer(fmt, "service_requests", found)

    async def updates(fmt: str, params) -> Response:
        window = open311.window(params.get("start_date"), params.get("end_date"), datetime.now(timezone.utc))
        limit, offset = page_of(params)
        found = await asyncio.to_thread(use_cases.list_updates, ctx.reads(), window, limit, offset)
        return answer(fmt, "service_request_updates", found)

    @router.get(PREFIX + "/services/{name}")
    async def service_definition(name: str):
        code, fmt = split(name)

        async def work():
            await asyncio.to_thread(use_cases.find_service, ctx.reads(), code)
            # metadata is false for every service: the specification has no definition to give
            raise NotFound("This service has no attributes (metadata false): there is no service definition.",
                           "Lĩnh vực này không có thuộc tính bổ sung (metadata false).")
        return await guarded(fmt, work)

    @router.get(PREFIX + "/requests/{name}")
    async def one_request(name: str, request: Request):
        request_id, fmt = split(name)

        async def work():
            return answer(fmt, "service_requests", [await asyncio.to_thread(use_cases.get_request, ctx.reads(), request_id, site(request))])
        return await guarded(fmt, work)

    @router.get(PREFIX + "/tokens/{name}")
    async def token(name: str):
        token_, fmt = split(name)

        async def work():
            return answer(fmt, "service_requests", [await asyncio.to_thread(use_cases.request_of_token, ctx.reads(), token_)])
        return await guarded(fmt, work)

    @router.post(PREFIX + "/{name}")
    async def post_request(name: str, request: Request):
        stem, fmt = split(name)
        if stem != "requests":
            return unknown(fmt)

        async def work():
            try:
                form = await request.form()
            except (HTTPException, MultiPartException):
                raise InvalidInput("The body is not a form (application/x-www-form-urlencoded).", "Nội dung gửi không phải là biểu mẫu.") from None
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
            await form.close()
            too_long = [k for k, v in fields.items() if len(v) > MAX_FIELD]
            if too_long:
                raise InvalidInput(f"{too_long[0]}: longer than {MAX_FIELD} characters", f"{too_long[0]}: dài quá {MAX_FIELD} ký tự")
            api_key = fields.get("api_key") or request.headers.get("x-api-key", "")
            if not api_key:
                raise Unauthorized("api_key is required to POST a request.", "Cần khóa api_key để gửi phản ánh.")
            new, notice = await intake_port().submit(api_key, fields, request.headers.get("idempotency-key", "")[:200])
            await use_cases.record_together(recorder, ctx.uow, new)
            return answer(fmt, "service_requests", [{"service_request_id": new.report_id, "token": new.submission.tracking_code,
                                                     "service_notice": notice or None, "account_id": None}])
        return await guarded(fmt, work)

    @router.api_route("/open311/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def anything_else(rest: str):
        return unknown(split(rest)[1])

    def unknown(fmt: str) -> Response:
        return error(fmt, 404, "No such Open311 resource. / Không có tài nguyên Open311 này.")

    return router
