"""Intake's REST API (JSON, OpenAPI at /api/intake/docs): thin, it only builds commands."""
from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from paht.runtime import roles
from paht.runtime.auth import Principal
from paht.runtime.paging import MAX_LIMIT
from services.intake.domain.taxonomy import Taxonomy
from services.intake.domain.vocabulary import Channel, RefusalReason, Status
from services.intake.service_layer import handlers


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReporterIn(Strict):
    name: str = Field(max_length=200, examples=["Nguyễn Thị Hoa"])
    phone: str = Field(max_length=20, examples=["0912345678"])
    email: str = Field(max_length=254, examples=["hoa@example.vn"])


class LocationIn(Strict):
    lat: float = Field(ge=-90, le=90, examples=[17.4683])
    lon: float = Field(ge=-180, le=180, examples=[106.6222])


class ReportIn(Strict):
    reporter: ReporterIn
    title: str = Field(max_length=200, examples=["Ổ gà lớn trên đường Quang Trung"])
    description: str = Field(max_length=5000)
    topic_code: str = Field(default="", max_length=60)
    location: LocationIn | None = None
    address_text: str = Field(default="", max_length=300)
    area_code: str = Field(default="", max_length=20)
    private_result: bool = False
    urgent: bool = False
    channel: Channel = Channel.WEB


class ReportCreated(BaseModel):
    id: str
    tracking_code: str
    status: str
    received_at: str


class AcceptIn(Strict):
    """The group is the taxonomy's group of the topic: it is not sent."""

    topic_code: str = Field(min_length=1, max_length=60)
    urgent: bool | None = None
    note: str = Field(default="", max_length=2000)


class RefuseIn(Strict):
    reason: RefusalReason
    reason_text: str = Field(max_length=2000)


class ContactIn(Strict):
    purpose: str = Field(max_length=300)


def report_view(r) -> dict:
    """Staff view of a report: no personal data (that takes an audited call)."""
    return {
        "id": r.id,
        "tracking_code": r.tracking_code,
        "status": r.status,
        "channel": r.channel,
        "title": r.title,
        "description": r.description,
        "topic_code": r.topic_code,
        "group_code": r.group_code,
        "location": {"lat": r.lat, "lon": r.lon} if r.lat is not None else None,
        "address_text": r.address_text,
        "area_code": r.area_code,
        "private_result": r.private_result,
        "urgent": r.urgent,
        "received_at": r.received_at.isoformat(),
        "version": r.version,
    }


def build_router(ctx, taxonomy: Taxonomy) -> APIRouter:
    optional_user, current_user, require = ctx.auth
    operator = Depends(require(*roles.IOC))
    router = APIRouter(prefix="/api/intake/v1", tags=["intake"])

    @router.post("/reports", status_code=201, response_model=ReportCreated, summary="Submit a field report")
    async def submit(body: ReportIn):
        cmd = handlers.SubmitReport(
            name=body.reporter.name,
            phone=body.reporter.phone,
            email=body.reporter.email,
            title=body.title,
            description=body.description,
            topic_code=body.topic_code,
            lat=body.location.lat if body.location else None,
            lon=body.location.lon if body.location else None,
            address_text=body.address_text,
            area_code=body.area_code,
            private_result=body.private_result,
            urgent=body.urgent,
            channel=body.channel.value,
        )
        report = await asyncio.to_thread(handlers.submit_report, ctx.uow(), taxonomy, cmd)
        return ReportCreated(id=report.id, tracking_code=report.tracking_code, status=report.status, received_at=report.received_at.isoformat())

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
