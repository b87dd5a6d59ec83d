"""Emergency forwarding to 113/114/115: the API of the IOC, of the emergency desks' systems and of their people.

- `POST /api/dispatch/v1/reports/{id}/emergency` {service, note}: an IOC operator forwards an urgent report (201);
  twice to the same service → 409; to another service as well is allowed (fire and ambulance).
- `GET  /api/dispatch/v1/reports/{id}/emergency`: the report's forwards (IOC roles).
- `GET  /api/dispatch/v1/emergency/forwards`: forwards awaiting acknowledgement (IOC roles: all; a desk: its own).
- `POST /api/dispatch/v1/emergency/{forward_id}/ack`: the desk's system confirms, signed with the shared secret
  (X-PAHT-Timestamp, X-PAHT-Signature over "<timestamp>.<raw body>", within 5 minutes; otherwise 401), or a
  person with the emergency desk role confirms with their token. A repeated confirmation changes nothing.
"""
from __future__ import annotations

import asyncio
import json
import time

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from paht.runtime import roles
from paht.runtime.auth import Principal
from paht.runtime.errors import Forbidden, InvalidInput
from paht.runtime.http import bearer_token
from services.dispatch.domain.emergency import EmergencyForward, EmergencyService, ForwardState
from services.dispatch.service_layer import emergency

SIGNATURE_HEADER = "x-paht-signature"
TIMESTAMP_HEADER = "x-paht-timestamp"


class ForwardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    service: EmergencyService = Field(examples=["114"], description="113 police, 114 fire and rescue, 115 ambulance")
    note: str = Field(default="", max_length=2000, description="What the desk needs to know (place, danger, people involved)")


class AckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reference: str = Field(default="", max_length=200, description="The desk's own case number")
    note: str = Field(default="", max_length=2000)
    acknowledged_by: str = Field(default="", max_length=100, description="Who confirmed at the desk (a callback only)")


def forward_view(f: EmergencyForward) -> dict:
    en, vi = f.emergency_service.label
    state_en, state_vi = ForwardState(f.state).phrase
    return {
        "id": f.id, "report_id": f.report_id, "service": f.service, "service_name": {"vi": vi, "en": en},
        "state": f.state, "state_phrase": {"vi": state_vi, "en": state_en}, "note": f.note,
        "forwarded_at": f.forwarded_at.isoformat(), "forwarded_by": f.forwarded_by, "due_at": f.due_at.isoformat(), "on_time": f.on_time,
        "attempts": f.attempts, "last_error": f.last_error or None,
        "delivered_at": f.delivered_at.isoformat() if f.delivered_at else None, "desk_reference": f.desk_reference or None,
        "acknowledged_at": f.acknowledged_at.isoformat() if f.acknowledged_at else None, "acknowledged_by": f.acknowledged_by or None,
        "ack_channel": f.ack_channel or None, "alerts": f.alerts,
    }


def build_router(ctx) -> APIRouter:
    _optional, current_user, require = ctx.auth
    router = APIRouter(prefix="/api/dispatch/v1", tags=["emergency"])

    @router.post("/reports/{report_id}/emergency", status_code=201,
                 summary="Forward an urgent report to 113, 114 or 115 (within 10 minutes of its arrival)")
    async def forward(report_id: str, body: ForwardIn, user: Principal = Depends(require(*roles.DISPATCHERS))):
        made = await asyncio.to_thread(emergency.forward_to_emergency, ctx.uow(), user, report_id, body.service.value, body.note,
                                       ctx.settings.emergency_ack_timeout_s)
        return forward_view(made)

    @router.get("/reports/{report_id}/emergency", summary="The report's forwards to 113/114/115")
    async def of_report(report_id: str, user: Principal = Depends(require(*roles.IOC))):
        return {"items": [forward_view(f) for f in await asyncio.to_thread(emergency.forwards_of, ctx.uow(), report_id)]}

    @router.get("/emergency/forwards", summary="Forwards awaiting acknowledgement, the longest wait first (a desk sees its own)")
    async def awaiting(user: Principal = Depends(require(*roles.IOC, roles.Role.EMERGENCY_DESK.value))):
        services = None if user.has(*roles.IOC) else await asyncio.to_thread(emergency.desk_services, ctx.uow(), user)
        return {"items": [forward_view(f) for f in await asyncio.to_thread(emergency.awaiting, ctx.uow(), services)]}

    @router.post("/emergency/{forward_id}/ack", summary="The desk acknowledges a forward: signed callback, or a desk person's token",
                 openapi_extra={"requestBody": {"required": False, "content": {"application/json": {"schema": AckIn.model_json_schema()}}}})
    async def acknowledge(forward_id: str, request: Request):
        raw = await request.body()
        signature = request.headers.get(SIGNATURE_HEADER)
        # A person signs with their token; the desk's system with the shared secret. Without either: 401.
        user = current_user(request) if signature is None and bearer_token(request) else None
        if user is None:  # the desk's system: nothing is read before the signature over the raw body is checked
            emergency.verify_desk_signature(ctx.settings.emergency_webhook_secret, raw, request.headers.get(TIMESTAMP_HEADER, ""),
                                            signature or "", time.time())
        body = parse_ack(raw)
        if user is not None:
            if not user.has(roles.Role.EMERGENCY_DESK.value):
                en, vi = roles.Role.EMERGENCY_DESK.label
                raise Forbidden(f"This step needs the role {en}.", f"Bước này cần vai trò {vi}.", key="error.wrong_role", role=vi)
            found, changed = await asyncio.to_thread(emergency.acknowledge_in_console, ctx.uow, user, forward_id, body.note, body.reference)
        else:
            found, changed = await asyncio.to_thread(emergency.acknowledge_by_callback, ctx.uow, forward_id, body.reference, body.note,
                                                     body.acknowledged_by)
        return JSONResponse({**forward_view(found), "changed": changed})

    return router


def parse_ack(raw: bytes) -> AckIn:
    """Read an acknowledgement body (empty is allowed); a malformed one is a bilingual 422."""
    if not raw.strip():
        return AckIn()
    try:
        return AckIn.model_validate(json.loads(raw))
    except (ValueError, ValidationError):
        raise InvalidInput("The acknowledgement must be JSON with optional reference, note and acknowledged_by.",
                           "Nội dung xác nhận phải là JSON, có thể gồm reference, note, acknowledged_by.") from None
