"""Handling's REST API (JSON, OpenAPI at /api/handling/docs): thin, it only builds commands."""
# No `from __future__ import annotations` here: FastAPI must see the role aliases built inside
# build_router (e.g. `coordinator`) as objects; as strings it cannot resolve them and asks for a query field.
import asyncio
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from paht.runtime.auth import Principal
from paht.runtime.errors import InvalidInput
from services.handling.adapters.directory import OrgDirectory, candidate_unit
from services.handling.domain.case import MAX_ANSWER, MAX_REASON, CandidateUnit, Case, Status
from services.handling.service_layer import handlers


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssignUnitIn(Strict):
    unit_id: str = Field(min_length=1, max_length=100, examples=["so-gtvt-kcht"])


class ReasonIn(Strict):
    reason: str = Field(max_length=MAX_REASON, examples=["Không thuộc thẩm quyền của đơn vị."])


class AssignStaffIn(Strict):
    staff_subject: str = Field(max_length=100, examples=["canbo"])


class DraftIn(Strict):
    answer_text: str = Field(max_length=MAX_ANSWER)


class ApproveIn(Strict):
    answer_text: str | None = Field(default=None, max_length=MAX_ANSWER, description="The leader's edit; omit to approve the draft as is.")


def case_view(c: Case) -> dict:
    """A case as JSON (handling holds no personal data)."""
    return {
        "report_id": c.report_id,
        "status": c.status,
        "round": c.round,
        "lead_agency": {"id": c.lead_agency_id, "name": c.lead_agency_name},
        "lead_unit": {"id": c.lead_unit_id, "name": c.lead_unit_name} if c.lead_unit_id else None,
        "staff_subject": c.staff_subject or None,
        "handling_due": _iso(c.handling_due),
        "draft_id": c.draft_id or None,
        "answer_text": c.answer_text or None,
        "edited_by_leader": c.edited_by_leader,
        "agency_refusal_reason": c.agency_refusal_reason or None,
        "unit_refusal_reason": c.unit_refusal_reason or None,
        "return_reason": c.return_reason or None,
        "updated_at": _iso(c.updated_at),
        "version": c.version,
        "epoch": c.epoch,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def resolve_unit(directory: OrgDirectory, unit_id: str) -> CandidateUnit:
    """Ask the directory (dispatch) for the unit and its ancestors; an unknown unit is an input error."""
    unit = await candidate_unit(directory, unit_id)
    if unit is None:
        raise InvalidInput(f"Unknown unit '{unit_id}'.", f"Đơn vị '{unit_id}' không tồn tại.")
    return unit


def build_router(ctx, directory: OrgDirectory) -> APIRouter:
    optional_user, current_user, require = ctx.auth

    def role(name: str):
        return Annotated[Principal, Depends(require(name))]

    anyone = Annotated[Principal, Depends(current_user)]
    coordinator, leader, staff = role("agency_coordinator"), role("unit_leader"), role("staff")
    ReportId = Annotated[str, Path(max_length=36)]
    router = APIRouter(prefix="/api/handling/v1", tags=["handling"])

    async def run(handler, *args) -> dict:
        return case_view(await asyncio.to_thread(handler, ctx.uow(), *args))

    @router.get("/cases", summary="List the cases the signed-in person may see")
    async def list_cases(user: anyone, status: Status | None = None, limit: int = Query(default=100, ge=1, le=500)):
        cases = await asyncio.to_thread(handlers.list_cases, ctx.uow(), user, status.value if status else None, limit)
        return {"items": [case_view(c) for c in cases]}

    @router.get("/cases/{report_id}", summary="One case (404 when outside your scope)")
    async def get_case(report_id: ReportId, user: anyone):
        return await run(handlers.get_case, user, report_id)

    @router.post("/cases/{report_id}/assign-unit", summary="Step 3: accept and assign the lead unit")
    async def assign_unit(report_id: ReportId, body: AssignUnitIn, user: coordinator):
        unit = await resolve_unit(directory, body.unit_id)
        return await run(handlers.assign_unit, user, report_id, unit)

    @router.post("/cases/{report_id}/refuse", summary="Step 3: refuse the case (back to the IOC)")
    async def refuse(report_id: ReportId, body: ReasonIn, user: coordinator):
        return await run(handlers.refuse_by_agency, user, report_id, body.reason)

    @router.post("/cases/{report_id}/assign-staff", summary="Step 4: accept and assign staff")
    async def assign_staff(report_id: ReportId, body: AssignStaffIn, user: leader):
        return await run(handlers.assign_staff, user, report_id, body.staff_subject)

    @router.post("/cases/{report_id}/refuse-unit", summary="Step 4: refuse the case (back to the lead agency)")
    async def refuse_unit(report_id: ReportId, body: ReasonIn, user: leader):
        return await run(handlers.refuse_by_unit, user, report_id, body.reason)

    @router.post("/cases/{report_id}/draft", summary="Step 6: report the result with a draft answer")
    async def draft(report_id: ReportId, body: DraftIn, user: staff):
        return await run(handlers.draft_result, user, report_id, body.answer_text)

    @router.post("/cases/{report_id}/approve", summary="Step 7: approve the answer (optionally edited) and send it to the IOC")
    async def approve(report_id: ReportId, user: leader, body: ApproveIn | None = None):
        return await run(handlers.approve_result, user, report_id, body.answer_text if body else None)

    @router.post("/cases/{report_id}/return", summary="Step 7: return the draft to the staff member")
    async def return_result(report_id: ReportId, body: ReasonIn, user: leader):
        return await run(handlers.return_result, user, report_id, body.reason)

    return router
