"""Intake's pages: the citizen's report form and the IOC's step 1 queue."""
from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from paht.runtime.http import http_status
from paht.runtime.errors import DomainError
from paht.runtime.web import Pages
from services.intake.service_layer import handlers

pages = Pages([Path(__file__).parent / "templates"])


def _number(text: str) -> float | None:
    """A coordinate as typed on a phone: blank means none; a decimal comma (17,4683) is fine too."""
    text = text.strip().replace(",", ".")
    return float(text) if text else None


def build_router(ctx) -> APIRouter:
    optional_user, _current, _require = ctx.auth
    router = APIRouter(include_in_schema=False)

    @router.get("/intake/report")
    async def form(request: Request):
        return pages.render(request, "report_form.html", user=optional_user(request), values={}, error=None)

    @router.post("/intake/report")
    async def submit(
        request: Request,
        name: str = Form(""),
        phone: str = Form(""),
        email: str = Form(""),
        title: str = Form(""),
        description: str = Form(""),
        address_text: str = Form(""),
        lat: str = Form(""),
        lon: str = Form(""),
        private_result: bool = Form(False),
        urgent: bool = Form(False),
    ):
        values = {"name": name, "phone": phone, "email": email, "title": title, "description": description, "address_text": address_text, "lat": lat, "lon": lon,
                  "private_result": private_result, "urgent": urgent}
        user = optional_user(request)
        try:
            cmd = handlers.SubmitReport(
                name=name, phone=phone, email=email, title=title, description=description, address_text=address_text,
                lat=_number(lat), lon=_number(lon),
                private_result=private_result, urgent=urgent, channel="web",
            )
            report = await asyncio.to_thread(handlers.submit_report, ctx.uow(), cmd)
        except ValueError:
            return pages.render(request, "report_form.html", 422, user=user, values=values, error={"vi": "Vĩ độ/kinh độ phải là số.", "en": "Latitude/longitude must be numbers."})
        except DomainError as exc:
            return pages.render(request, "report_form.html", http_status(exc), user=user, values=values, error={"vi": exc.detail_vi, "en": exc.detail_en})
        return pages.render(request, "report_done.html", 201, user=user, report=report)

    @router.get("/intake/queue")
    async def queue(request: Request):
        user = optional_user(request)
        if user is None or not user.has("ioc_operator", "ioc_admin"):
            return RedirectResponse("/auth/login?next=/intake/queue", status_code=303)
        reports = await asyncio.to_thread(handlers.list_reports, ctx.uow(), "submitted", 100)
        return pages.render(request, "queue.html", user=user, reports=reports)

    return router
