"""Intake's REST API (JSON, OpenAPI at /api/intake/docs): thin, it only builds commands."""
from __future__ import annotations

import asyncio
import logging
from typing import Literal

import grpc
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from paht.dispatch.v1 import directory_pb2, directory_pb2_grpc
from paht.runtime.auth import Principal
from paht.runtime.errors import InvalidInput
from services.intake.service_layer import handlers

log = logging.getLogger(__name__)


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
    channel: Literal["app", "web", "call_center", "partner_app", "open311"] = "web"


class ReportCreated(BaseModel):
    id: str
    tracking_code: str
    status: str
    received_at: str


class AcceptIn(Strict):
    topic_code: str = Field(min_length=1, max_length=60)
    group_code: str = Field(default="", max_length=60)
    urgent: bool | None = None
    note: str = Field(default="", max_length=2000)


class RefuseIn(Strict):
    reason: Literal["duplicate", "unclear_or_test", "verification_failed", "edit_not_done", "out_of_scope"]
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


async def topic_group(ctx, topic_code: str) -> str | None:
    """Ask dispatch (the owner of categories) which group a topic is in; None when dispatch cannot answer."""
    try:
        stub = directory_pb2_grpc.DirectoryServiceStub(ctx.channel("dispatch"))
        reply = await stub.ListTopics(directory_pb2.ListTopicsRequest(), timeout=ctx.settings.grpc_timeout_s)
    except grpc.aio.AioRpcError as exc:
        log.warning("dispatch could not list topics (%s); topic checked later at step 1", exc.code().name)
        return None
    except RuntimeError as exc:  # no address for dispatch: a citizen's report must still be taken
        log.error("cannot reach dispatch: %s", exc)
        return None
    for topic in reply.topics:
        if topic.code == topic_code:
            return topic.group_code
    raise InvalidInput(f"Unknown topic '{topic_code}'.", f"Lĩnh vực '{topic_code}' không tồn tại.")


def build_router(ctx) -> APIRouter:
    optional_user, current_user, require = ctx.auth
    operator = Depends(require("ioc_operator", "ioc_admin"))
    router = APIRouter(prefix="/api/intake/v1", tags=["intake"])

    @router.post("/reports", status_code=201, response_model=ReportCreated, summary="Submit a field report")
    async def submit(body: ReportIn, request: Request):
        if body.topic_code:
            await topic_group(ctx, body.topic_code)
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
            channel=body.channel,
        )
        report = await asyncio.to_thread(handlers.submit_report, ctx.uow(), cmd)
        return ReportCreated(id=report.id, tracking_code=report.tracking_code, status=report.status, received_at=report.received_at.isoformat())

    @router.get("/reports", summary="List reports for the IOC (step 1 queue)")
    async def list_reports(user: Principal = operator, status: str | None = Query(default=None, max_length=20), limit: int = Query(default=100, ge=1, le=500)):
        reports = await asyncio.to_thread(handlers.list_reports, ctx.uow(), status, limit)
        return {"items": [report_view(r) for r in reports]}

    @router.get("/reports/{report_id}", summary="One report (no personal data)")
    async def get_report(report_id: str, user: Principal = operator):
        return report_view(await asyncio.to_thread(handlers.get_report, ctx.uow(), report_id))

    @router.post("/reports/{report_id}/accept", summary="Step 1: accept a report")
    async def accept(report_id: str, body: AcceptIn, user: Principal = operator):
        group = await topic_group(ctx, body.topic_code) or body.group_code
        report = await asyncio.to_thread(handlers.accept_report, ctx.uow(), user, report_id, body.topic_code, group, body.urgent, body.note)
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
