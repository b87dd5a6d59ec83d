"""Handling's page: the signed-in person's cases at the lead agency, lead unit or staff desk."""
from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from paht.runtime.web import Pages, pick_language
from services.handling.service_layer import handlers

pages = Pages([Path(__file__).parent / "templates"])
# Handling statuses shown with the shared catalog's closest status label.
BADGE = {"awaiting_agency": "dispatched", "awaiting_unit_leader": "assigned", "refused_by_agency": "returned"}
# Column labels not yet in the shared catalogs (vi/en).
LABELS = {
    "vi": {"report": "Phản ánh", "agency": "Cơ quan chủ trì", "unit": "Đơn vị chủ trì", "staff": "Cán bộ xử lý", "status": "Trạng thái", "empty": "Chưa có hồ sơ nào được giao cho bạn."},
    "en": {"report": "Report", "agency": "Lead agency", "unit": "Lead unit", "staff": "Staff", "status": "Status", "empty": "No cases are assigned to you yet."},
}


def build_router(ctx) -> APIRouter:
    optional_user, _current, _require = ctx.auth
    router = APIRouter(include_in_schema=False)

    @router.get("/handling/")
    async def my_cases(request: Request):
        user = optional_user(request)
        if user is None:
            return RedirectResponse("/auth/login?next=/handling/", status_code=303)
        cases = await asyncio.to_thread(handlers.list_cases, ctx.uow(), user, None, 200)
        return pages.render(request, "cases.html", user=user, cases=cases, badge=BADGE, labels=LABELS[pick_language(request)])

    return router
