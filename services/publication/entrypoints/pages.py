"""Publication's pages: the public site (recent reports, one report, tracking, not eligible) and the IOC's step 8 queue."""
from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from paht.runtime.http import http_status
from paht.runtime.errors import DomainError
from paht.runtime.web import Pages, pick_language
from services.publication.domain.public_report import IOC_ROLES
from services.publication.service_layer import handlers

pages = Pages([Path(__file__).parent / "templates"])
PAGE_SIZE = 20
# Labels only these pages use; the shared catalogs hold everything else.
LABELS = {
    "vi": {
        "recent": "Phản ánh mới nhất",
        "none": "Chưa có phản ánh nào.",
        "newer": "Trang trước",
        "older": "Trang sau",
        "received": "Thời gian gửi",
        "lead_agency": "Cơ quan đầu mối xử lý",
        "lead_unit": "Đơn vị chủ trì xử lý",
        "answer": "Kết quả xử lý",
        "private_answer": "Người phản ánh đề nghị không công khai: kết quả chỉ gửi cho người phản ánh.",
        "reason": "Lý do",
        "draft": "Nội dung trả lời (biên tập trước khi công khai)",
        "publish": "Công khai kết quả",
        "return": "Trả lại đơn vị chủ trì",
        "return_reason": "Nội dung cần bổ sung, hoàn thiện",
        "private_flag": "Chỉ gửi người phản ánh",
    },
    "en": {
        "recent": "Latest reports",
        "none": "No reports yet.",
        "newer": "Newer",
        "older": "Older",
        "received": "Received",
        "lead_agency": "Lead agency",
        "lead_unit": "Lead unit",
        "answer": "Result",
        "private_answer": "The reporter asked for privacy: the result is sent to them only.",
        "reason": "Reason",
        "draft": "Answer (edit before publishing)",
        "publish": "Publish the result",
        "return": "Return to the lead unit",
        "return_reason": "What must be completed",
        "private_flag": "Reporter only",
    },
}


def render(request: Request, template: str, status_code: int = 200, **context):
    return pages.render(request, template, status_code, labels=LABELS[pick_language(request)], **context)


def build_router(ctx) -> APIRouter:
    optional_user, _current, _require = ctx.auth
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    async def home(request: Request, page: int = 1):
        page = max(page, 1)
        reports, total = await asyncio.to_thread(handlers.list_public_reports, ctx.uow(), PAGE_SIZE, (page - 1) * PAGE_SIZE)
        return render(request, "home.html", user=optional_user(request), reports=reports, page=page, more=page * PAGE_SIZE < total)

    @router.get("/reports/{report_id}")
    async def report(request: Request, report_id: str):
        try:
            found, timeline = await asyncio.to_thread(handlers.get_public_report, ctx.uow(), report_id)
        except DomainError as exc:
            return pages.error(request, http_status(exc), exc.key)
        return render(request, "report.html", user=optional_user(request), report=found, timeline=timeline)

    @router.get("/track")
    async def track(request: Request, code: str = ""):
        if not code.strip():
            return render(request, "track.html", user=optional_user(request), code="", not_found=False)
        try:
            found = await asyncio.to_thread(handlers.find_by_tracking_code, ctx.uow(), code[:40])
        except DomainError:
            return render(request, "track.html", 404, user=optional_user(request), code=code[:40], not_found=True)
        return RedirectResponse(f"/reports/{quote(found.report_id)}", status_code=303)

    @router.get("/not-eligible")
    async def not_eligible(request: Request):
        reports = await asyncio.to_thread(handlers.list_not_eligible, ctx.uow(), 100, 0)
        return render(request, "not_eligible.html", user=optional_user(request), reports=reports)

    def ioc_user(request: Request):
        user = optional_user(request)
        return user if user is not None and user.has(*IOC_ROLES) else None

    async def queue_page(request: Request, user, status_code: int = 200, error: dict | None = None):
        reports = await asyncio.to_thread(handlers.editorial_queue, ctx.uow())
        return render(request, "editorial_queue.html", status_code, user=user, reports=reports, error=error)

    @router.get("/publication/queue")
    async def queue(request: Request):
        user = ioc_user(request)
        if user is None:
            return RedirectResponse("/auth/login?next=/publication/queue", status_code=303)
        return await queue_page(request, user)

    @router.post("/publication/reports/{report_id}/{action}")
    async def decide(request: Request, report_id: str, action: str, answer_text: str = Form(""), reason: str = Form("")):
        user = ioc_user(request)
        if user is None:
            return RedirectResponse("/auth/login?next=/publication/queue", status_code=303)
        try:
            if action == "publish":
                await asyncio.to_thread(handlers.publish_result, ctx.uow(), user, report_id, answer_text)
            elif action == "return":
                await asyncio.to_thread(handlers.return_result, ctx.uow(), user, report_id, reason)
            else:
                return pages.error(request, 404, "error.not_found")
        except DomainError as exc:
            return await queue_page(request, user, http_status(exc), {"vi": exc.detail_vi, "en": exc.detail_en})
        return RedirectResponse("/publication/queue", status_code=303)

    return router
