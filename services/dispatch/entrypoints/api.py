"""Dispatch's REST API: step 2, the dispatch queue, the organisation directory and topics."""
from __future__ import annotations

import asyncio
from datetime import date

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from paht.runtime import roles
from paht.runtime.auth import Principal
from paht.runtime.paging import MAX_LIMIT
from services.dispatch.service_layer import directory, handlers


class DispatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agency_id: str = Field(min_length=1, max_length=80, examples=["so-gtvt"])
    note: str = Field(default="", max_length=2000)


def item_view(item) -> dict:
    return {
        "report_id": item.report_id,
        "status": item.status,
        "urgent": item.urgent,
        "topic_code": item.topic_code,
        "group_code": item.group_code,
        "received_at": item.received_at.isoformat(),
        "dispatch_due": item.dispatch_due.isoformat(),
        "lead_agency_id": item.lead_agency_id or None,
        "round": item.round,
        "version": item.version,
    }


def unit_view(u) -> dict:
    return {
        "id": u.id, "code": u.code, "name": u.name, "name_en": u.name_en, "kind": u.kind, "parent_id": u.parent_id,
        "hub_node": u.hub_node, "can_lead": u.can_lead, "fields": u.fields,
        "valid_from": u.valid_from.isoformat(), "valid_to": u.valid_to.isoformat() if u.valid_to else None,
    }


def build_router(ctx) -> APIRouter:
    _optional, _current, require = ctx.auth
    operator = Depends(require(*roles.IOC))
    router = APIRouter(prefix="/api/dispatch/v1", tags=["dispatch"])

    @router.get("/queue", summary="Reports waiting for step 2: urgent first, then the nearest deadline; one page at a time")
    async def queue(cursor: str | None = Query(default=None, max_length=500), limit: int | None = Query(default=None, ge=1, le=MAX_LIMIT),
                    user: Principal = operator):
        page = await asyncio.to_thread(handlers.dispatch_queue, ctx.uow(), cursor, limit)
        return page.as_json(item_view)

    @router.get("/reports/{report_id}", summary="Where a report stands in step 2")
    async def get_item(report_id: str, user: Principal = operator):
        return item_view(await asyncio.to_thread(handlers.get_item, ctx.uow(), report_id))

    @router.post("/reports/{report_id}/dispatch", summary="Step 2: send to exactly one lead agency")
    async def dispatch(report_id: str, body: DispatchIn, user: Principal = operator):
        item = await asyncio.to_thread(handlers.dispatch_to_lead_agency, ctx.uow(), user, report_id, body.agency_id, body.note)
        return item_view(item)

    @router.get("/org-units", summary="Organisation units in force (optionally children of one, or lead agencies only)")
    async def org_units(parent_id: str | None = Query(default=None, max_length=80), as_of: date | None = None, lead_only: bool = False):
        units = await asyncio.to_thread(directory.list_units, ctx.uow(), parent_id, as_of, lead_only)
        return {"items": [unit_view(u) for u in units]}

    @router.get("/org-units/{unit_id}", summary="One organisation unit")
    async def org_unit(unit_id: str):
        return unit_view(await asyncio.to_thread(directory.get_unit, ctx.uow(), unit_id))

    @router.get("/topics", summary="The groups and topics of reports")
    async def topics():
        items = await asyncio.to_thread(directory.list_topics, ctx.uow())
        return {"items": [{"code": t.code, "name": t.name, "name_en": t.name_en, "group_code": t.group_code, "group_name": t.group_name, "fields": t.fields} for t in items]}

    return router
