"""The IOC's step 1 over HTTP: the work list, one report, accept, refuse, the audited contact, edit requests,
verification calls, duplicates (marked and suggested), the state-secret flag, messages to the reporter, the history.

Every action is one transaction with its history line and its event; two operators acting on one report at
once: one wins, the other gets a 409 saying why the step is no longer possible. The reporter is told of what concerns
them by notices written with the action and sent in the background (service_layer/notices.py).
"""
from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from paht.runtime import roles
from paht.runtime.auth import Principal
from paht.runtime.http import bearer_token
from paht.runtime.paging import MAX_LIMIT
from services.intake.bootstrap import case_desk
from services.intake.domain.taxonomy import Taxonomy
from services.intake.domain.vocabulary import CallOutcome, Status
from services.intake.entrypoints.api import AcceptIn, ContactIn, RefuseIn, Strict, report_view
from services.intake.service_layer import duplicates, handlers, triage


class RequestEditIn(Strict):
    what: str = Field(max_length=2000, examples=["Vui lòng bổ sung ảnh chụp ổ gà và số nhà gần nhất."],
                      description="What the reporter must complete (shown to them; the SMS only says that an edit is asked for).")


class CallIn(Strict):
    outcome: CallOutcome = Field(description="reached: the reporter confirmed; not_reached: no answer (the 2 days run from the first "
                                             "such call); not_the_reporter: cancels the report at once.")
    note: str = Field(default="", max_length=2000, description="Internal note (not shown to the reporter).")


class DuplicateIn(Strict):
    of: str = Field(max_length=36, description="The id of the same reporter's earlier report this one repeats.")
    note: str = Field(default="", max_length=2000, description="Shown to the reporter with the decision's wording (not published).")


class ClassifyIn(Strict):
    state_secret: bool = Field(description="true: the report touches state secrets and is never published; false: clears the flag.")
    note: str = Field(default="", max_length=2000, description="Internal note (why).")


class MessageIn(Strict):
    text: str = Field(max_length=2000, examples=["Xin cảm ơn, Trung tâm IOC đã chuyển phản ánh đến đơn vị xử lý."],
                      description="Shown on the reporter's page; an SMS tells them to look (it never carries the text).")


def line_view(line, *, for_reporter: bool = False) -> dict:
    """One history line; the reporter's view leaves out which staff member acted."""
    en, vi = line.label
    view = {"at": line.at.isoformat(), "action": line.action, "action_label": {"en": en, "vi": vi}, "actor_kind": line.actor_kind,
            "text": line.text}
    if not for_reporter:
        view.update(actor=line.actor or None, to_reporter=line.to_reporter)
    return view


def suggestion_view(s: duplicates.Suggestion, report) -> dict:
    r = s.report
    return {
        "report": {"id": r.id, "tracking_code": r.tracking_code, "status": r.status, "title": r.title, "topic_code": r.topic_code,
                   "received_at": r.received_at.isoformat(), "location": {"lat": r.lat, "lon": r.lon} if r.lat is not None else None},
        "reasons": [{"en": en, "vi": vi} for en, vi in s.reasons],
        "similarity": s.similarity,
        "distance_m": s.distance_m,
        "same_reporter": s.same_reporter,
        "earlier": s.earlier_than(report),  # may be marked as the report this one repeats
    }


