"""Publication's REST API (JSON, OpenAPI at /api/publication/docs): public reads, and step 8 for the IOC."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from paht.runtime.auth import Principal
from paht.runtime.errors import Forbidden
from paht.runtime.web import translate
from services.publication.domain.public_report import IOC_ROLES
from services.publication.service_layer import handlers


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PublishIn(Strict):
    answer_text: str | None = Field(default=None, max_length=10000, description="The IOC's edited answer; the approved draft when absent")


class ReturnIn(Strict):
    reason: str = Field(max_length=2000, examples=["Cần bổ sung hình ảnh sau khi khắc phục."])


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()


def step_view(entry) -> dict:
    return {
        "kind": entry.kind,
        "at": iso(entry.at),
        "label_vi": translate("vi", f"timeline.{entry.kind}"),
        "label_en": translate("en", f"timeline.{entry.kind}"),
        "note": entry.note or None,
    }


def public_view(r, timeline=None) -> dict:
    """Public view of a report: never a private answer, never personal data."""
    view = {
        "id": r.report_id,
        "tracking_code": r.tracking_code,
        "status": r.status,
        "title": r.title,
        "description": r.description,
        "topic_code": r.topic_code,
        "location": {"lat": r.lat, "lon": r.lon} if r.lat is not None else None,
        "address_text": r.address_text,
        "received_at": iso(r.received_at),
        "lead_agency": r.lead_agency_name or None,
        "answer": r.public_answer,
        "published_at": iso(r.published_at),
    }
    if timeline is not None:
        view["timeline"] = [step_view(e) for e in timeline]
    return view


def editorial_view(r) -> dict:
    """IOC view of an answer waiting for step 8 (the draft is visible to the IOC only)."""
    return {
        **public_view(r),
        "draft_answer": r.answer_text,
        "lead_unit": r.lead_unit_name or None,
        "private_result": r.private_result,
        "visibility": r.visibility,
        "version": r.version,
    }


def build_router(ctx) -> APIRouter:
    optional_user, current_user, require = ctx.auth
    operator = require(*IOC_ROLES)
    router = APIRouter(prefix="/api/publication/v1", tags=["publication"])

    @router.get("/reports", summary="Public reports, newest first")
    async def list_reports(limit: int = Query(default=20, ge=1, le=100), offset: int = Query(default=0, ge=0)):
        reports, total = await asyncio.to_thread(handlers.list_public_reports, ctx.uow(), limit, offset)
        return {"items": [public_view(r) for r in reports], "total": total, "limit": limit, "offset": offset}

    @router.get("/reports/{report_id}", summary="One public report with its timeline")
    async def get_report(report_id: str):
        report, timeline = await asyncio.to_thread(handlers.get_public_report, ctx.uow(), report_id)
        return public_view(report, timeline)

    @router.get("/not-eligible", summary="Reports refused at step 1, with their public reason")
    async def not_eligible(limit: int = Query(default=20, ge=1, le=100), offset: int = Query(default=0, ge=0)):
        reports = await asyncio.to_thread(handlers.list_not_eligible, ctx.uow(), limit, offset)
        items = [{**public_view(r), "reason": r.refusal_text} for r in reports]
        return {"items": items, "limit": limit, "offset": offset}

    @router.get("/track/{tracking_code}", summary="Find a report by its tracking code")
    async def track(tracking_code: str):
        report = await asyncio.to_thread(handlers.find_by_tracking_code, ctx.uow(), tracking_code)
        report, timeline = await asyncio.to_thread(handlers.get_public_report, ctx.uow(), report.report_id)
        return public_view(report, timeline)

    @router.get("/queue", summary="Step 8: approved answers waiting for the IOC")
    async def queue(user: Principal = Depends(operator)):
        reports = await asyncio.to_thread(handlers.editorial_queue, ctx.uow())
        return {"items": [editorial_view(r) for r in reports]}

    @router.post("/reports/{report_id}/publish", summary="Step 8: publish the answer (edited or as approved)")
    async def publish(report_id: str, body: PublishIn, user: Principal = Depends(operator)):
        report = await asyncio.to_thread(handlers.publish_result, ctx.uow(), user, report_id, body.answer_text)
        return editorial_view(report)

    @router.post("/reports/{report_id}/return", summary="Step 8: return the answer to the lead unit")
    async def return_(report_id: str, body: ReturnIn, user: Principal = Depends(operator)):
        report = await asyncio.to_thread(handlers.return_result, ctx.uow(), user, report_id, body.reason)
        return editorial_view(report)

    return router
