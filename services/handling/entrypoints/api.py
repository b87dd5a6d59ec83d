"""Handling's REST API (JSON, OpenAPI at /api/handling/docs): thin, it only builds commands."""
# No `from __future__ import annotations` here: FastAPI must see the role aliases built inside
# build_router (e.g. `coordinator`) as objects; as strings it cannot resolve them and asks for a query field.
import asyncio
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from paht.runtime.auth import Principal
from paht.runtime.paging import MAX_LIMIT
from paht.runtime.roles import Role
from services.handling.adapters.directory import OrgDirectory
from services.handling.domain.case import ASSIGNABLE, MAX_ANSWER, MAX_REASON, CandidatePerson, Case, Status
from services.handling.service_layer import handlers


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssignUnitIn(Strict):
    unit_id: str = Field(max_length=100, examples=["so-gtvt-kcht"])


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
    label = Status(c.status).label
    return {
        "report_id": c.report_id,
        "status": c.status,
        "status_label": {"en": label[0], "vi": label[1]},
        "urgent": c.urgent,
        "round": c.round,
        "lead_agency": {"id": c.lead_agency_id, "name": c.lead_agency_name},
        "lead_unit": {"id": c.lead_unit_id, "name": c.lead_unit_name} if c.lead_unit_id else None,
        "staff_subject": c.staff_subject or None,
        "handling_due": _iso(c.handling_due),
        "agency_due": _iso(c.agency_due),
        "approval_due": _iso(c.approval_due),
        "draft_id": c.draft_id or None,
        "answer_text": c.answer_text or None,
        "edited_by_leader": c.edited_by_leader,
        "agency_refusal_reason": c.agency_refusal_reason or None,
        "unit_refusal_reason": c.unit_refusal_reason or None,
        "leader_return_reason": c.leader_return_reason or None,
        "ioc_return_reason": c.ioc_return_reason or None,
        "updated_at": _iso(c.updated_at),
        "version": c.version,
        "epoch": c.epoch,
    }


def person_view(p: CandidatePerson) -> dict:
    return {"subject": p.subject, "name": p.name, "roles": list(p.roles)}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def build_router(ctx, directory: OrgDirectory) -> APIRouter:
    optional_user, current_user, require = ctx.auth

    def role(*names: str):
        return Annotated[Principal, Depends(require(*names))]

    anyone = Annotated[Principal, Depends(current_user)]
    coordinator, leader = role(Role.AGENCY_COORDINATOR.value), role(Role.UNIT_LEADER.value)
    assignee = role(*ASSIGNABLE)
    ReportId = Annotated[str, Path(max_length=36)]
    router = APIRouter(prefix="/api/handling/v1", tags=["handling"])

    async def run(handler, *args) -> dict:
        return case_view(await asyncio.to_thread(handler, ctx.uow(), *args))

    @router.get("/cases", summary="Work list: the cases the signed-in person may see, urgent first, then nearest deadline")
    async def list_cases(user: anyone, status: Status | None = None, cursor: Annotated[str | None, Query(max_length=500)] = None,
                         limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50):
        page = await asyncio.to_thread(handlers.work_list, ctx.uow(), user, status.value if status else None, cursor, limit)
        return page.as_json(case_view)

    @router.get("/cases/{report_id}", summary="One case (404 when outside your scope)")
    async def get_case(report_id: ReportId, user: anyone):
        return await run(handlers.get_case, user, report_id)

    @router.get("/cases/{report_id}/assignable-people", summary="Step 4: who the case may be assigned to (its lead unit's active staff)")
    async def assignable_people(report_id: ReportId, user: leader):
        people = await handlers.assignable_people(ctx.uow(), directory, user, report_id)
        return {"items": [person_view(p) for p in people]}

    @router.post("/cases/{report_id}/assign-unit", summary="Step 3: accept and assign the lead unit")
    async def assign_unit(report_id: ReportId, body: AssignUnitIn, user: coordinator):
        return case_view(await handlers.assign_unit(ctx.uow(), directory, user, report_id, body.unit_id))

    @router.post("/cases/{report_id}/refuse", summary="Step 3: refuse the case (back to the IOC)")
    async def refuse(report_id: ReportId, body: ReasonIn, user: coordinator):
        return await run(handlers.refuse_by_agency, user, report_id, body.reason)

    @router.post("/cases/{report_id}/assign-staff", summary="Step 4: accept and assign staff; until approval, re-assign")
    async def assign_staff(report_id: ReportId, body: AssignStaffIn, user: leader):
        return case_view(await handlers.assign_staff(ctx.uow(), directory, user, report_id, body.staff_subject))

    @router.post("/cases/{report_id}/refuse-unit", summary="Step 4: refuse the case (back to the lead agency)")
    async def refuse_unit(report_id: ReportId, body: ReasonIn, user: leader):
        return await run(handlers.refuse_by_unit, user, report_id, body.reason)

    @router.post("/cases/{report_id}/draft", summary="Step 6: report the result with a draft answer")
    async def draft(report_id: ReportId, body: DraftIn, user: assignee):
        return await run(handlers.draft_result, user, report_id, body.answer_text)

    @router.post("/cases/{report_id}/approve", summary="Step 7: approve the answer (optionally edited) and send it to the IOC")
    async def approve(report_id: ReportId, user: leader, body: ApproveIn | None = None):
        return await run(handlers.approve_result, user, report_id, body.answer_text if body else None)

    @router.post("/cases/{report_id}/return-to-staff", summary="Step 7: return the draft to the staff member to complete")
    async def return_to_staff(report_id: ReportId, body: ReasonIn, user: leader):
        return await run(handlers.return_to_staff, user, report_id, body.reason)

    return router
