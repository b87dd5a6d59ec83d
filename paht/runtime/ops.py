"""Operations endpoints every service has: its dead letters, to see, replay after a fix, or discard."""
from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from paht.runtime import roles
from paht.runtime.auth import Principal
from paht.runtime.events.dead_letters import check_status


class DiscardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=500, examples=["Duplicate of an event applied by hand on 28/11."])


def build_router(ctx) -> APIRouter:
    _optional, _current, require = ctx.auth
    operator = Depends(require(*roles.OPERATIONS))
    router = APIRouter(prefix=f"/api/{ctx.name}/v1/ops", tags=["operations"])
    DeadId = Path(max_length=36, pattern=r"^[0-9a-f-]{36}$")

    @router.get("/dead-letters", summary="Events this service could not apply (parked for an operator)")
    async def list_dead(user: Principal = operator, status: str | None = Query(default="parked", max_length=20),
                        limit: int = Query(default=100, ge=1, le=500)):
        items, total = await asyncio.to_thread(ctx.dead_letters().list, check_status(status), limit)
        return {"items": [d.as_json() for d in items], "total": total}

    @router.post("/dead-letters/{dead_id}/replay", summary="Apply a parked event again, after the cause was fixed")
    async def replay(dead_id: str = DeadId, user: Principal = operator):
        return (await asyncio.to_thread(ctx.dead_letters().replay, dead_id, user.subject)).as_json()

    @router.post("/dead-letters/{dead_id}/discard", summary="Skip a parked event for good, with the reason")
    async def discard(body: DiscardIn, dead_id: str = DeadId, user: Principal = operator):
        return (await asyncio.to_thread(ctx.dead_letters().discard, dead_id, user.subject, body.reason)).as_json()

    return router
