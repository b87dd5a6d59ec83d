"""SLA clocks for people: the overdue board (IOC and Steering Committee), the clocks of a report, the business calendar."""
from __future__ import annotations

import asyncio
from pathlib import Path

import yaml
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse

from paht.runtime import roles
from paht.runtime.auth import Principal
from paht.runtime.errors import DomainError, InvalidInput
from paht.runtime.http import http_status
from paht.runtime.sla import Step, parse_calendar_text
from paht.runtime.web import Pages, pick_language
from services.dispatch.domain.clocks import Standing
from services.dispatch.service_layer import business_calendar, monitor

pages = Pages([Path(__file__).parent / "templates"])
WATCHERS = (*roles.IOC, *roles.STEERING)  # who reads every deadline of every agency
STEPS = [s.value for s in Step]
MAX_BODY = 200_000


def _filters(by: str, step: str | None, only: str) -> tuple[str, str | None, str]:
    if by not in ("step", "org"):
        raise InvalidInput("Group by 'step' or 'org'.", "Nhóm theo 'step' (bước) hoặc 'org' (cơ quan).")
    if step and step not in STEPS:
        raise InvalidInput(f"Unknown step '{step}'; one of {', '.join(STEPS)}.", f"Không có bước '{step}'; chọn một trong {', '.join(STEPS)}.")
    if only not in ("overdue", "warning", "open"):
        raise InvalidInput("Show 'overdue', 'warning' or 'open' clocks.", "Chọn 'overdue' (quá hạn), 'warning' (sắp đến hạn) hoặc 'open'.")
    return by, step or None, only


def build_router(ctx) -> APIRouter:
    optional_user, _current, require = ctx.auth
    watcher = Depends(require(*WATCHERS))
    admin = Depends(require(*roles.ADMINS))
    router = APIRouter(prefix="/api/dispatch/v1", tags=["deadlines"])
    outer = APIRouter()

    @router.get("/sla/overdue", summary="Open deadlines past 80 % or 100 %, counted per step or per responsible organisation")
    async def overdue(by: str = "org", step: str | None = Query(default=None, max_length=20), org: str | None = Query(default=None, max_length=80),
                      only: str = "overdue", limit: int = Query(default=100, ge=1, le=500), user: Principal = watcher):
        by, step, only = _filters(by, step, only)
        return await asyncio.to_thread(monitor.overdue, ctx.uow(), by, step, org, only, limit)

    @router.get("/reports/{report_id}/clocks", summary="Every deadline of one report: step, start, due, met or missed")
    async def report_clocks(report_id: str, user: Principal = watcher):
        return {"report_id": report_id, "clocks": await asyncio.to_thread(monitor.clocks_of_report, ctx.uow(), report_id)}

    @router.get("/calendar", summary="The business calendar in force (days off, worked days, working hours, agencies' limits)")
    async def calendar():
        return await asyncio.to_thread(business_calendar.current, ctx.uow())

    @router.get("/calendar/revisions", summary="Every saved revision of the business calendar, newest first")
    async def calendar_revisions(user: Principal = watcher):
        return {"items": await asyncio.to_thread(business_calendar.revisions, ctx.uow())}

    @router.get("/calendar/revisions/{number}", summary="One revision of the business calendar")
    async def calendar_revision(number: int, user: Principal = watcher):
        return await asyncio.to_thread(business_calendar.revision, ctx.uow(), number)

    @router.put("/calendar", summary="Save the whole business calendar as a new revision (JSON or YAML body; IOC administrator)",
                openapi_extra={"requestBody": {"content": {"application/json": {"schema": {"type": "object"}},
                                                          "application/yaml": {"schema": {"type": "string"}}}, "required": True}})
    async def save_calendar(request: Request, note: str = Query(default="", max_length=500), user: Principal = admin):
        raw = await request.body()
        if len(raw) > MAX_BODY:
            raise InvalidInput("The calendar is too large.", "Lịch làm việc quá lớn.")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("The calendar must be UTF-8 text (JSON or YAML).", "Lịch làm việc phải là văn bản UTF-8 (JSON hoặc YAML).") from None
        data = parse_calendar_text(text).to_dict()  # the engine's own reader: refuses whole, naming the entry
        return await asyncio.to_thread(business_calendar.save, ctx.uow(), user, data, note)

    @router.get("/sla/board", include_in_schema=False)
    async def board_redirect():
        return RedirectResponse("/dispatch/sla", status_code=307)

    page = APIRouter(include_in_schema=False)

    @page.get("/dispatch/sla")
    async def board(request: Request, by: str = "org", step: str = "", org: str = "", only: str = "overdue", report: str = ""):
        user = optional_user(request)
        away = pages.staff_only(request, user, WATCHERS)
        if away:
            return away
        lang = pick_language(request)
        try:
            by, step_f, only = _filters(by, step[:20], only)
        except InvalidInput as exc:
            return pages.error(request, 422, exc.key)
        data = await asyncio.to_thread(monitor.overdue, ctx.uow(), by, step_f, org[:80] or None, only, 200)
        report_clocks = await asyncio.to_thread(monitor.clocks_of_report, ctx.uow(), report[:36]) if report else []
        return pages.render(request, "sla_board.html", 200, user=user, data=data, by=by, step=step_f or "", org=org[:80], show=only,
                            steps=[(s.value, s.label) for s in Step], standings={s.value: s.label for s in Standing},
                            report=report[:36], report_clocks=report_clocks, L=0 if lang == "en" else 1)

    def admin_of(request: Request):
        user = optional_user(request)
        away = pages.staff_only(request, user, roles.ADMINS)
        return (None, away) if away else (user, None)

    async def calendar_page(request: Request, user, status_code: int = 200, text: str | None = None, error: dict | None = None,
                            saved: int = 0):
        current = await asyncio.to_thread(business_calendar.current, ctx.uow())
        history = await asyncio.to_thread(business_calendar.revisions, ctx.uow())
        shown = text if text is not None else yaml.safe_dump(current["calendar"], allow_unicode=True, sort_keys=False)
        lang = pick_language(request)
        return pages.render(request, "admin_calendar.html", status_code, user=user, current=current, history=history[:30],
                            text=shown, error=error, saved=saved, L=0 if lang == "en" else 1)

    @page.get("/dispatch/admin/calendar")
    async def calendar_view(request: Request, saved: int = 0):
        user, away = admin_of(request)
        return away or await calendar_page(request, user, saved=saved)

    @page.post("/dispatch/admin/calendar")
    async def calendar_save(request: Request, calendar: str = Form(""), note: str = Form("")):
        user, away = admin_of(request)
        if away:
            return away
        try:
            if len(calendar.encode()) > MAX_BODY:
                raise InvalidInput("The calendar is too large.", "Lịch làm việc quá lớn.")
            data = parse_calendar_text(calendar).to_dict()
            saved = await asyncio.to_thread(business_calendar.save, ctx.uow(), user, data, note)
        except DomainError as exc:  # shown on the page, with what the administrator typed kept
            return await calendar_page(request, user, http_status(exc), text=calendar, error={"vi": exc.detail_vi, "en": exc.detail_en})
        return RedirectResponse(f"/dispatch/admin/calendar?saved={saved['revision']}", status_code=303)

    outer.include_router(router)
    outer.include_router(page)
    return outer
