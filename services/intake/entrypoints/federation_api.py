"""What a hub node asks the province's intake for a case it owns, besides its files (media_api.py): the reporter's
contact, for the hub's person who handles the case — through the same audited release as at the province.

The hub authenticates with its secret (its join secret); it vouches that the person handles the case (its handling
checked it on the hub's own case, with the hub's own sign-in) and names them. Intake checks that the hub owns the
report now (asked of sync), releases the contact and keeps the audit record naming the person and the hub.
"""
from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from paht.runtime import federation, federation_up, roles
from paht.runtime.auth import Principal
from paht.runtime.errors import Forbidden, NotFound
from services.intake.service_layer import handlers

CASE_PEOPLE = frozenset(roles.CASE_HANDLERS)


class HubPerson(BaseModel):
    subject: str = Field(min_length=1, max_length=100)
    name: str = Field(default="", max_length=200)
    org_unit: str = Field(default="", max_length=80)
    roles: list[str] = Field(default_factory=list, max_length=20)


class HubContactIn(BaseModel):
    purpose: str = Field(min_length=3, max_length=300, description="Why the person must reach the reporter (kept in the audit)")
    person: HubPerson


def _not_found() -> NotFound:
    return NotFound("No such report for this hub.", "Không có phản ánh này cho nút cấp huyện.")


def build_router(ctx) -> APIRouter:
    router = APIRouter(tags=["federation"])

    @router.post("/api/intake/v1/federation/{hub}/contacts/{report_id}",
                 summary="A hub node reads the reporter's contact for its person who handles the case (Authorization: Bearer "
                         "<the hub's secret>); only for a report the hub owns now; every release is audited")
    async def contact_for_hub(hub: str, report_id: str, body: HubContactIn, request: Request):
        from services.intake.bootstrap import owners

        settings = ctx.settings
        if not federation.NODE_NAME.match(hub) or hub not in federation.hubs(settings):
            raise _not_found()
        federation_up.check_hub_secret(settings.data, hub, request.headers.get("authorization"))
        if await owners(ctx).owner(report_id) != hub:  # a recalled hub, another hub, an unknown report: the same 404
            raise _not_found()
        held = CASE_PEOPLE.intersection(body.person.roles)
        if not held:
            raise Forbidden("Only the people handling the report's case may see a reporter's contact.",
                            "Chỉ người đang xử lý phản ánh được xem thông tin liên hệ của người phản ánh.")
        # the audit names the person and the node they work on: "<subject>@<hub>"
        person = Principal(subject=f"{body.person.subject}@{hub}"[:100], name=body.person.name, roles=frozenset(held),
                           org_unit=body.person.org_unit)
        reporter, audit_id = await asyncio.to_thread(handlers.release_contact, ctx.uow(), person, report_id, body.purpose, True)
        return {"name": reporter.name, "phone": reporter.phone, "email": reporter.email, "audit_id": audit_id}

    return router
