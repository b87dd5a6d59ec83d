"""The IOC's step 1 over HTTP: the work list, one report, accept, refuse, the audited contact.

(The step-1 work fills in the other actions here: edit requests, verification calls, duplicates,
the state-secret flag, messages to the reporter, the history and duplicate suggestions.)
"""
from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Query

from paht.runtime import roles
from paht.runtime.auth import Principal
from paht.runtime.paging import MAX_LIMIT
from services.intake.domain.taxonomy import Taxonomy
from services.intake.domain.vocabulary import Status
from services.intake.entrypoints.api import AcceptIn, ContactIn, RefuseIn, report_view
from services.intake.service_layer import handlers


def build_router(ctx, taxonomy: Taxonomy) -> APIRouter:
    optional_user, current_user, require = ctx.auth
    operator = Depends(require(*roles.IOC))
    router = APIRouter(prefix="/api/intake/v1", tags=["step 1 (IOC)"])

    @router.get("/reports", summary="Step 1 work list: urgent first, then oldest; one page at a time with the total")
    async def list_reports(user: Principal = operator,
                           status: Status | None = Query(default=None, description="only this status; default: the reports waiting for step 1"),
                           cursor: str | None = Query(default=None, max_length=500),
                           limit: int | None = Query(default=None, ge=1, le=MAX_LIMIT)):
        page = await asyncio.to_thread(handlers.work_list, ctx.uow(), status, cursor, limit)
        return page.as_json(report_view)

    @router.get("/reports/{report_id}", summary="One report (no personal data)")
    async def get_report(report_id: str, user: Principal = operator):
        return report_view(await asyncio.to_thread(handlers.get_report, ctx.uow(), report_id))

    @router.post("/reports/{report_id}/accept", summary="Step 1: accept a report under a topic (its group is the taxonomy's)")
    async def accept(report_id: str, body: AcceptIn, user: Principal = operator):
        report = await asyncio.to_thread(handlers.accept_report, ctx.uow(), taxonomy, user, report_id, body.topic_code, body.urgent, body.note)
        return report_view(report)

    @router.post("/reports/{report_id}/refuse", summary="Step 1: refuse a report (published as not eligible)")
    async def refuse(report_id: str, body: RefuseIn, user: Principal = operator):
        report = await asyncio.to_thread(handlers.refuse_report, ctx.uow(), user, report_id, body.reason, body.reason_text)
        return report_view(report)

    @router.post("/reports/{report_id}/contact", summary="Release the reporter's contact (audited)")
    async def contact(report_id: str, body: ContactIn, user: Principal = Depends(current_user)):
        reporter, audit_id = await asyncio.to_thread(handlers.release_contact, ctx.uow(), user, report_id, body.purpose)
        return {"name": reporter.name, "phone": reporter.phone, "email": reporter.email, "audit_id": audit_id}

    return router
