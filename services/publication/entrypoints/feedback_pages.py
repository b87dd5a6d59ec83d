"""The reporter's feedback on the public report page: who the visitor is (intake's WhoIsReporter with the site's
reporter cookie), the forms to rate, change the rating and ask for clarification, and their POST routes.

A visitor without a reporter cookie costs no gRPC call; with one that intake does not recognise, or of another
person, the page is the public page. A refused post re-shows the page with the reason in both languages and its 4xx.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from paht.runtime.errors import DomainError, Unauthorized
from paht.runtime.http import http_status
from paht.runtime.web import pick_language
from paht.runtime.web.security import REPORTER_COOKIE
from services.publication.adapters.reporters import ReporterIdentity
from services.publication.domain.feedback import Score
from services.publication.service_layer import feedback, handlers

log = logging.getLogger(__name__)
DONE = {
    "rated": {"vi": "Cảm ơn bạn đã đánh giá kết quả xử lý.", "en": "Thank you for rating the answer."},
    "changed": {"vi": "Đã lưu đánh giá mới của bạn.", "en": "Your new rating is saved."},
    "asked": {"vi": "Đã gửi đề nghị làm rõ tới đơn vị chủ trì.", "en": "Your request for clarification went to the lead unit."},
}


async def visitor_refs(request: Request, who: ReporterIdentity) -> list[str]:
    """The reporter_refs of the visitor's reporter cookie; [] without one, or when intake does not know it."""
    token = request.cookies.get(REPORTER_COOKIE, "")
    if not token:
        return []
    try:
        return await who.refs(token)
    except Unauthorized:
        return []
    except DomainError as exc:  # intake unreachable: the public page still shows, without the reporter's part
        log.warning("could not ask intake whose reporter session this is: %s", exc.detail_en)
        return []


async def context(ctx, request: Request, report, refs: list[str] | None = None, **extra) -> dict:
    """What report.html's feedback section needs (`_feedback.html`)."""
    refs = await visitor_refs(request, ctx.reporter_identity) if refs is None else refs
    mine = None
    if refs and report.reporter_ref and report.reporter_ref in refs:
        mine = await asyncio.to_thread(feedback.my_feedback, ctx.reads(), report.report_id, refs)
    public = [] if mine else await asyncio.to_thread(feedback.given_clarifications, ctx.reads(), report)
    return {"mine": mine, "public_clarifications": public, "scores": list(Score), "now": datetime.now(timezone.utc),
            "fb_error": None, "fb_done": DONE.get(request.query_params.get("done", "")), **extra}


def build_router(ctx, who: ReporterIdentity, pages) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    async def page_again(request: Request, report_id: str, exc: DomainError, refs: list[str]):
        try:
            found, timeline = await asyncio.to_thread(handlers.report_for_visitor, ctx.reads(), report_id, refs)
        except DomainError as missing:
            return pages.error(request, http_status(missing), missing.key)
        from services.publication.entrypoints.pages import timeline_view

        extra = await context(ctx, request, found, refs, fb_error={"vi": exc.detail_vi, "en": exc.detail_en})
        extra["fb_done"] = None
        entries, open_deadlines = timeline_view(found, timeline, pick_language(request), datetime.now(timezone.utc))
        return pages.render(request, "report.html", http_status(exc), user=None, report=found, timeline=entries,
                            open_deadlines=open_deadlines, **extra)

    async def act(request: Request, report_id: str, use_case, done: str, *args):
        refs = await visitor_refs(request, who)
        try:
            if not refs:
                raise Unauthorized("Verify your phone number first (an SMS code): only the reporter may do this.",
                                   "Vui lòng xác thực số điện thoại (mã OTP qua tin nhắn): chỉ người gửi phản ánh mới được thực hiện.")
            await asyncio.to_thread(use_case, ctx.uow(), report_id, refs, *args)
        except DomainError as exc:
            return await page_again(request, report_id, exc, refs)
        return RedirectResponse(f"/reports/{quote(report_id)}?done={done}#feedback", status_code=303)

    @router.post("/reports/{report_id}/rating")
    async def rate(request: Request, report_id: str, rating: str = Form(""), comment: str = Form("")):
        refs = await visitor_refs(request, who)
        rated = False
        if refs:
            try:
                rated = (await asyncio.to_thread(feedback.my_feedback, ctx.reads(), report_id, refs)).rating is not None
            except DomainError:
                pass
        if rated:
            return await act(request, report_id, feedback.change_rating, "changed", rating, comment)
        return await act(request, report_id, feedback.rate, "rated", rating, comment)

    @router.post("/reports/{report_id}/clarification")
    async def clarify(request: Request, report_id: str, question: str = Form("")):
        return await act(request, report_id, feedback.ask_clarification, "asked", question)

    return router
