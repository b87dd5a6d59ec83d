"""The reporter's feedback API: rate the published answer, change the rating, ask the lead unit to clarify.

Every route needs the reporter's session as intake issues it: `Authorization: Bearer rpt_…` (apps) or the site's
`paht_reporter` cookie (same origin; the CSRF guard covers cookie-authenticated posts). Intake says whose session it
is (gRPC WhoIsReporter); publication compares that with the report's reporter_ref, which it never shows.
"""
from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import Field

from paht.runtime.web.security import REPORTER_COOKIE
from services.publication.adapters.reporters import ReporterIdentity, no_session
from services.publication.domain.feedback import MAX_COMMENT, MAX_QUESTION
from services.publication.entrypoints.api import ReportId, Strict, iso
from services.publication.service_layer import feedback


class RatingIn(Strict):
    rating: Literal["satisfied", "acceptable", "unsatisfied"] = Field(description="Hài lòng / Chấp nhận / Không hài lòng")
    comment: str | None = Field(default=None, max_length=MAX_COMMENT)


class ClarificationIn(Strict):
    question: str = Field(max_length=MAX_QUESTION, examples=["Đề nghị cho biết thời gian cụ thể sẽ thay bóng đèn."])


def reporter_token(request: Request) -> str:
    """The reporter's session token: `Authorization: Bearer rpt_…`, else the site's cookie."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer ") and header[7:].strip().startswith("rpt_"):
        return header[7:].strip()
    return request.cookies.get(REPORTER_COOKIE, "")


async def reporter_refs(request: Request, who: ReporterIdentity) -> list[str]:
    token = reporter_token(request)
    if not token:
        raise no_session()
    return await who.refs(token)


def rating_view(r) -> dict | None:
    if r is None:
        return None
    return {"rating": r.score, "label": {"vi": r.label.vi, "en": r.label.en}, "comment": r.comment or None, "rated_at": iso(r.rated_at),
            "changed_at": iso(r.changed_at), "changeable_until": iso(r.changeable_until)}


def clarification_view(c, *, with_question: bool = True) -> dict:
    # The answer only once the IOC published it; before that it is the lead unit's and the IOC's draft.
    view = {"id": c.id, "status": "open" if c.is_open else "given", "asked_at": iso(c.asked_at), "due_at": iso(c.due_at),
            "answer": None if c.is_open else c.answer_text, "given_at": iso(c.given_at)}
    if with_question:
        view["question"] = c.question
    return view


def feedback_view(f: feedback.Feedback) -> dict:
    return {"report_id": f.report.report_id, "published": f.report.status == "published", "rating": rating_view(f.rating),
            "clarifications": [clarification_view(c) for c in f.clarifications],
            "can_ask_clarification": f.report.status == "published" and f.open_clarification is None}


def build_router(ctx, who: ReporterIdentity) -> APIRouter:
    router = APIRouter(prefix="/api/publication/v1/reports/{report_id}", tags=["reporters: feedback"])

    @router.get("/feedback", summary="My feedback on my report: my rating and my requests to clarify, with the answers")
    async def mine(report_id: ReportId, request: Request):
        refs = await reporter_refs(request, who)
        return feedback_view(await asyncio.to_thread(feedback.my_feedback, ctx.reads(), report_id, refs))

    @router.get("/rating", summary="My rating of the published answer (null before I rate)")
    async def my_rating(report_id: ReportId, request: Request):
        refs = await reporter_refs(request, who)
        return rating_view((await asyncio.to_thread(feedback.my_feedback, ctx.reads(), report_id, refs)).rating)

    @router.post("/rating", status_code=201, summary="Rate the published answer, once (only the reporter, only after publication)")
    async def rate(report_id: ReportId, body: RatingIn, request: Request):
        refs = await reporter_refs(request, who)
        rating = await asyncio.to_thread(feedback.rate, ctx.uow(), report_id, refs, body.rating, body.comment)
        return JSONResponse(rating_view(rating), status_code=201)

    @router.put("/rating", summary="Change my rating, within 7 days of giving it")
    async def change(report_id: ReportId, body: RatingIn, request: Request):
        refs = await reporter_refs(request, who)
        return rating_view(await asyncio.to_thread(feedback.change_rating, ctx.uow(), report_id, refs, body.rating, body.comment))

    @router.post("/clarification", status_code=201, summary="Ask the lead unit to clarify the published answer (1 working day; one open request at a time)")
    async def clarify(report_id: ReportId, body: ClarificationIn, request: Request):
        refs = await reporter_refs(request, who)
        asked = await asyncio.to_thread(feedback.ask_clarification, ctx.uow(), report_id, refs, body.question)
        return JSONResponse(clarification_view(asked), status_code=201)

    return router
