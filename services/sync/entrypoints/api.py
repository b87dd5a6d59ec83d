"""Sync's REST API: ownership of one report, and the node's sync status for operators."""
from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from paht.runtime import roles
from paht.runtime.auth import Principal
from services.sync.service_layer import handlers


def build_router(ctx) -> APIRouter:
    _optional, current_user, require = ctx.auth
    router = APIRouter(prefix="/api/sync/v1", tags=["sync"])

    @router.get("/ownership/{report_id}", summary="Which node owns a report's handling steps, at which epoch (IOC, or its lead agency)")
    async def ownership(report_id: Annotated[str, Path(max_length=36, pattern=handlers.REPORT_ID)], user: Principal = Depends(current_user)):
        own = await asyncio.to_thread(handlers.get_ownership, ctx.uow(), user, report_id)
        return {"report_id": own.report_id, "node_id": own.node_id, "epoch": own.epoch, "lead_agency_id": own.lead_agency_id or None}

    @router.get("/status", summary="This node's sync status (IOC): each link to another node — up or down, last contact, "
                "events waiting each way and how late the last one came — refused events, reports by owning node")
    async def status(user: Principal = Depends(require(*roles.OPERATIONS))):
        counts = await asyncio.to_thread(handlers.status, ctx.uow(), ctx.settings)
        return {"node_id": ctx.settings.node_id, **counts}

    @router.get("/refused", summary="Events another node sent that this node refused (stale epoch, not the owner), newest first (IOC)")
    async def refused(limit: Annotated[int, Query(ge=1, le=500)] = 50, user: Principal = Depends(require(*roles.OPERATIONS))):
        return {"items": await asyncio.to_thread(handlers.refused, ctx.uow(), limit)}

    return router
