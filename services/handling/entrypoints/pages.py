"""Handling's page: the signed-in person's cases at the lead agency, lead unit or staff desk."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from pathlib import Path

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse

from paht.runtime.errors import InvalidInput
from paht.runtime.web import Pages, pick_language
from services.handling.domain.case import Status
from services.handling.service_layer import handlers

pages = Pages([Path(__file__).parent / "templates"])
# The colour of each status's badge (the shared style sheet's classes); the words come from the domain.
BADGE_STYLE = {
    Status.AWAITING_AGENCY: "dispatched", Status.AWAITING_UNIT_LEADER: "assigned", Status.IN_PROGRESS: "in_progress",
    Status.DRAFTED: "drafted", Status.RETURNED_TO_STAFF: "returned", Status.APPROVED: "approved",
    Status.RETURNED_BY_IOC: "returned", Status.REFUSED_BY_AGENCY: "refused", Status.RETURN_PROPOSED: "returned",
    Status.CLARIFYING: "in_progress", Status.CLARIFICATION_DRAFTED: "drafted",
}


def build_router(ctx) -> APIRouter:
    optional_user, _current, _require = ctx.auth
    router = APIRouter(include_in_schema=False)

    @router.get("/handling/")
    async def my_cases(request: Request, cursor: str | None = Query(default=None, max_length=500)):
        user = optional_user(request)
        if user is None:
            return RedirectResponse("/auth/login?next=/handling/", status_code=303)
        lang = pick_language(request)
        try:
            page = await asyncio.to_thread(handlers.work_list, ctx.uow(), user, None, cursor, None)
        except InvalidInput:
            return RedirectResponse("/handling/", status_code=303)  # a stale or mangled cursor: start again
        index = 0 if lang == "en" else 1

        def badge(status: str) -> tuple[str, str]:
            known = Status(status)
            return BADGE_STYLE[known], known.label[index]

        return pages.render(request, "cases.html", user=user, page=page, badge=badge, now=datetime.now(timezone.utc))

    return router
