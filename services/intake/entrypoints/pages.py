"""Intake's pages: the citizen's report form and the IOC's step 1 queue."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from pathlib import Path

from fastapi import APIRouter, Form, Query, Request

from paht.runtime import roles, sla
from paht.runtime.http import http_status
from paht.runtime.errors import DomainError
from paht.runtime.text import is_clean
from paht.runtime.web import Pages
from services.intake.domain.taxonomy import Taxonomy
from services.intake.domain.vocabulary import Channel
from services.intake.service_layer import handlers

pages = Pages([Path(__file__).parent / "templates"])


def _number(text: str) -> float | None:
    """A coordinate as typed on a phone: blank means none; a decimal comma (17,4683) is fine too."""
    text = text.strip().replace(",", ".")
    return float(text) if text else None


def _echo(text: str) -> str:
    """What the form shows back after a refusal: the text as typed, minus the characters refused in it."""
    return "".join(ch for ch in text if is_clean(ch))


def build_router(ctx, taxonomy: Taxonomy) -> APIRouter:
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
        values = {"name": name, "phone": phone, "email": email, "title": title, "description": description, "address_text": address_text, "lat": lat, "lon": lon}
        values = {k: _echo(v) for k, v in values.items()} | {"private_result": private_result, "urgent": urgent}
        user = optional_user(request)
        try:
            cmd = handlers.SubmitReport(
                name=name, phone=phone, email=email, title=title, description=description, address_text=address_text,
                lat=_number(lat), lon=_number(lon),
                private_result=private_result, urgent=urgent, channel=Channel.WEB.value,
            )
            report = await asyncio.to_thread(handlers.submit_report, ctx.uow(), taxonomy, cmd)
        except ValueError:
            return pages.render(request, "report_form.html", 422, user=user, values=values, error={"vi": "Vĩ độ/kinh độ phải là số.", "en": "Latitude/longitude must be numbers."})
        except DomainError as exc:
            return pages.render(request, "report_form.html", http_status(exc), user=user, values=values, error={"vi": exc.detail_vi, "en": exc.detail_en})
        return pages.render(request, "report_done.html", 201, user=user, report=report)

    @router.get("/intake/queue")
    async def queue(request: Request, cursor: str | None = Query(default=None, max_length=500)):
        user = optional_user(request)
        away = pages.staff_only(request, user, roles.IOC)
        if away:
            return away
        try:
            page = await asyncio.to_thread(handlers.work_list, ctx.uow(), None, cursor, None)
        except DomainError as exc:  # a cursor that was not ours
            return pages.error(request, http_status(exc), exc.key)
        now = datetime.now(timezone.utc)
        engine = sla.default_engine()  # steps 1 and 2 share the window, on the IOC's 24/7 clock

        def deadline(r):
            due = engine.due(sla.Step.DISPATCH, r.received_at, urgent=bool(r.urgent))
            return due, sla.standing_of(due, now, start=r.received_at)

        return pages.render(request, "queue.html", user=user, page=page, deadline=deadline)

    return router