def build_router(ctx, taxonomy: Taxonomy) -> APIRouter:
    """The IOC's routes."""
    optional_user, current_user, require = ctx.auth
    operator = Depends(require(*roles.IOC))
    router = APIRouter(prefix="/api/intake/v1", tags=["step 1 (IOC)"])

    @router.get("/reports", summary="Step 1 work list: urgent first, then oldest; one page at a time with the total")
    async def list_reports(user: Principal = operator,
                           status: Status | None = Query(default=None, description="only this status; default: the reports waiting for step 1"),
                           cursor: str | None = Query(default=None, max_length=500),
                           limit: int | None = Query(default=None, ge=1, le=MAX_LIMIT)):
        page = await asyncio.to_thread(handlers.work_list, ctx.reads(), status, cursor, limit)
        return page.as_json(report_view)

    @router.get("/reports/{report_id}", summary="One report (no personal data)")
    async def get_report(report_id: str, user: Principal = operator):
        return report_view(await asyncio.to_thread(handlers.get_report, ctx.reads(), report_id))

    @router.post("/reports/{report_id}/accept", summary="Step 1: accept a report under a topic (its group is the taxonomy's)")
    async def accept(report_id: str, body: AcceptIn, user: Principal = operator):
        report = await asyncio.to_thread(handlers.accept_report, ctx.uow(), taxonomy, user, report_id, body.topic_code, body.urgent, body.note)
        return report_view(report)

    @router.post("/reports/{report_id}/refuse", summary="Step 1: refuse a report (published as not eligible)",
                 description="Only the reasons the IOC may pick at will: unclear_or_test, out_of_scope. A duplicate is marked with "
                             "POST …/duplicate; verification_failed and edit_not_done come only from the 2-day paths (422 otherwise).")
    async def refuse(report_id: str, body: RefuseIn, user: Principal = operator):
        report = await asyncio.to_thread(handlers.refuse_report, ctx.uow(), user, report_id, body.reason, body.reason_text)
        return report_view(report)

    @router.post("/reports/{report_id}/contact", summary="Release the reporter's contact (audited, and a line in the report's history)",
                 description="For the IOC, and for the lead agency's coordinator, the lead unit's leader and the staff of a case the "
                             "handling service says they handle (asked with the caller's own token); anyone else gets 403. Say why "
                             "(`purpose`, kept in the audit record).")
    async def contact(report_id: str, body: ContactIn, request: Request, user: Principal = Depends(current_user)):
        reporter, audit_id = await handlers.contact_for(ctx.uow(), case_desk(ctx), user, bearer_token(request), report_id, body.purpose)
        return {"name": reporter.name, "phone": reporter.phone, "email": reporter.email, "audit_id": audit_id}

    @router.post("/reports/{report_id}/request-edit", summary="Step 1: ask the reporter to complete the report (2 days, then it is cancelled)",
                 description="The report waits for the reporter (status edit_requested) until edit_due, 48 hours later; without an edit "
                             "it is then cancelled with the decision's reason (edit_not_done). The reporter is told (SMS, e-mail, Web Push).")
    async def request_edit(report_id: str, body: RequestEditIn, user: Principal = operator):
        return report_view(await asyncio.to_thread(triage.request_edit, ctx.uow(), user, report_id, body.what))

    @router.post("/reports/{report_id}/call", summary="Step 1: record a verification call to the reporter",
                 description="not_reached: verify_due is set at the first unanswered call (48 hours) and kept by later ones; the report is "
                             "cancelled (verification_failed) if the reporter is not reached by then. reached: the timer stops. "
                             "not_the_reporter: cancelled at once.")
    async def call(report_id: str, body: CallIn, user: Principal = operator):
        return report_view(await asyncio.to_thread(triage.record_call, ctx.uow(), user, report_id, body.outcome, body.note))

    @router.post("/reports/{report_id}/duplicate", summary="Step 1: refuse as a duplicate of the same reporter's earlier report (linked)")
    async def duplicate(report_id: str, body: DuplicateIn, user: Principal = operator):
        return report_view(await asyncio.to_thread(triage.mark_duplicate, ctx.uow(), user, report_id, body.of, body.note))

    @router.post("/reports/{report_id}/classify", summary="Set or clear the state-secret flag (never published); any status")
    async def classify(report_id: str, body: ClassifyIn, user: Principal = operator):
        return report_view(await asyncio.to_thread(triage.classify, ctx.uow(), user, report_id, body.state_secret, body.note))

    @router.post("/reports/{report_id}/message", summary="Write to the reporter (shown on their page; an SMS tells them to look)")
    async def message(report_id: str, body: MessageIn, user: Principal = operator):
        return report_view(await asyncio.to_thread(triage.message_reporter, ctx.uow(), user, report_id, body.text))

    @router.get("/reports/{report_id}/history", summary="The report's history at intake: every action, who, when, why, and the messages")
    async def history(report_id: str, user: Principal = operator):
        lines = await asyncio.to_thread(triage.history_of, ctx.uow(), user, report_id)
        return {"report_id": report_id, "items": [line_view(line) for line in lines]}

    @router.get("/reports/{report_id}/duplicates", summary="Possible duplicates: the same reporter's similar texts, open reports within 250 m "
                                                            "with the same topic (suggested, never merged)")
    async def possible_duplicates(report_id: str, user: Principal = operator):
        report, found = await asyncio.to_thread(duplicates.suggest, ctx.uow(), user, report_id)
        return {"report_id": report.id, "items": [suggestion_view(s, report) for s in found]}

    return router
