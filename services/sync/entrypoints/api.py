"""Sync's REST API: ownership of one report, and the node's sync status for operators."""
from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends

from paht.runtime.auth import Principal
from services.sync.service_layer import handlers


def build_router(ctx) -> APIRouter:
    _optional, current_user, _require = ctx.auth
    staff = Depends(current_user)
    router = APIRouter(prefix="/api/sync/v1", tags=["sync"])

    @router.get("/ownership/{report_id}", summary="Which node owns a report's handling steps, at which epoch")
    async def ownership(report_id: str, user: Principal = staff):
        own = await asyncio.to_thread(handlers.get_ownership, ctx.uow(), report_id)
        return {"report_id": own.report_id, "node_id": own.node_id, "epoch": own.epoch, "lead_agency_id": own.lead_agency_id or None}

    @router.get("/status", summary="This node's sync status")
    async def status(user: Principal = staff):
        counts = await asyncio.to_thread(handlers.status, ctx.uow())
        return {"node_id": ctx.settings.node_id, **counts}

    return router
